"""16x8 C kernels (int16 activations, int8 weights): one-op bundles per kernel with shapes and
params drawn from seeded generators (then all of them side by side under ASan/UBSan), a chain
of the pooling, reduction and data-moving ops under ASan/UBSan, a small CNN and two recurrent
test networks converted by our --quantize int16x8. Each is generated, compiled with -Werror
-pedantic, run on full-range random inputs and compared bit for bit with the reference
interpreter (itself bit-exact with LiteRT's reference kernels); the CNN also directly with
LiteRT's reference kernels."""
from __future__ import annotations

import zlib
from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf

from tests.support import networks
from tests.support.codegen_check import check_bundle, roundtrip
from tests.support.irgraph import append_op
from tests.support.kernel_check import int8_graph, quant, window
from tests.support.oracle import freeze
from tests.support.quant_models import calibration_file, int8_ours
from tests.test_codegen_int8_nn import litert_outputs
from toco_py import api
from toco_py.codegen.emitter import generate
from toco_py.codegen.lowering import CodegenError, variant_of
from toco_py.codegen.verify import run_bundle
from toco_py.ir import Graph, Op, Tensor
from toco_py.passes.propagate_shapes import propagate_shapes
from toco_py.quantize.driver import QuantizeOptions
from toco_py.quantize.schemes import INT16X8
from toco_py.tensor_io import random_inputs
from toco_py.tflite.reader import read_model

v1 = tf.compat.v1
Q015 = quant(1.0 / 32768)  # LOGISTIC's, TANH's and SOFTMAX's output
SANITIZERS = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
rng = np.random.default_rng(16)  # the cases' data, drawn at import


@pytest.fixture(autouse=True)
def _seeded_per_test(request):
    """The data a test draws comes from its own seed, whatever ran before it (-k, -n)."""
    global rng
    rng = np.random.default_rng(zlib.crc32(request.node.name.encode()))


def ints(shape, dtype="int16", lo=None, hi=None) -> np.ndarray:
    info = np.iinfo(dtype)
    return rng.integers(info.min if lo is None else lo, (info.max if hi is None else hi) + 1,
                        shape).astype(dtype)


def i32(values) -> np.ndarray:
    return np.asarray(values, np.int32)


def q_graph(op_type: str, inputs: list, input_quant: list, output_quant: list,
            attrs: dict | None = None, const: set[int] | None = None,
            output_dtype: str = "int16") -> Graph:
    """A one-op quantized graph (kernel_check.int8_graph), through .tflite bytes."""
    return roundtrip(int8_graph(op_type, inputs, input_quant, output_quant, attrs, const, output_dtype))


# ---- convolutions and FULLY_CONNECTED ------------------------------------------------------

def _filter_scales(channels: int, per_channel: bool) -> np.ndarray:
    return (10.0 ** rng.uniform(-2.5, -1.5, channels if per_channel else 1)).astype(np.float32)


