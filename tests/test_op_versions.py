"""Operator versions: ours against TensorFlow's converter on the test networks (float,
dynamic-range and float16 modes), and the rules one by one on tiny IR graphs."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import networks
import numpy as np
import pytest

from toco_py.errors import ConversionError
from irgraph import build
from oracle import freeze, litert

from toco_py import api
from toco_py.ir import Graph, Op, QuantParams, const_tensor
from toco_py.quantize.driver import QuantizeOptions
from toco_py.tflite.reader import read_model
from toco_py.tflite.versions import op_version
from toco_py.tflite.writer import model_bytes

tf = networks.tf
v1 = tf.compat.v1

# ---- against TensorFlow's converter ---------------------------------------------------------

# Options the version rules read; other options (strides, axes, ...) never change a version.
VERSION_ATTRS = ("dilation_w_factor", "dilation_h_factor", "keep_num_dims", "asymmetric_quantize_inputs",
                 "half_pixel_centers", "align_corners", "batch_dims", "ellipsis_mask", "new_axis_mask",
                 "offset")
CALIBRATION_SEEDS = range(8)


def _samples(net: networks.Network) -> list[dict[str, np.ndarray]]:
    return [net.feeds(seed) for seed in CALIBRATION_SEEDS]


def _tf_dynamic(conv, net) -> None:
    conv.optimizations = [tf.lite.Optimize.DEFAULT]


def _tf_float16(conv, net) -> None:
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]


def _tf_int8(conv, net) -> None:
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([s[n] for n in net.inputs] for s in _samples(net))


def _calibration_npz(net: networks.Network, folder) -> str:
    """The calibration samples of _tf_int8 as an .npz, samples along axis 0."""
    path = os.path.join(folder, f"{net.name}_calibration.npz")
    np.savez(path, **{n: np.stack([s[n] for s in _samples(net)]) for n in net.inputs})
    return path


@dataclass(frozen=True)
class Mode:
    tf_setup: Callable | None  # (converter, net) -> None
    ours: Callable  # (net, folder) -> QuantizeOptions | None


MODES = {
    "float": Mode(None, lambda net, folder: None),
    "dynamic": Mode(_tf_dynamic, lambda net, folder: QuantizeOptions("dynamic")),
    "float16": Mode(_tf_float16, lambda net, folder: QuantizeOptions("float16")),
    "int8": Mode(_tf_int8, lambda net, folder: QuantizeOptions("int8", _calibration_npz(net, folder))),
}


def feature_zoo() -> networks.Network:
    """Ops whose versions depend on options and ranks: dilation, half-pixel and align-corners
    resizing, 5-D transpose/slice/pad, broadcasting in 5-D, gather with batch_dims, ..."""
    rng = np.random.default_rng(0)

    def weights(*shape):
        return tf.constant(rng.normal(0, 0.3, shape).astype(np.float32))

    def build():
        x = v1.placeholder(tf.float32, [1, 8, 8, 4], name="x")
        x5 = tf.reshape(x, [1, 2, 4, 8, 4])
        x3 = tf.reshape(x, [8, 8, 4])
        tc = tf.nn.conv2d_transpose(x, weights(3, 3, 6, 4), [1, 16, 16, 6], 2, "SAME")
        return {
            "dilated": tf.raw_ops.DepthwiseConv2dNative(input=x, filter=weights(3, 3, 4, 1), strides=[1, 1, 1, 1],
                                                        padding="SAME", dilations=[1, 2, 2, 1]),
            "bilinear": tf.image.resize(x, [16, 16]),
            "nearest": v1.image.resize_nearest_neighbor(x, [16, 16], align_corners=True),
            "transpose5": tf.transpose(x5, [0, 2, 1, 3, 4]),
            "slice5": x5[:, :, 1:, ::2, :] - tf.reduce_mean(x5[:, :, 1:], axis=[1, 3], keepdims=True),
            "max5": tf.maximum(x5, tf.reshape(x5[:, :1], [1, 1, 4, 8, 4])),
            "pad5": tf.pad(x5, [[0, 0], [1, 1], [0, 0], [0, 0], [0, 0]]),
            "gather": tf.gather(x3, tf.constant([[1, 2], [3, 0]] * 4, tf.int32), axis=1, batch_dims=1),
            "argmax": tf.argmax(x, axis=3),
            "transpose_conv": tf.nn.relu(tf.nn.bias_add(tc, weights(6))),
            "matmul": tf.matmul(x3, tf.reshape(x, [8, 4, 8])),
            "squeeze": tf.squeeze(tf.nn.l2_normalize(tf.reduce_max(x, axis=[1, 2], keepdims=True), axis=-1), [1, 2]),
            "pools": tf.nn.leaky_relu(tf.nn.avg_pool2d(x, 2, 2, "VALID"), 0.1) + tf.nn.max_pool2d(x, 2, 2, "VALID"),
            "unary": tf.nn.log_softmax(tf.exp(tf.nn.sigmoid(x)) + tf.sqrt(tf.abs(x)) + tf.math.rsqrt(tf.abs(x) + 1.0)),
            "depth_to_space": tf.nn.depth_to_space(x, 2),
            "space_to_depth": tf.nn.space_to_depth(x, 2),
        }
    pb, outputs = freeze(build)
    return networks.Network("feature_zoo", pb, {"x": ((1, 8, 8, 4), "float32")}, list(outputs.values()))


NETWORKS = {**networks.SMALL_NETWORKS, "MobileNetV2": lambda: networks.keras_application("MobileNetV2", 96),
            "feature_zoo": feature_zoo}
# Op types whose versions must be compared (not skipped for a difference in feature use).
MUST_COMPARE = {
    ("MobileNetV2", "dynamic"): {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MEAN", "SOFTMAX"},
    ("MobileNetV2", "float16"): {"DEQUANTIZE", "CONV_2D", "FULLY_CONNECTED"},
    ("MobileNetV2", "float"): {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"},
    ("dropout_mlp", "dynamic"): {"FULLY_CONNECTED"},
    ("lstm_language_model", "dynamic"): {"FULLY_CONNECTED", "GATHER", "SPLIT", "LOGISTIC", "TANH"},
    ("gru_static_rnn", "float"): {"FULLY_CONNECTED", "UNPACK", "SUB", "CONCATENATION"},
    ("fused_patterns", "float"): {"HARD_SWISH", "L2_NORMALIZATION", "RELU", "RESHAPE"},
    # TRANSPOSE_CONV is not compared: TF's converter fuses the bias and the relu into it.
    ("feature_zoo", "float"): {"DEPTHWISE_CONV_2D", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "TRANSPOSE",
                               "STRIDED_SLICE", "SUB", "MAXIMUM", "PAD", "GATHER", "ARG_MAX", "BATCH_MATMUL",
                               "AVERAGE_POOL_2D", "MAX_POOL_2D", "LEAKY_RELU", "LOG_SOFTMAX", "SQRT", "RSQRT",
                               "DEPTH_TO_SPACE", "SPACE_TO_DEPTH"},
    ("feature_zoo", "float16"): {"DEQUANTIZE", "DEPTHWISE_CONV_2D", "GATHER", "PAD"},
}


def _tensor_features(graph: Graph, name: str) -> tuple:
    if not name:
        return ("absent",)
    t = graph.tensors[name]
    per_channel = t.quant is not None and np.size(t.quant.scale) > 1
    rank = len(t.shape) if t.shape else 0
    return t.dtype, t.quant is not None, per_channel, max(rank, 4)  # only ranks above 4 matter


def op_features(graph: Graph, op) -> tuple:
    """What an op uses that a version can depend on: its tensors' types, quantization and
    ranks above 4, broadcasting between inputs 0 and 1 in more than 4-D, and the options
    the version rules read."""
    shapes = [tuple(graph.tensors[n].shape or ()) if n else () for n in op.inputs]
    broadcast = len(shapes) >= 2 and shapes[0] != shapes[1] and max(map(len, shapes)) > 4
    attrs = tuple(op.attrs.get(a) for a in VERSION_ATTRS)
    activation = op.attrs.get("fused_activation_function") if op.type == "TRANSPOSE_CONV" else None
    return (tuple(_tensor_features(graph, n) for n in op.inputs),
            tuple(_tensor_features(graph, n) for n in op.outputs), broadcast, attrs, activation)


def versions_by_type(model: bytes) -> dict[str, tuple[int, set]]:
    """Op type -> (highest version, set of op features) in the main subgraph. TensorFlow's
    converter gives every op of a type one OperatorCode with the highest version any of them
    needs, so only the highest version is comparable."""
    m = read_model(model)
    found: dict[str, tuple[int, set]] = {}
    for op, version in zip(m.main.ops, m.op_versions[0]):
        if op.type == "CUSTOM":
            continue
        top, features = found.get(op.type, (0, set()))
        features.add(op_features(m.main, op))
        found[op.type] = (max(top, version), features)
    return found


def compare_versions(ours: bytes, theirs: bytes) -> tuple[dict, dict, list]:
    """(matched {type: version}, mismatched {type: (ours, theirs)}, skipped types): op types in
    both models are compared when their ops use the same features."""
    a, b = versions_by_type(ours), versions_by_type(theirs)
    matched, mismatched, skipped = {}, {}, []
    for op_type in sorted(set(a) & set(b)):
        (va, fa), (vb, fb) = a[op_type], b[op_type]
        if fa != fb:
            skipped.append(op_type)
        elif va == vb:
            matched[op_type] = va
        else:
            mismatched[op_type] = (va, vb)
    return matched, mismatched, skipped


def tf_model(net: networks.Network, mode: Mode, folder) -> bytes:
    pb_path = os.path.join(folder, f"{net.name}.pb")
    with open(pb_path, "wb") as f:
        f.write(net.pb)
    conv = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(pb_path, list(net.inputs), net.outputs)
    if mode.tf_setup is not None:
        mode.tf_setup(conv, net)
    return conv.convert()


def our_model(net: networks.Network, mode: Mode, folder) -> bytes:
    return api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs,
                             quantize=mode.ours(net, folder)).model


@pytest.fixture(scope="module")
def built():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = NETWORKS[name]()
        return cache[name]
    return get


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("name", list(NETWORKS))
def test_versions_match_tensorflow(built, tmp_path, name, mode):
    net = built(name)
    if (name, mode) == ("feature_zoo", "int8"):
        # Ops without int8 kernels are named, all at once, rather than half-quantized.
        with pytest.raises(ConversionError, match=r"no int8 kernel for ABS \(Abs\); ARG_MAX"):
            our_model(net, MODES[mode], str(tmp_path))
        return
    ours = our_model(net, MODES[mode], str(tmp_path))
    matched, mismatched, skipped = compare_versions(ours, tf_model(net, MODES[mode], str(tmp_path)))
    assert not mismatched, f"{name} {mode}: (ours, TF's) versions differ: {mismatched}"
    assert matched, f"{name} {mode}: no op type compared (skipped {skipped})"
    missing = MUST_COMPARE.get((name, mode), set()) - set(matched)
    assert not missing, f"{name} {mode}: not compared: {missing} (matched {matched}, skipped {skipped})"
    litert(ours, delegates=False)  # LiteRT has a kernel for every (op, version) we wrote


def test_compare_versions_uses_the_highest_version_and_skips_other_features():
    g = build({"x": (1, 4)}, {"w": np.ones((3, 4), np.float32), "v": np.ones((3, 3), np.float32)},
              [("FULLY_CONNECTED", ["x", "w"], ["h"]), ("FULLY_CONNECTED", ["h", "v", ""], ["y"])], ["y"])
    two = model_bytes(g)
    assert versions_by_type(two)["FULLY_CONNECTED"][0] == 6
    g.ops[0].inputs.append("")
    three = model_bytes(g)
    assert compare_versions(three, three) == ({"FULLY_CONNECTED": 1}, {}, [])
    assert compare_versions(two, three) == ({}, {}, ["FULLY_CONNECTED"])


# ---- the rules on tiny graphs ---------------------------------------------------------------

def quantize(g: Graph, name: str, dtype: str, scales=(0.5,), axis: int = 0) -> None:
    """Retypes a tensor (constants get their data cast) with the given scales."""
    t = g.tensors[name]
    t.dtype = dtype
    if t.data is not None:
        t.data = np.zeros(t.data.shape, dtype)
    scale = np.asarray(scales, np.float32)
    t.quant = None if scales is None else QuantParams(scale, np.zeros(scale.shape, np.int64), axis)


def retype(g: Graph, dtype: str, *names: str, scales=(0.5,)) -> Graph:
    for name in names:
        quantize(g, name, dtype, scales)
    return g


def version(g: Graph, index: int = -1) -> int:
    return op_version(g, g.ops[index])


def conv_graph(op: str = "CONV_2D", out_channels: int = 4, in_channels: int = 2, **attrs) -> Graph:
    shape = (out_channels, 3, 3, in_channels) if op == "CONV_2D" else (1, 3, 3, out_channels)
    attrs = {"padding": "SAME", "stride_w": 1, "stride_h": 1, **attrs}
    if op == "DEPTHWISE_CONV_2D":
        attrs.setdefault("depth_multiplier", out_channels // in_channels)
    return build({"x": (1, 6, 6, in_channels)},
                 {"w": np.ones(shape, np.float32), "b": np.zeros(out_channels, np.float32)},
                 [(op, ["x", "w", "b"], ["y"], attrs)], ["y"])


def fc_graph(units: int = 3, bias: bool | None = True, **attrs) -> Graph:
    ins = ["x", "w"] + (["b"] if bias else [""] if bias is False else [])
    return build({"x": (2, 4)}, {"w": np.ones((units, 4), np.float32), "b": np.zeros(units, np.float32)},
                 [("FULLY_CONNECTED", ins, ["y"], attrs)], ["y"])


def test_conv_versions():
    assert version(conv_graph()) == 1
    assert version(conv_graph(dilation_w_factor=2, dilation_h_factor=2)) == 1  # no dilation rule
    assert version(retype(conv_graph(), "int8", "w", scales=[0.1] * 4)) == 5  # hybrid per-channel
    assert version(retype(conv_graph(), "int8", "w")) == 2  # hybrid per-tensor
    assert version(retype(conv_graph(out_channels=1), "int8", "w")) == 5  # one filter: "per channel"
    assert version(retype(conv_graph(), "int8", "x", "w", "y")) == 3
    assert version(retype(conv_graph(), "int8", "x", "y", scales=(0.1,))) == 1  # float weights
    grouped = conv_graph(in_channels=4)
    grouped.tensors["w"] = const_tensor("w", np.ones((4, 3, 3, 2), np.float32))  # 2 groups of 2 channels
    assert version(grouped) == 6


def test_depthwise_versions():
    assert version(conv_graph("DEPTHWISE_CONV_2D")) == 1
    assert version(conv_graph("DEPTHWISE_CONV_2D", dilation_h_factor=2)) == 2
    assert version(retype(conv_graph("DEPTHWISE_CONV_2D"), "int8", "w", scales=[0.1] * 4)) == 6
    assert version(retype(conv_graph("DEPTHWISE_CONV_2D"), "int8", "w")) == 4
    assert version(retype(conv_graph("DEPTHWISE_CONV_2D", dilation_w_factor=2), "int8", "x", "w", "y")) == 3


def test_fully_connected_versions():
    assert version(fc_graph()) == 1
    assert version(fc_graph(bias=None)) == 6  # two inputs
    assert version(fc_graph(bias=False)) == 1  # an absent bias is still an input, as in TF
    assert version(fc_graph(keep_num_dims=True)) == 5
    assert version(fc_graph(bias=None, keep_num_dims=True)) == 6
    assert version(retype(fc_graph(), "int8", "w", scales=[0.1] * 3)) == 12
    assert version(retype(fc_graph(units=1), "int8", "w")) == 12  # one unit: "per channel"
    assert version(retype(fc_graph(asymmetric_quantize_inputs=True), "int8", "w")) == 9
    assert version(retype(fc_graph(), "int8", "w")) == 3
    assert version(retype(fc_graph(), "int8", "x", "w", "y")) == 4
    assert version(retype(fc_graph(), "int16", "x", "w", "y")) == 7


def test_transpose_conv_versions():
    def graph(bias: bool = False, **attrs):
        attrs = {"padding": "SAME", "stride_w": 2, "stride_h": 2, **attrs}
        ins = ["shape", "w", "x"] + (["b"] if bias else [])
        return build({"x": (1, 3, 3, 2)},
                     {"shape": np.array([1, 6, 6, 4], np.int32), "w": np.ones((4, 3, 3, 2), np.float32),
                      "b": np.zeros(4, np.float32)},
                     [("TRANSPOSE_CONV", ins, ["y"], attrs)], ["y"])
    assert version(graph()) == 1
    assert version(graph(bias=True)) == 3
    assert version(graph(fused_activation_function="RELU")) == 4
    assert version(retype(graph(), "int8", "x", "w", "y")) == 2


def test_binary_versions():
    def graph(op, a=(1, 2, 3, 4, 5), b=(1, 1, 3, 4, 5)):
        return build({"a": a, "b": b}, {}, [(op, ["a", "b"], ["y"])], ["y"])
    assert [version(graph(op)) for op in ("SUB", "DIV", "MAXIMUM", "MINIMUM", "ADD", "MUL")] == [3, 2, 3, 3, 1, 1]
    assert [version(graph(op, b=(1, 2, 3, 4, 5))) for op in ("SUB", "DIV", "MAXIMUM")] == [1, 1, 1]
    assert [version(graph(op, (2, 3, 4, 5), (1, 3, 4, 5))) for op in ("SUB", "DIV", "MAXIMUM")] == [1, 1, 1]
    assert version(retype(graph("ADD", (2, 3), (2, 3)), "int8", "a", "b", "y")) == 2
    assert version(retype(graph("ADD", (2, 3), (2, 3)), "int16", "a", "b", "y", scales=None)) == 5
    assert version(retype(graph("ADD", (2, 3), (2, 3)), "int16", "a", "b", "y")) == 1  # pot_scale_int16
    assert version(retype(graph("ADD", (2, 3), (2, 3)), "int64", "a", "b", "y", scales=None)) == 4
    assert version(retype(graph("SUB", (2, 3), (2, 3)), "int8", "a", "b", "y")) == 2
    assert version(retype(graph("MAXIMUM", (2, 3), (2, 3)), "int16", "a", "b", "y")) == 4
    mul = retype(graph("MUL", (2, 3), (2, 3)), "int8", "a", "b", "y")
    assert version(mul) == 2
    mul.tensors["y"].quant.scale = np.array([0.25], np.float32)  # 0.5 * 0.5 / 0.25 >= 1
    assert version(mul) == 3
    assert version(retype(graph("MUL", (2, 3), (2, 3)), "int16", "a", "b", "y")) == 4
    assert version(retype(graph("MUL", (2, 3), (2, 3)), "int16", "a", "b", "y", scales=None)) == 7
    assert version(retype(graph("MUL", (2, 3), (2, 3)), "int64", "a", "b", "y", scales=None)) == 5


def test_unary_and_reduction_versions():
    cases = {  # op: (attrs, {dtype: version})
        "SOFTMAX": ({"beta": 1.0}, {"float32": 1, "int8": 2, "int16": 3}),
        "LOGISTIC": ({}, {"float32": 1, "int8": 2, "int16": 3}),
        "TANH": ({}, {"float32": 1, "int8": 2, "int16": 3}),
        "RELU": ({}, {"float32": 1, "int8": 2, "uint8": 2, "int16": 3}),
        "RELU6": ({}, {"float32": 1, "int8": 2, "int16": 3}),
        "RELU_N1_TO_1": ({}, {"float32": 1, "int8": 1}),
        "LEAKY_RELU": ({"alpha": 0.2}, {"float32": 1, "int8": 1, "int16": 2}),
        "HARD_SWISH": ({}, {"float32": 1, "int8": 1}),
        "GELU": ({}, {"float32": 1, "int8": 2, "uint8": 2}),
        "EXP": ({}, {"float32": 1, "int8": 2, "int16": 2}),
        "SQRT": ({}, {"float32": 1, "int8": 2}),
        "RSQRT": ({}, {"float32": 1, "int8": 2, "int16": 3}),
        "L2_NORMALIZATION": ({}, {"float32": 1, "int8": 2}),
        "ABS": ({}, {"float32": 1, "int8": 2, "int16": 3}),
        "LOG_SOFTMAX": ({}, {"float32": 1, "int8": 2}),
        "MAX_POOL_2D": ({"padding": "VALID", "stride_w": 1, "stride_h": 1, "filter_width": 1,
                         "filter_height": 1}, {"float32": 1, "int8": 2, "int16": 3}),
        "DEPTH_TO_SPACE": ({"block_size": 2}, {"float32": 1, "int8": 2}),
        "SPACE_TO_DEPTH": ({"block_size": 2}, {"float32": 1, "int8": 2}),
    }
    for op, (attrs, by_dtype) in cases.items():
        for dtype, want in by_dtype.items():
            g = build({"x": (1, 4, 4, 4)}, {}, [(op, ["x"], ["y"], attrs)], ["y"])
            if dtype != "float32":
                retype(g, dtype, "x", "y")
            assert version(g) == want, (op, dtype)
    for op, want in {"MEAN": 3, "SUM": 1, "REDUCE_MAX": 3, "REDUCE_MIN": 3, "REDUCE_PROD": 2}.items():
        g = build({"x": (1, 4, 4, 4)}, {"axes": np.array([1, 2], np.int32)},
                  [(op, ["x", "axes"], ["y"], {"keep_dims": False})], ["y"])
        assert version(g) == 1
        assert version(retype(g, "int8", "x", "y")) == 2, op
        assert version(retype(g, "int16", "x", "y")) == want, op


def test_shape_op_versions():
    x5 = {"x": (1, 2, 3, 4, 5)}
    pad5 = build(x5, {"p": np.ones((5, 2), np.int32)}, [("PAD", ["x", "p"], ["y"])], ["y"])
    assert version(pad5) == 4
    pad4 = build({"x": (1, 2, 3, 4)}, {"p": np.ones((4, 2), np.int32)}, [("PAD", ["x", "p"], ["y"])], ["y"])
    assert version(pad4) == 1 and version(retype(pad4, "int8", "x", "y")) == 2
    assert version(retype(pad4, "int16", "x", "y")) == 3 and version(retype(pad4, "bool", "x", "y", scales=None)) == 5
    perm = build({"x": (1, 2, 3, 4, 5, 6)}, {"p": np.arange(6, dtype=np.int32)},
                 [("TRANSPOSE", ["x", "p"], ["y"])], ["y"])
    assert version(perm) == 6
    perm5 = build(x5, {"p": np.arange(5, dtype=np.int32)}, [("TRANSPOSE", ["x", "p"], ["y"])], ["y"])
    assert version(perm5) == 4 and version(retype(perm5, "int16", "x", "y")) == 5
    zeros, ones = np.zeros(5, np.int32), np.ones(5, np.int32)
    ss = {"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0, "shrink_axis_mask": 0}
    def strided(shape, **attrs):
        n = len(shape)
        return build({"x": shape}, {"b": zeros[:n], "e": np.array(shape, np.int32), "s": ones[:n]},
                     [("STRIDED_SLICE", ["x", "b", "e", "s"], ["y"], {**ss, **attrs})], ["y"])
    assert version(strided((1, 2, 3, 4))) == 1
    assert version(strided((1, 2, 3, 4, 5))) == 4
    with_offset = strided((1, 2, 3, 4))
    with_offset.ops[0].attrs["offset"] = True
    assert version(with_offset) == 8
    assert version(retype(strided((1, 2, 3, 4)), "int8", "x", "y")) == 2
    ss_new_axis = strided((2, 3))
    ss_new_axis.ops[0].attrs["new_axis_mask"] = 1
    assert version(ss_new_axis) == 6
    sl = build(x5, {"b": zeros, "s": np.array([1, 2, 3, 4, 5], np.int32)}, [("SLICE", ["x", "b", "s"], ["y"])], ["y"])
    assert version(sl) == 5
    resize = {"align_corners": False, "half_pixel_centers": False}
    for op in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
        def rs(op=op, **attrs):
            return build({"x": (1, 4, 4, 2)}, {"size": np.array([8, 8], np.int32)},
                         [(op, ["x", "size"], ["y"], {**resize, **attrs})], ["y"])
        assert version(rs()) == 1 and version(rs(half_pixel_centers=True)) == 3
        assert version(retype(rs(), "int8", "x", "y")) == 2 and version(retype(rs(), "int16", "x", "y")) == 4
    assert version(build({"x": (1, 4, 4, 2)}, {"size": np.array([8, 8], np.int32)},
                         [("RESIZE_BILINEAR", ["x", "size"], ["y"], {**resize, "align_corners": True})], ["y"])) == 1
    assert version(build({"x": (1, 4, 4, 2)}, {"size": np.array([8, 8], np.int32)},
                         [("RESIZE_NEAREST_NEIGHBOR", ["x", "size"], ["y"], {**resize, "align_corners": True})],
                         ["y"])) == 3
    split = build({"x": (4, 6)}, {"axis": np.array(1, np.int32)},
                  [("SPLIT", ["axis", "x"], ["y0", "y1"], {"num_splits": 2})], ["y0", "y1"])
    assert version(split) == 1
    assert version(retype(split, "int8", "x", "y0", "y1")) == 2 and version(retype(split, "int16", "x")) == 4
    concat = build({"a": (2, 3), "b": (2, 3)}, {}, [("CONCATENATION", ["a", "b"], ["y"], {"axis": 1})], ["y"])
    assert version(concat) == 1 and version(retype(concat, "int8", "a", "b", "y")) == 2
    assert version(retype(concat, "int16", "a", "b", "y")) == 3
    pack = build({"a": (2, 3), "b": (2, 3)}, {}, [("PACK", ["a", "b"], ["y"], {"values_count": 2, "axis": 0})], ["y"])
    assert version(pack) == 1 and version(retype(pack, "int8", "a", "b", "y")) == 2
    unpack = build({"x": (2, 3)}, {}, [("UNPACK", ["x"], ["a", "b"], {"num": 2, "axis": 0})], ["a", "b"])
    assert version(unpack) == 1 and version(retype(unpack, "int8", "x", "a", "b")) == 2
    plain = build({"a": (2, 3)}, {}, [], ["a"])
    for op in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TILE", "MIRROR_PAD", "PRELU", "SHAPE", "ZEROS_LIKE"):
        assert op_version(plain, Op(op, ["a"], ["a"])) == 1, op
    assert op_version(retype(plain, "int8", "a"), Op("TILE", ["a"], ["a"])) == 3


def test_gather_select_cast_and_friends():
    params = {"x": (5, 3)}
    idx = {"i": np.array([0, 2], np.int32)}
    gather = build(params, idx, [("GATHER", ["x", "i"], ["y"], {"axis": 0, "batch_dims": 0})], ["y"])
    assert version(gather) == 1 and version(retype(gather, "int8", "x", "y")) == 2
    gather.ops[0].attrs["batch_dims"] = 1
    assert version(gather) == 5
    gnd = build(params, {"i": np.array([[0], [2]], np.int32)}, [("GATHER_ND", ["x", "i"], ["y"])], ["y"])
    assert version(gnd) == 1 and version(retype(gnd, "int16", "x", "y")) == 3
    five = (1, 1, 2, 2, 2)
    sel = build({"a": five, "b": five}, {}, [("LESS", ["a", "b"], ["c"]), ("SELECT", ["c", "a", "b"], ["y"])], ["y"])
    assert version(sel) == 3 and version(sel, 0) == 1
    sel4 = build({"a": (2, 2), "b": (2, 2)}, {}, [("LESS", ["a", "b"], ["c"]), ("SELECT_V2", ["c", "a", "b"], ["y"])],
                 ["y"])
    assert version(sel4) == 1 and version(retype(sel4, "int16", "a", "b"), 0) == 3
    compare = {"EQUAL": (2, 5), "NOT_EQUAL": (2, 4), "GREATER": (2, 1), "GREATER_EQUAL": (2, 3),
               "LESS_EQUAL": (2, 1)}
    for op, (v8, v16) in compare.items():
        g = build({"a": (2, 2), "b": (2, 2)}, {}, [(op, ["a", "b"], ["y"])], ["y"])
        assert version(g) == 1
        assert version(retype(g, "int8", "a", "b")) == v8 and version(retype(g, "int16", "a", "b")) == v16, op
    cast = build({"x": (2, 3)}, {}, [("CAST", ["x"], ["y"], {"in_data_type": "float32", "out_data_type": "int32"})],
                 ["y"])
    assert version(cast) == 1
    for dtype, want in {"float16": 5, "int8": 3, "uint16": 4, "uint32": 2, "bfloat16": 7, "int64": 1}.items():
        cast.tensors["y"].dtype = dtype
        assert version(cast) == want, dtype
    bcast = build({"x": (1, 3)}, {"s": np.array([2, 3], np.int32)}, [("BROADCAST_TO", ["x", "s"], ["y"])], ["y"])
    assert version(bcast) == 2 and version(retype(bcast, "int8", "x", "y")) == 3
    fill = build({}, {"s": np.array([2, 3], np.int32), "v": np.array(1.5, np.float32)},
                 [("FILL", ["s", "v"], ["y"])], ["y"])
    assert version(fill) == 1
    for dtype, want in {"bool": 2, "int8": 3, "int16": 3, "float16": 4, "int32": 1}.items():
        fill.tensors["v"].dtype = dtype
        assert version(fill) == want, dtype
    rng = build({}, {"a": np.array(0, np.int32), "b": np.array(5, np.int32), "c": np.array(1, np.int32)},
                [("RANGE", ["a", "b", "c"], ["y"])], ["y"])
    assert version(rng) == 1 and version(retype(rng, "int64", "a", scales=None)) == 2
    argmax = build({"x": (2, 3)}, {"d": np.array(1, np.int32)},
                   [("ARG_MAX", ["x", "d"], ["y"], {"output_type": "int32"})], ["y"])
    assert version(argmax) == 1 and version(retype(argmax, "int8", "x")) == 2
    assert version(retype(argmax, "bool", "x", scales=None)) == 3
    bmm = build({"a": (2, 3, 4), "b": (2, 4, 5)}, {}, [("BATCH_MATMUL", ["a", "b"], ["y"],
                                                       {"adj_x": False, "adj_y": False})], ["y"])
    assert version(bmm) == 1 and version(retype(bmm, "int8", "b")) == 1
    bmm.ops[0].attrs["asymmetric_quantize_inputs"] = True
    assert version(bmm) == 4 and version(retype(bmm, "int8", "a", "y")) == 2


def test_quantize_dequantize_versions():
    g = build({"x": (3, 4)}, {}, [("QUANTIZE", ["x"], ["q"]), ("DEQUANTIZE", ["q"], ["y"])], ["y"])
    g.tensors["q"].shape = g.tensors["y"].shape = (3, 4)
    quantize(g, "q", "int8", scales=(0.1,))
    assert (version(g, 0), version(g, 1)) == (1, 2)
    quantize(g, "q", "int8", scales=[0.1] * 4, axis=1)
    assert (version(g, 0), version(g, 1)) == (3, 5)
    quantize(g, "q", "int8", scales=[0.1] * 2, axis=1)  # scales that do not fit the axis
    assert (version(g, 0), version(g, 1)) == (1, 2)
    quantize(g, "q", "int16")
    assert (version(g, 0), version(g, 1)) == (2, 3)
    quantize(g, "q", "uint8")
    assert (version(g, 0), version(g, 1)) == (1, 1)
    half = build({}, {"h": np.ones((2, 2), np.float16)}, [("DEQUANTIZE", ["h"], ["y"])], ["y"])
    assert version(half) == 3


def test_written_versions_are_the_rules_and_load_in_litert():
    """Versions reach the file, ops of one type with different versions get an operator code
    each, and LiteRT has kernels for them."""
    g = build({"x": (1, 6, 6, 2)},
              {"w": np.ones((1, 3, 3, 4), np.float32), "w2": np.ones((3, 144), np.float32),
               "b": np.zeros(4, np.float32), "s": np.array([1, 144], np.int32)},
              [("DEPTHWISE_CONV_2D", ["x", "w", "b"], ["d1"], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                                               "depth_multiplier": 2}),
               ("DEPTHWISE_CONV_2D", ["d1", "w", "b"], ["d2"], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                                                "depth_multiplier": 1, "dilation_w_factor": 2,
                                                                "dilation_h_factor": 2}),
               ("RESHAPE", ["d2", "s"], ["f"]),
               ("FULLY_CONNECTED", ["f", "w2"], ["y"], {"keep_num_dims": False})], ["y"])
    model = model_bytes(g)
    m = read_model(model)
    assert m.op_versions[0] == [op_version(g, op) for op in g.ops] == [1, 2, 1, 6]
    interp = litert(model, delegates=False)
    interp.set_tensor(interp.get_input_details()[0]["index"], np.ones((1, 6, 6, 2), np.float32))
    interp.invoke()