def conv_graph(seed: int, depthwise: bool) -> Graph:
    """A CONV_2D or DEPTHWISE_CONV_2D with shapes, window, activation, per-channel or
    per-tensor filter and bias drawn from the seed."""
    r = np.random.default_rng(seed)
    kh, kw = (int(k) for k in r.integers(1, 4, 2))
    sh, sw, dh, dw = (int(k) for k in r.integers(1, 3, 4))
    padding = ["SAME", "VALID"][seed % 2]
    h, w = int(r.integers(kh * dh, 9)), int(r.integers(kw * dw, 9))
    c = int(r.integers(1, 6))
    act = str(r.choice(["NONE", "RELU", "RELU6"]))
    per_channel = bool(r.integers(2))
    attrs = window(padding, (sh, sw), (dh, dw), act)
    if depthwise:
        multiplier = int(r.integers(1, 4))
        channels, w_shape = c * multiplier, (1, kh, kw, c * multiplier)
        attrs["depth_multiplier"] = multiplier
        taps = kh * kw
    else:
        channels = int(r.integers(1, 7))
        w_shape, taps = (channels, kh, kw, c), kh * kw * c
    in_q = quant(float(10.0 ** r.uniform(-4, -2)))
    scales = _filter_scales(channels, per_channel)
    w_q = quant(scales, np.zeros(scales.size, np.int64), 3 if depthwise else 0)
    # A bias of the sums' size, or (seed 3) one far past int32's range, where only int64 holds it.
    bias_bound = 1 << (36 if seed == 3 else 21)
    # Typical sums of full-range inputs and weights, and the bias, stay inside int16's range.
    out_q = quant(float(in_q.scale[0]) * float(np.median(scales)) * max(90 * np.sqrt(taps), bias_bound / 1e4))
    inputs = [ints((int(r.integers(1, 3)), h, w, c)), ints(w_shape, "int8", -127, 127)]
    params = [in_q, w_q]
    # LiteRT's 16x8 CONV_2D needs a bias; DEPTHWISE_CONV_2D goes without one at times.
    if not depthwise or r.integers(2):
        inputs.append(ints((channels,), "int64", -bias_bound, bias_bound))
        params.append(quant(in_q.scale[0] * np.broadcast_to(scales, (channels,)),
                            np.zeros(channels, np.int64)))
    op_type = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
    return q_graph(op_type, inputs, params, [out_q], attrs, const={1, 2})


CONV_SEEDS = {"conv": range(4), "depthwise": range(4, 7)}


def fc_graph(seed: int) -> Graph:
    r = np.random.default_rng(seed)
    units, depth = int(r.integers(1, 20)), int(r.integers(1, 40))
    per_channel = bool(r.integers(2))
    scales = _filter_scales(units, per_channel)
    in_q = quant(float(10.0 ** r.uniform(-4, -2)))
    out_q = quant(float(in_q.scale[0]) * float(np.median(scales)) * 90 * np.sqrt(depth))
    keep = bool(r.integers(2))
    attrs = {"keep_num_dims": keep,
             "fused_activation_function": str(r.choice(["NONE", "RELU", "RELU6"]))}
    inputs = [ints((2, int(r.integers(1, 4)), depth)), ints((units, depth), "int8", -127, 127)]
    params = [in_q, quant(scales, np.zeros(scales.size, np.int64))]
    if r.integers(2):
        inputs.append(ints((units,), "int64", -(1 << 21), 1 << 21))
        params.append(quant(in_q.scale[0] * np.broadcast_to(scales, (units,)), np.zeros(units, np.int64)))
    return q_graph("FULLY_CONNECTED", inputs, params, [out_q], attrs, const={1, 2})


FC_SEEDS = range(3)


def fc_ties_graph() -> Graph:
    """Power-of-two scales: each unit's scale is exactly 1/16, so a sixteenth of the sums
    end in a half, which must round away from zero (weights within +-7 keep the outputs
    in range)."""
    units, depth = 12, 8
    return q_graph("FULLY_CONNECTED", [ints((4, 3, depth)), ints((units, depth), "int8", -7, 7)],
                   [quant(2.0 ** -10), quant(2.0 ** -4)], [quant(2.0 ** -10)], {}, const={1})


@pytest.mark.parametrize("seed", CONV_SEEDS["conv"])
def test_conv2d(seed, tmp_path):
    check_bundle(conv_graph(seed, depthwise=False), tmp_path, more_seeds=[1])


@pytest.mark.parametrize("seed", CONV_SEEDS["depthwise"])
def test_depthwise_conv2d(seed, tmp_path):
    check_bundle(conv_graph(seed, depthwise=True), tmp_path, more_seeds=[1])


@pytest.mark.parametrize("seed", FC_SEEDS)
def test_fully_connected(seed, tmp_path):
    check_bundle(fc_graph(seed), tmp_path, more_seeds=[1])


def test_fully_connected_rounds_ties_away_from_zero(tmp_path):
    check_bundle(fc_ties_graph(), tmp_path, more_seeds=[1])


# ---- ADD, SUB, MUL ------------------------------------------------------------------------

BINARY_CASES = {
    # id: (op, shape a, shape b, scales a, b, out, attrs)
    "add_general_broadcast": ("ADD", (2, 3, 4), (3, 1), (0.001, 0.0023, 0.003), {"fused_activation_function": "RELU"}),
    "add_general_no_pot_option": ("ADD", (5, 6), (5, 6), (2.0 ** -10, 2.0 ** -11, 2.0 ** -10),
                                  {"pot_scale_int16": False}),
    "add_pot": ("ADD", (4, 7), (4, 7), (2.0 ** -12, 2.0 ** -10, 2.0 ** -10), {}),
    "sub_general": ("SUB", (3, 5), (3, 5), (0.0007, 0.0011, 0.0013), {}),
    "sub_pot_broadcast": ("SUB", (2, 1, 6), (3, 6), (2.0 ** -9, 2.0 ** -9, 2.0 ** -9), {}),
    "sub_pot_shifts_far": ("SUB", (3, 4), (3, 4), (2.0 ** -8, 2.0 ** -26, 2.0 ** -8), {}),
    "mul_broadcast_relu": ("MUL", (2, 3, 4), (4,), (0.002, 0.003, 0.2), {"fused_activation_function": "RELU"}),
    # Inputs within +-100 (small_feeds), whose products a multiplier of 2 keeps in range.
    "mul_multiplier_above_one": ("MUL", (3, 4), (3, 4), (0.01, 0.02, 0.0001), {}),
}


def binary_graph(case: str) -> Graph:
    op_type, a_shape, b_shape, scales, attrs = BINARY_CASES[case]
    qa, qb, qo = (quant(s) for s in scales)
    return q_graph(op_type, [ints(a_shape), ints(b_shape)], [qa, qb], [qo],
                   {"fused_activation_function": "NONE", **attrs})


@pytest.mark.parametrize("case", sorted(BINARY_CASES))
def test_binary(case, tmp_path):
    graph = binary_graph(case)
    if case == "mul_multiplier_above_one":
        feeds = {name: ints(graph.tensors[name].shape, lo=-100, hi=100) for name in graph.inputs}
        check_bundle(graph, tmp_path, feeds=feeds)
    else:
        check_bundle(graph, tmp_path, more_seeds=[1])


def mul_to_int8_graph() -> Graph:
    """int16 x int16 -> int8 MUL (its own kernel: a Q0.15 product, the scales unused). Its
    rounding steps show on a few products in a thousand: 4096 of them."""
    return q_graph("MUL", [ints((64, 64)), ints((64, 64))], [quant(0.001), quant(0.002)],
                   [quant(0.01, 5)], {"fused_activation_function": "NONE"}, output_dtype="int8")


def test_mul_to_int8(tmp_path):
    check_bundle(mul_to_int8_graph(), tmp_path, more_seeds=[1])


# ---- activations and SOFTMAX -------------------------------------------------------------------

UNARY_CASES = {
    # id: (op, input scale, output params, attrs)
    "relu_rescales": ("RELU", 0.001, quant(0.0007), {}),
    "relu6": ("RELU6", 0.0004, quant(0.0003), {}),
    "leaky_relu": ("LEAKY_RELU", 0.001, quant(0.0008), {"alpha": 0.3}),
    "logistic": ("LOGISTIC", 0.0007, Q015, {}),
    "logistic_pot_input": ("LOGISTIC", 2.0 ** -12, Q015, {}),
    "tanh": ("TANH", 0.00031, Q015, {}),
    "tanh_pot_input": ("TANH", 2.0 ** -11, Q015, {}),
    "softmax_beta": ("SOFTMAX", 0.0006, Q015, {"beta": 0.7}),
    "softmax_short_rows": ("SOFTMAX", 0.0002, Q015, {}),
}


def unary_graph(case: str) -> Graph:
    op_type, scale, out_q, attrs = UNARY_CASES[case]
    # Many rows: each softmax row normalises its own sum.
    shape = {"softmax_beta": (60, 37), "softmax_short_rows": (2, 50, 3)}.get(case, (4, 300))
    return q_graph(op_type, [ints(shape)], [quant(scale)], [out_q], attrs)


@pytest.mark.parametrize("case", sorted(UNARY_CASES))
def test_activation(case, tmp_path):
    check_bundle(unary_graph(case), tmp_path, more_seeds=[1])


# ---- QUANTIZE and DEQUANTIZE -----------------------------------------------------------------

CONVERSIONS = {
    "int16_to_int8": ("QUANTIZE", "int16", "int8", quant(0.001), quant(0.3, -20)),
    "int8_to_int16": ("QUANTIZE", "int8", "int16", quant(0.05, -3), quant(0.001)),
    "int16_to_int16": ("QUANTIZE", "int16", "int16", quant(0.001), quant(0.0013)),
    "float_to_int16": ("QUANTIZE", "float32", "int16", None, quant(0.0005)),
    "int16_to_float": ("DEQUANTIZE", "int16", "float32", quant(0.0005), None),
}


def conversion_graph(case: str) -> Graph:
    op_type, src, dst, in_q, out_q = CONVERSIONS[case]
    x = rng.normal(0, 10, (3, 11)).astype(np.float32) if src == "float32" else ints((3, 11), src)
    g = int8_graph(op_type, [x], [in_q], [out_q], {"output_type": dst}, output_dtype=dst)
    g.tensors["out0"].dtype = dst
    return roundtrip(g)


@pytest.mark.parametrize("case", sorted(CONVERSIONS))
def test_conversion(case, tmp_path):
    check_bundle(conversion_graph(case), tmp_path)


# ---- pooling, reductions and the data-moving ops: their type-generic kernels, in a chain ----

Z = quant(0.001)  # every activation of the chain: the ops that demand equal params accept it


def chain_graph() -> Graph:
    """Every 16x8 pooling, reduction and data-moving op codegen lowers, chained."""
    g = Graph()
    g.add_tensor(Tensor("x", (2, 6, 7, 4), "int16", quant=Z))
    g.inputs = ["x"]

    def const(value, q=None) -> str:
        name = g.add_const("c", np.asarray(value))
        g.tensors[name].quant = q
        return name

    def op(op_type, inputs, attrs=None, outputs=1):
        return append_op(g, op_type, inputs, attrs, outputs, const)

    pool = {"padding": "SAME", "filter_height": 3, "filter_width": 2, "stride_h": 2, "stride_w": 2,
            "fused_activation_function": "NONE"}
    (mx,) = op("MAX_POOL_2D", ["x"], pool)
    (av,) = op("AVERAGE_POOL_2D", ["x"], {**pool, "fused_activation_function": "RELU"})
    (cat,) = op("CONCATENATION", [mx, av], {"axis": 3})
    (pad,) = op("PAD", [cat, i32([[0, 0], [1, 0], [0, 2], [0, 0]])])
    (pad2,) = op("PADV2", [pad, i32([[0, 0], [0, 1], [1, 0], [0, 0]]), const(np.int16(77), Z)])
    (mirror,) = op("MIRROR_PAD", [pad2, i32([[0, 0], [1, 1], [0, 1], [0, 0]])], {"mode": "REFLECT"})
    (tr,) = op("TRANSPOSE", [mirror, i32([0, 2, 1, 3])])
    (sl,) = op("STRIDED_SLICE", [tr, i32([0, 1, 0, 0]), i32([2, 6, 5, 8]), i32([1, 2, 1, 1])], {})
    (slc,) = op("SLICE", [sl, i32([0, 0, 1, 0]), i32([2, -1, 3, 6])])
    (rs,) = op("RESHAPE", [slc, i32([2, -1, 6])])
    (ex,) = op("EXPAND_DIMS", [rs, i32(1)])
    (sq,) = op("SQUEEZE", [ex], {"squeeze_dims": [1]})
    parts = op("SPLIT", [i32(2), sq], {"num_splits": 2}, outputs=2)
    parts_v = op("SPLIT_V", [parts[0], i32([1, 2]), i32(2)], {"num_splits": 2}, outputs=2)
    rows = op("UNPACK", [parts[1]], {"axis": 0, "num": 2}, outputs=2)
    (packed,) = op("PACK", rows[::-1], {"axis": 2, "values_count": 2})
    (tile,) = op("TILE", [parts_v[0], i32([1, 1, 2])])
    (bt,) = op("BROADCAST_TO", [tile, i32([3, 2, 9, 2])])
    (g1,) = op("GATHER", [packed, i32([1, 0, 1])], {"axis": 1})
    (gnd,) = op("GATHER_ND", [g1, i32([[0, 2], [1, 0]])])
    (rev,) = op("REVERSE_V2", [gnd, i32([-1])])
    (sel,) = op("SELECT", [rng.integers(0, 2, (9, 3, 2)).astype(bool), g1, packed])
    (sel2,) = op("SELECT_V2", [rng.integers(0, 2, (3, 1)).astype(bool), sel, packed])
    (upd,) = op("DYNAMIC_UPDATE_SLICE", [sel2, const(ints((2, 1, 2)), Z), i32([8, 1, 0])])
    (near,) = op("RESIZE_NEAREST_NEIGHBOR", [cat, i32([5, 6])], {"half_pixel_centers": True})
    (fill,) = op("FILL", [i32([2, 3]), const(np.int16(-1234), Z)])
    (mean,) = op("MEAN", [bt, i32([1])], {"keep_dims": True})
    (total,) = op("SUM", [parts_v[1], i32([0, 2])], {"keep_dims": False})
    (hi,) = op("REDUCE_MAX", [g1, i32([2])], {"keep_dims": False})
    (lo,) = op("REDUCE_MIN", [g1, i32([0, 1])], {"keep_dims": True})
    g.outputs = [mean, total, hi, lo, rev, upd, near, fill]
    propagate_shapes(g)
    for o in g.ops:
        for name in o.outputs:
            g.tensors[name].dtype, g.tensors[name].quant = "int16", Z
    return roundtrip(g)


def test_pooling_reductions_and_data_movement_under_sanitizers(tmp_path):
    graph = chain_graph()
    assert {variant_of(graph, op) for op in graph.ops} == {"int16"}
    check_bundle(graph, tmp_path, name="chain", opt="-O1 -g", more_seeds=[1], extra_cflags=SANITIZERS)


def side_by_side(graphs: list[Graph]) -> Graph:
    """The graphs' ops in one graph, each graph's tensors prefixed c<k>_."""
    g = Graph()
    for k, part in enumerate(graphs):
        def rename(name: str, k=k) -> str:
            return f"c{k}_{name}" if name else name
        for t in part.tensors.values():
            g.add_tensor(replace(t, name=rename(t.name)))
        for op in part.ops:
            g.add_op(Op(op.type, [rename(n) for n in op.inputs], [rename(n) for n in op.outputs],
                        dict(op.attrs), rename(op.name)))
        g.inputs += [rename(n) for n in part.inputs]
        g.outputs += [rename(n) for n in part.outputs]
    return roundtrip(g)


def test_kernels_run_clean_under_sanitizers(tmp_path):
    """Every _s16 kernel, with the cases of the one-op tests side by side in one bundle."""
    graph = side_by_side(kernel_graphs())
    check_bundle(graph, tmp_path, name="kernels", opt="-O1 -g", extra_cflags=SANITIZERS)


def test_refuses_what_litert_refuses():
    graph = q_graph("RELU", [ints((3, 4))], [quant(0.01, 3)], [quant(0.01, 3)])
    with pytest.raises(CodegenError, match=r"#0 RELU: .*zero point 0"):
        generate(graph, "m")
    graph = q_graph("ADD", [ints((3, 4)), ints((4,))], [quant(2.0 ** -9), quant(2.0 ** -10)],
                    [quant(2.0 ** -9)])
    with pytest.raises(CodegenError, match="cannot broadcast"):
        generate(graph, "m")


def kernel_graphs() -> list[Graph]:
    """The one-op graphs of the _s16 kernels' tests."""
    return ([conv_graph(s, depthwise=False) for s in CONV_SEEDS["conv"]]
            + [conv_graph(s, depthwise=True) for s in CONV_SEEDS["depthwise"]]
            + [fc_graph(s) for s in FC_SEEDS] + [fc_ties_graph()]
            + [binary_graph(case) for case in sorted(BINARY_CASES)] + [mul_to_int8_graph()]
            + [unary_graph(case) for case in sorted(UNARY_CASES)])


def one_op_graphs() -> list[Graph]:
    """The graphs this module's bundle tests bundle (test_codegen_tables lowers them)."""
    return kernel_graphs() + [conversion_graph(case) for case in sorted(CONVERSIONS)] + [chain_graph()]


# ---- a 16x8 network converted by --quantize int16x8 ------------------------------------------

def small_cnn() -> bytes:
    """CONV_2D, DEPTHWISE_CONV_2D, both pools, ADD, MUL, LOGISTIC, TANH, FULLY_CONNECTED and
    SOFTMAX, as a frozen GraphDef."""
    r = np.random.default_rng(3)

    def const(*shape, sd=0.4):
        return tf.constant(r.normal(0, sd, shape).astype(np.float32))

    def build():
        x = v1.placeholder(tf.float32, [1, 12, 12, 3], name="x")
        h = tf.nn.relu(tf.nn.conv2d(x, const(3, 3, 3, 8), 1, "SAME") + const(8, sd=0.1))
        d = tf.nn.relu6(tf.nn.depthwise_conv2d(h, const(3, 3, 8, 1), [1, 2, 2, 1], "SAME")
                        + const(8, sd=0.1))
        pooled = (tf.nn.max_pool2d(d, 2, 2, "SAME") + tf.nn.avg_pool2d(d, 2, 2, "SAME"))
        gated = pooled * tf.sigmoid(pooled - 1.0)
        flat = tf.reshape(tf.tanh(gated), [1, -1])
        logits = tf.matmul(flat, const(3 * 3 * 8, 10, sd=0.2)) + const(10, sd=0.1)
        return {"y": tf.identity(tf.nn.softmax(logits), name="y")}
    return freeze(build)[0]


def test_int16x8_network_bundle(tmp_path):
    calibration = tmp_path / "calibration.npy"
    np.save(calibration, np.random.default_rng(1).normal(0, 1, (16, 1, 12, 12, 3)).astype(np.float32))
    options = QuantizeOptions("int16x8", calibration_data=str(calibration))
    # An int16 output: the bundle's is compared with the interpreter's exactly (a float one
    # would be compared within the tolerance policy).
    options.int8.scheme, options.int8.inference_output_type = INT16X8, "int16"
    model = api.convert_bytes(small_cnn(), input_arrays=["x"], output_arrays=["y"],
                              quantize=options).model
    graph = read_model(model).main
    assert graph.tensors[graph.outputs[0]].dtype == "int16"
    computed = {op.type for op in graph.ops if variant_of(graph, op) == "int16"}
    assert computed >= {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "ADD", "MUL",
                        "LOGISTIC", "TANH", "FULLY_CONNECTED", "SOFTMAX"}, computed
    check_bundle(graph, tmp_path, name="cnn", opt="-O2", more_seeds=[1])
    # And the bundle equals LiteRT's reference kernels directly, bit for bit.
    feeds = random_inputs(graph, 0)
    ours = run_bundle(str(tmp_path / "cnn" / "cnn_run"), graph, feeds)
    for output, want in litert_outputs(model, graph, feeds).items():
        np.testing.assert_array_equal(ours[output], want, err_msg=output)


# Test networks (tests/support/networks.py) with the 16x8 ops a recurrent model adds (SPLIT,
# UNPACK, GATHER, SUB, their LOGISTIC / TANH gates), converted by --quantize int16x8.
NETWORKS = ("lstm_language_model", "gru_static_rnn")


@pytest.mark.parametrize("name", NETWORKS)
def test_int16x8_test_network_bundle(name, tmp_path):
    net = networks.SMALL_NETWORKS[name]()
    result = int8_ours(net, calibration_file(net, tmp_path), mode="int16x8", inference_output_type="int16")
    graph = read_model(result.model).main
    assert {graph.tensors[name].dtype for name in graph.outputs} == {"int16"}
    check_bundle(graph, tmp_path, name=name, opt="-O2", more_seeds=[1])
