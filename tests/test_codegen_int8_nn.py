"""Quantized C kernels: one-op int8 (and uint8 / int16) bundles per kernel and edge case,
whole int8 networks, and a sanitizer build. Each bundle is written to .tflite bytes, read
back, generated, compiled with -Werror -pedantic, run on full-range random integers and
compared with the reference interpreter (itself bit-exact with LiteRT's reference kernels)
bit for bit."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from tests.support import networks
from tests.support.codegen_check import check_bundle, roundtrip
from tests.support.irgraph import append_op
from tests.support.kernel_check import int8_graph, quant, window
from tests.support.oracle import litert
from tests.support.quant_models import calibration_file
from toco_py import api
from toco_py.codegen.bundle import generate_bundle
from toco_py.codegen.emitter import generate
from toco_py.codegen.lowering import CodegenError
from toco_py.codegen.verify import VerifyError, build, run_bundle
from toco_py.ir import Graph, Tensor
from toco_py.passes.propagate_shapes import propagate_shapes
from toco_py.quantize.driver import QuantizeOptions
from toco_py.tensor_io import random_inputs
from toco_py.tflite.reader import read_model

rng = np.random.default_rng(11)  # the cases' data, drawn at import


@pytest.fixture(autouse=True)
def _seeded_per_test(request):
    """The data a test draws comes from its own seed, whatever ran before it (-k, -n)."""
    global rng
    rng = np.random.default_rng(zlib.crc32(request.node.name.encode()))


def ints(shape, dtype="int8", lo=None, hi=None) -> np.ndarray:
    info = np.iinfo(dtype)
    return rng.integers(info.min if lo is None else lo, (info.max if hi is None else hi) + 1,
                        shape).astype(dtype)


def i32(values) -> np.ndarray:
    return np.asarray(values, np.int32)


def small_inputs(shape) -> dict[str, np.ndarray]:
    """Inputs near the zero point: small sums, for multipliers above one that must not
    saturate everything."""
    return {"in0": ints(shape, lo=-2, hi=2)}


def q_graph(op_type: str, inputs: list, input_quant: list, output_quant: list,
            attrs: dict | None = None, const: set[int] | None = None,
            output_dtype: str = "int8") -> Graph:
    """A one-op quantized graph as kernel_check.compare_int8_with_litert builds it, through
    .tflite bytes."""
    return roundtrip(int8_graph(op_type, inputs, input_quant, output_quant, attrs, const, output_dtype))


# ---- convolutions and FULLY_CONNECTED ------------------------------------------------------

def conv_graph(op_type, x_shape, w_shape, attrs, in_q, out_q=None, per_channel=True, bias=True,
               w_range=(-127, 127), bias_range=20000, constant_filter=True) -> Graph:
    """Random filter and bias; the output scale (unless given) keeps typical sums in range."""
    depthwise = op_type == "DEPTHWISE_CONV_2D"
    channels = w_shape[3] if depthwise else w_shape[0]
    scales = (10.0 ** rng.uniform(-2.5, -1.5, channels if per_channel else 1)).astype(np.float32)
    w_q = quant(scales, np.zeros(scales.size, np.int64), 3 if depthwise else 0)
    if out_q is None:
        taps = w_shape[1] * w_shape[2] * (1 if depthwise else w_shape[3])
        out_q = quant(float(in_q.scale[0]) * float(np.median(scales)) * 90 * np.sqrt(taps), 5)
    inputs, params = [ints(x_shape), ints(w_shape, lo=w_range[0], hi=w_range[1])], [in_q, w_q]
    if bias:
        inputs.append(ints((channels,), "int32", -bias_range, bias_range))
        params.append(quant(in_q.scale[0] * np.broadcast_to(scales, (channels,)),
                            np.zeros(channels, np.int64)))
    if depthwise:
        attrs = dict(attrs, depth_multiplier=channels // x_shape[3])
    # A filter computed at run time goes to the unpacked kernel.
    return q_graph(op_type, inputs, params, [out_q], attrs,
                   const={1, 2} if constant_filter else {2})


CONV_CASES = {
    "conv_same_stride2_relu6": ("CONV_2D", (1, 7, 9, 3), (4, 3, 3, 3), window("SAME", (2, 2), act="RELU6"), {}),
    "conv_valid_dilated_per_tensor_no_bias": ("CONV_2D", (2, 9, 8, 2), (3, 3, 3, 2),
                                              window("VALID", dilation=(2, 3), act="RELU_N1_TO_1"),
                                              {"per_channel": False, "bias": False}),
    "conv_stride23_dilation21_same": ("CONV_2D", (1, 11, 13, 3), (4, 5, 3, 3),
                                      window("SAME", (2, 3), (2, 1)), {}),
    "conv_filter_larger_than_image": ("CONV_2D", (1, 3, 4, 2), (2, 5, 5, 2), window("SAME", act="RELU"), {}),
    "conv_40_channels_named_arrays": ("CONV_2D", (1, 5, 6, 33), (40, 3, 3, 33), window("SAME"), {}),
    "conv_filter_at_run_time": ("CONV_2D", (2, 7, 6, 5), (6, 3, 3, 5), window("SAME", (2, 1), (1, 2)),
                                {"constant_filter": False}),
    "conv_1x1_pairs_of_pixels": ("CONV_2D", (1, 3, 9, 20), (17, 1, 1, 20), window("VALID", act="RELU6"), {}),
    "conv_tanh_ignored": ("CONV_2D", (1, 6, 5, 4), (2, 2, 3, 4), window("SAME", (2, 1), act="TANH"), {}),
    "conv_extreme_zero_points": ("CONV_2D", (1, 5, 6, 2), (3, 3, 3, 2), window("SAME"),
                                 {"in_q": quant(0.05, -128), "out_q": quant(0.1, 127)}),
    "conv_large_scales": ("CONV_2D", (1, 5, 6, 2), (3, 3, 3, 2), window("SAME"),
                          {"in_q": quant(40.0, -5), "out_q": quant(900.0, 10)}),
    # A left shift of 24 bits: the sums wrap around 32 bits before the rounding multiply.
    "conv_shifted_sums_wrap": ("CONV_2D", (1, 4, 4, 3), (2, 2, 2, 3), window(),
                               {"in_q": quant(1.0, 0), "out_q": quant(1e-9, 0)}),
    "conv_multiplier_above_one": ("CONV_2D", (1, 4, 4, 2), (3, 2, 2, 2), window(),
                                  {"in_q": quant(1.0, 0), "out_q": quant(0.0013, 0), "w_range": (-3, 3),
                                   "bias_range": 4, "small_inputs": True}),
    "depthwise_multiplier2_same_stride2_relu": ("DEPTHWISE_CONV_2D", (1, 7, 6, 3), (1, 3, 3, 6),
                                                window("SAME", (2, 2), act="RELU"), {}),
    "depthwise_dilated_valid_per_tensor": ("DEPTHWISE_CONV_2D", (2, 8, 9, 4), (1, 2, 3, 4),
                                           window("VALID", (1, 2), (2, 2)), {"per_channel": False}),
    "depthwise_33_channels_relu6": ("DEPTHWISE_CONV_2D", (1, 5, 4, 33), (1, 3, 3, 33),
                                    window("SAME", act="RELU6"), {}),
    "depthwise_multiplier5_no_bias": ("DEPTHWISE_CONV_2D", (1, 4, 5, 1), (1, 2, 2, 5),
                                      window("VALID", (1, 2)), {"bias": False}),
    "depthwise_filter_larger_than_image": ("DEPTHWISE_CONV_2D", (1, 3, 3, 2), (1, 5, 4, 2),
                                           window("SAME", act="RELU_N1_TO_1"),
                                           {"in_q": quant(0.05, 127), "out_q": quant(0.01, -128)}),
}


def convolution_case(case: str) -> tuple[Graph, dict[str, np.ndarray] | None]:
    """The case's graph and its feeds (None: random ones)."""
    op_type, x_shape, w_shape, attrs, extra = CONV_CASES[case]
    extra = dict(extra)
    in_q = extra.pop("in_q", quant(0.03, -7))
    feeds = small_inputs(x_shape) if extra.pop("small_inputs", False) else None
    return conv_graph(op_type, x_shape, w_shape, attrs, in_q, **extra), feeds


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_convolution(case, tmp_path):
    graph, feeds = convolution_case(case)
    check_bundle(graph, tmp_path, feeds=feeds)


def fc_graph(x_shape, weights_shape, attrs, per_channel, bias=True, in_q=None, out_q=None,
             w_range=(-127, 127), constant_weights=True) -> Graph:
    units, depth = weights_shape
    scales = (10.0 ** rng.uniform(-2.5, -1.5, units if per_channel else 1)).astype(np.float32)
    in_q = in_q or quant(0.04, 9)
    out_q = out_q or quant(float(in_q.scale[0]) * float(np.median(scales)) * 90 * np.sqrt(depth), -3)
    inputs = [ints(x_shape), ints(weights_shape, lo=w_range[0], hi=w_range[1])]
    params = [in_q, quant(scales, np.zeros(scales.size, np.int64))]
    if bias:
        inputs.append(ints((units,), "int32", -20000, 20000))
        params.append(quant(in_q.scale[0] * np.broadcast_to(scales, (units,)), np.zeros(units, np.int64)))
    # Weights computed at run time go to the unpacked kernel.
    return q_graph("FULLY_CONNECTED", inputs, params, [out_q], attrs,
                   const={1, 2} if constant_weights else {2})


FC_CASES = {
    # id: (input shape, weights [units, depth], attrs, per-channel weights, other options)
    "fc_keep_num_dims_relu_per_tensor": ((2, 3, 8), (5, 8), {"keep_num_dims": True,
                                                             "fused_activation_function": "RELU"}, False, {}),
    "fc_per_channel_no_bias": ((4, 12), (20, 12), {}, True, {"bias": False}),
    "fc_weights_at_run_time": ((3, 9), (5, 9), {}, False, {"constant_weights": False}),
    "fc_flatten_relu6": ((2, 2, 6), (3, 4), {"fused_activation_function": "RELU6"}, False, {}),
    "fc_extreme_zero_points": ((3, 7), (4, 7), {}, True, {"in_q": quant(0.02, -128), "out_q": quant(0.05, 127)}),
    "fc_multiplier_above_one": ((2, 5), (3, 5), {}, False, {"in_q": quant(2.0, 0), "out_q": quant(0.005, 0),
                                                           "bias": False, "w_range": (-3, 3),
                                                           "small_inputs": True}),
}


def fully_connected_case(case: str) -> tuple[Graph, dict[str, np.ndarray] | None]:
    """The case's graph and its feeds (None: random ones)."""
    x_shape, weights_shape, attrs, per_channel, extra = FC_CASES[case]
    extra = dict(extra)
    feeds = small_inputs(x_shape) if extra.pop("small_inputs", False) else None
    return fc_graph(x_shape, weights_shape, attrs, per_channel, **extra), feeds


@pytest.mark.parametrize("case", sorted(FC_CASES))
def test_fully_connected(case, tmp_path):
    graph, feeds = fully_connected_case(case)
    check_bundle(graph, tmp_path, feeds=feeds)


# ---- pooling and reductions ----------------------------------------------------------------

def pool(padding, size, stride, act="NONE") -> dict:
    return {"padding": padding, "filter_height": size[0], "filter_width": size[1],
            "stride_h": stride[0], "stride_w": stride[1], "fused_activation_function": act}


POOL_CASES = {
    "max_same_stride2_relu6": ("MAX_POOL_2D", "int8", (1, 7, 8, 3), pool("SAME", (3, 3), (2, 2), "RELU6")),
    "max_valid_uint8_relu": ("MAX_POOL_2D", "uint8", (2, 6, 5, 2), pool("VALID", (2, 3), (2, 1), "RELU")),
    "avg_same_excludes_padding": ("AVERAGE_POOL_2D", "int8", (2, 7, 8, 3), pool("SAME", (3, 3), (2, 2))),
    "avg_valid_relu_n1": ("AVERAGE_POOL_2D", "int8", (1, 5, 6, 2), pool("VALID", (2, 3), (1, 2), "RELU_N1_TO_1")),
    "avg_global_uint8": ("AVERAGE_POOL_2D", "uint8", (1, 4, 5, 6), pool("VALID", (4, 5), (1, 1))),
    "avg_int16": ("AVERAGE_POOL_2D", "int16", (1, 5, 5, 2), pool("SAME", (2, 2), (2, 2))),
}


def pool_graph(case: str) -> Graph:
    op_type, dtype, shape, attrs = POOL_CASES[case]
    q = quant(0.1, {"int8": -10, "uint8": 120, "int16": 0}[dtype])
    return q_graph(op_type, [ints(shape, dtype)], [q], [q], attrs, output_dtype=dtype)


@pytest.mark.parametrize("case", sorted(POOL_CASES))
def test_pool(case, tmp_path):
    check_bundle(pool_graph(case), tmp_path)


REDUCE_CASES = {
    # op, dtype, shape, axes, keep_dims, input params, output params
    "mean_spatial_keep_dims": ("MEAN", "int8", (2, 4, 5, 3), [1, 2], True, quant(0.05, -3), quant(0.02, 4)),
    "mean_negative_axes_rank5": ("MEAN", "int8", (2, 3, 2, 4, 3), [-1, 1], False, quant(0.1, 7), quant(0.1, 7)),
    "mean_all_axes_uint8": ("MEAN", "uint8", (3, 7), [0, 1], False, quant(0.2, 128), quant(0.05, 100)),
    "mean_int16": ("MEAN", "int16", (4, 6), [1], True, quant(0.001, 0), quant(0.0005, 0)),
    "mean_huge_ratio_wraps": ("MEAN", "int8", (2, 3, 4), [2], False, quant(1e6, -5), quant(1e-3, 3)),
    "sum_axis0": ("SUM", "int8", (5, 4), [0], False, quant(0.02, -8), quant(0.1, 2)),
    "sum_uint8_keep_dims": ("SUM", "uint8", (2, 3, 4), [0, 2], True, quant(0.01, 130), quant(0.2, 10)),
    "reduce_max_rank5": ("REDUCE_MAX", "int8", (2, 3, 2, 4, 3), [1, 3], False, quant(0.1, 2), quant(0.1, 2)),
    "reduce_min_uint8_keep_dims": ("REDUCE_MIN", "uint8", (3, 4, 5), [-1], True, quant(0.1, 2), quant(0.1, 2)),
    "reduce_max_int16": ("REDUCE_MAX", "int16", (4, 5), [0], False, quant(0.1, 0), quant(0.1, 0)),
}


def reduction_graph(case: str) -> Graph:
    op_type, dtype, shape, axes, keep_dims, in_q, out_q = REDUCE_CASES[case]
    return q_graph(op_type, [ints(shape, dtype), i32(axes)], [in_q, None], [out_q],
                   {"keep_dims": keep_dims}, const={1}, output_dtype=dtype)


@pytest.mark.parametrize("case", sorted(REDUCE_CASES))
def test_reduction(case, tmp_path):
    check_bundle(reduction_graph(case), tmp_path)


# ---- QUANTIZE of an integer input ------------------------------------------------------------

REQUANTIZE_CASES = [  # input type, output type, input params, output params
    ("int8", "int8", quant(0.05, -3), quant(0.02, 10)),
    ("int8", "int8", quant(0.01, 0), quant(0.5, -128)),   # a large rescale down
    ("int8", "uint8", quant(0.05, -3), quant(0.05, 125)),  # LiteRT's XOR shortcut
    ("uint8", "int8", quant(0.1, 128), quant(0.03, 0)),
    ("uint8", "uint8", quant(0.1, 128), quant(0.7, 3)),
    ("int16", "int16", quant(0.001, 0), quant(0.0003, 0)),
    ("int16", "int8", quant(0.001, 0), quant(0.1, -20)),
    ("int8", "int16", quant(0.05, -3), quant(0.001, 0)),
    ("uint8", "int16", quant(0.1, 128), quant(0.3, 0)),
    ("int8", "int8", quant(1e6, 0), quant(1e-5, 3)),  # a left shift of 37: every bit wraps out
]


def requantize_graph(src: str, dst: str, in_q, out_q) -> Graph:
    return q_graph("QUANTIZE", [ints((3, 11), src)], [in_q], [out_q], {"output_type": dst},
                   output_dtype=dst)


@pytest.mark.parametrize("src, dst, in_q, out_q", REQUANTIZE_CASES)
def test_requantize(src, dst, in_q, out_q, tmp_path):
    check_bundle(requantize_graph(src, dst, in_q, out_q), tmp_path)


# ---- data-moving ops ---------------------------------------------------------------------------

Q = quant(0.1, -4)
U = quant(0.2, 130)
MOVEMENT_CASES = {
    # id: (op, inputs, input params, output count, attrs, constant inputs, dtype)
    "reshape": ("RESHAPE", [ints((2, 3, 4)), i32([4, -1])], [Q, None], 1, {}, {1}, "int8"),
    "squeeze_uint8": ("SQUEEZE", [ints((1, 3, 1, 2), "uint8")], [U], 1, {"squeeze_dims": [0, 2]}, set(), "uint8"),
    "expand_dims": ("EXPAND_DIMS", [ints((3, 2)), i32(-1)], [Q, None], 1, {}, {1}, "int8"),
    "transpose_rank6": ("TRANSPOSE", [ints((2, 1, 3, 2, 1, 2)), i32([5, 0, 3, 1, 4, 2])], [Q, None], 1, {}, {1},
                        "int8"),
    "gather_batch_dims_uint8": ("GATHER", [ints((2, 5, 3), "uint8"), np.array([[4, 0], [1, 1]], np.int64)],
                                [U, None], 1, {"axis": 1, "batch_dims": 1}, {1}, "uint8"),
    "gather_constant_table": ("GATHER", [ints((10, 4)), i32([[3, 0, 9], [1, 1, 2]])], [Q, None], 1,
                              {"axis": 0}, {1}, "int8"),
    "gather_nd_int64_indices": ("GATHER_ND", [ints((3, 4, 2)),
                                              np.array([[[2, 1], [0, 3]], [[1, 0], [2, 2]]], np.int64)],
                                [Q, None], 1, {}, {1}, "int8"),
    "gather_nd_uint8_full_depth": ("GATHER_ND", [ints((3, 4), "uint8"), i32([[2, 3], [0, 0], [1, 2]])],
                                   [U, None], 1, {}, {1}, "uint8"),
    "strided_slice_negative_stride": ("STRIDED_SLICE", [ints((4, 5, 6)), i32([3, 0, 1]), i32([0, 5, 6]),
                                                        i32([-1, 2, 2])], [Q, None, None, None], 1,
                                      {"end_mask": 2}, {1, 2, 3}, "int8"),
    "slice_uint8": ("SLICE", [ints((3, 4, 5), "uint8"), i32([1, 0, 2]), i32([2, -1, 3])], [U, None, None], 1,
                    {}, {1, 2}, "uint8"),
    "split": ("SPLIT", [i32(2), ints((2, 3, 6))], [None, Q], 3, {"num_splits": 3}, {0}, "int8"),
    "split_v": ("SPLIT_V", [ints((2, 7)), i32([1, -1, 2]), i32(1)], [Q, None, None], 3, {"num_splits": 3},
                {1, 2}, "int8"),
    "unpack": ("UNPACK", [ints((2, 3, 4))], [Q], 3, {"axis": 1, "num": 3}, set(), "int8"),
    "pack_uint8": ("PACK", [ints((2, 3), "uint8"), ints((2, 3), "uint8")], [U, U], 1,
                   {"axis": 2, "values_count": 2}, set(), "uint8"),
    "concat_int8_constant": ("CONCATENATION", [ints((2, 3, 2)), ints((2, 3, 4))], [Q, Q], 1, {"axis": -1},
                             {1}, "int8"),
    "pad_fills_zero_point": ("PAD", [ints((2, 3)), i32([[1, 2], [0, 3]])], [Q, None], 1, {}, {1}, "int8"),
    "pad_uint8_rank4": ("PAD", [ints((1, 2, 3, 2), "uint8"), i32([[0, 0], [1, 1], [2, 0], [0, 1]])],
                        [U, None], 1, {}, {1}, "uint8"),
    "padv2_constant": ("PADV2", [ints((1, 2, 3)), i32([[0, 1], [2, 0], [1, 1]]), np.int8(37)],
                       [Q, None, Q], 1, {}, {1, 2}, "int8"),
    "mirror_pad_symmetric": ("MIRROR_PAD", [ints((3, 4)), i32([[3, 0], [2, 4]])], [Q, None], 1,
                             {"mode": "SYMMETRIC"}, {1}, "int8"),
    "tile_uint8": ("TILE", [ints((2, 1, 3), "uint8"), i32([2, 3, 1])], [U, None], 1, {}, {1}, "uint8"),
    "broadcast_to_higher_rank": ("BROADCAST_TO", [ints((3, 1)), i32([2, 3, 4])], [Q, None], 1, {}, {1}, "int8"),
    "select_v2_broadcast": ("SELECT_V2", [np.zeros((2, 1, 4), bool), ints((3, 1)), ints((1, 3, 4))],
                            [None, Q, Q], 1, {}, set(), "int8"),
    "select_rows": ("SELECT", [np.zeros((3,), bool), ints((3, 2, 2), "uint8"), ints((3, 2, 2), "uint8")],
                    [None, U, U], 1, {}, set(), "uint8"),
    "dynamic_update_slice_clamped": ("DYNAMIC_UPDATE_SLICE", [ints((4, 3)), ints((2, 3)), i32([3, 0])],
                                     [Q, Q, None], 1, {}, set(), "int8"),
    "depth_to_space": ("DEPTH_TO_SPACE", [ints((2, 2, 3, 12))], [Q], 1, {"block_size": 2}, set(), "int8"),
    "space_to_depth_uint8": ("SPACE_TO_DEPTH", [ints((1, 6, 4, 2), "uint8")], [U], 1, {"block_size": 2},
                             set(), "uint8"),
    "reverse_v2_last_axis": ("REVERSE_V2", [ints((2, 3, 4)), i32([-1])], [Q, None], 1, {}, {1}, "int8"),
    "fill_lstm_state": ("FILL", [i32([2, 3]), np.int8(-4)], [None, Q], 1, {}, {0}, "int8"),
    "resize_nearest_half_pixel": ("RESIZE_NEAREST_NEIGHBOR", [ints((1, 3, 4, 2)), i32([6, 9])], [Q, None], 1,
                                  {"half_pixel_centers": True}, {1}, "int8"),
}


def movement_graph(case: str) -> Graph:
    op_type, inputs, params, outputs, attrs, const, dtype = MOVEMENT_CASES[case]
    out_q = U if dtype == "uint8" else Q
    return q_graph(op_type, inputs, params, [out_q] * outputs, attrs, const, output_dtype=dtype)


@pytest.mark.parametrize("case", sorted(MOVEMENT_CASES))
def test_data_movement(case, tmp_path):
    check_bundle(movement_graph(case), tmp_path)


def rescaled_concatenation_graph() -> Graph:
    return q_graph("CONCATENATION", [ints((2, 3), "uint8"), ints((2, 2), "uint8"), ints((2, 1), "uint8")],
                   [quant(0.3, 100), U, quant(0.05, 0)], [U], {"axis": 1}, output_dtype="uint8")


def test_uint8_concatenation_rescales_inputs_with_other_params(tmp_path):
    check_bundle(rescaled_concatenation_graph(), tmp_path)
    assert "tk_concatenation_u8_scaled" in (tmp_path / "model" / "model.c").read_text()


def test_refuses_what_litert_refuses():
    graph = q_graph("CONCATENATION", [ints((2, 3)), ints((2, 2))], [Q, quant(0.3, 1)], [Q], {"axis": 1})
    with pytest.raises(CodegenError, match=r"#0 CONCATENATION: .*share one scale"):
        generate(graph, "m")
    w_q = quant(0.02, 3)  # an asymmetric filter, which LiteRT would silently misread
    graph = q_graph("CONV_2D", [ints((1, 3, 3, 2)), ints((2, 1, 1, 2))], [Q, w_q], [Q], window(), const={1})
    with pytest.raises(CodegenError, match="symmetric"):
        generate(graph, "m")


def one_op_graphs() -> list[Graph]:
    """The graphs this module's one-op bundle tests bundle (test_codegen_tables lowers them)."""
    return ([convolution_case(case)[0] for case in sorted(CONV_CASES)]
            + [fully_connected_case(case)[0] for case in sorted(FC_CASES)]
            + [pool_graph(case) for case in sorted(POOL_CASES)]
            + [reduction_graph(case) for case in sorted(REDUCE_CASES)]
            + [requantize_graph(*case) for case in REQUANTIZE_CASES]
            + [movement_graph(case) for case in sorted(MOVEMENT_CASES)]
            + [rescaled_concatenation_graph()])


# ---- sanitizers --------------------------------------------------------------------------------

class Int8Chain:
    """An int8 graph chaining many kernels; every activation gets the params Q, so the ops
    that demand equal params accept it."""

    def __init__(self, shape) -> None:
        self.g = Graph()
        self.g.add_tensor(Tensor("x", shape, "int8", quant=Q))
        self.g.inputs = ["x"]

    def const(self, value, q=None) -> str:
        name = self.g.add_const("c", np.asarray(value))
        self.g.tensors[name].quant = q
        return name

    def filter(self, *shape, axis: int = 0) -> tuple[str, str]:
        """A symmetric int8 filter and its int32 bias, per channel along `axis`."""
        channels = shape[axis]
        scales = np.full(channels, 0.002, np.float32)
        zeros = np.zeros(channels, np.int64)
        w = self.const(ints(shape, lo=-127), quant(scales, zeros, axis))
        b = self.const(ints((channels,), "int32", -500, 500), quant(scales * Q.scale[0], zeros))
        return w, b

    def op(self, op_type: str, inputs: list, attrs: dict | None = None, outputs: int = 1) -> list[str]:
        return append_op(self.g, op_type, inputs, attrs, outputs, self.const)

    def finish(self, outputs: list[str]) -> Graph:
        self.g.outputs = outputs
        propagate_shapes(self.g)
        for op in self.g.ops:
            for name in op.outputs:
                t = self.g.tensors[name]
                # QUANTIZE keeps the type it was asked for; the other ops compute in int8.
                t.dtype = t.dtype if op.type == "QUANTIZE" else "int8"
                t.quant = Q
        return roundtrip(self.g)


def chain_graph() -> Graph:
    c = Int8Chain((1, 8, 8, 3))
    same = window("SAME", act="RELU")
    (h,) = c.op("CONV_2D", ["x", *c.filter(4, 3, 3, 3)], same)
    # Packed blocks with a partial last one, a depthwise vector block plus a tail, a residual ADD.
    (wide,) = c.op("CONV_2D", [h, *c.filter(18, 1, 1, 4)], window("VALID", (1, 2)))
    (dw,) = c.op("DEPTHWISE_CONV_2D", [wide, *c.filter(1, 3, 3, 18, axis=3)],
                 {**same, "depth_multiplier": 1})
    (residual,) = c.op("ADD", [wide, dw], {"fused_activation_function": "NONE"})
    (h,) = c.op("DEPTHWISE_CONV_2D", [h, *c.filter(1, 3, 3, 8, axis=3)],
                {**same, "stride_h": 2, "stride_w": 2, "depth_multiplier": 2})
    (p,) = c.op("MAX_POOL_2D", [h], pool("SAME", (3, 3), (2, 2)))
    (a,) = c.op("AVERAGE_POOL_2D", [h], pool("SAME", (3, 3), (2, 2), "RELU6"))
    (cat,) = c.op("CONCATENATION", [p, a], {"axis": 3})
    (d2s,) = c.op("DEPTH_TO_SPACE", [cat], {"block_size": 2})
    (m,) = c.op("MIRROR_PAD", [d2s, i32([[0, 0], [1, 1], [2, 2], [0, 0]])], {"mode": "REFLECT"})
    (s,) = c.op("STRIDED_SLICE", [m, i32([0, 5, 0, 0]), i32([1, 0, 8, 4]), i32([1, -2, 3, 1])], {})
    (n,) = c.op("RESIZE_NEAREST_NEIGHBOR", [s, i32([4, 4])], {"align_corners": True})
    (s2d,) = c.op("SPACE_TO_DEPTH", [n], {"block_size": 2})
    (tr,) = c.op("TRANSPOSE", [s2d, i32([0, 3, 1, 2])])
    parts = c.op("SPLIT_V", [tr, i32([6, 10]), i32(1)], {"num_splits": 2}, outputs=2)
    (tile,) = c.op("TILE", [parts[0], i32([1, 1, 2, 1])])
    (mean,) = c.op("MEAN", [tile, i32([2, 3])], {"keep_dims": False})
    (fc,) = c.op("FULLY_CONNECTED", [mean, *c.filter(5, 6)], {})
    (u8,) = c.op("QUANTIZE", [fc], {"output_type": "uint8"})
    (sm,) = c.op("SUM", [parts[1], i32([1])], {"keep_dims": True})
    (big,) = c.op("REDUCE_MAX", [sm, i32([2])], {"keep_dims": True})
    (spread,) = c.op("BROADCAST_TO", [big, i32([1, 1, 2, 2])])
    (padded,) = c.op("PAD", [spread, i32([[0, 0], [0, 0], [1, 0], [0, 1]])])
    rows = c.op("UNPACK", [padded], {"axis": 2, "num": 3}, outputs=3)
    (packed,) = c.op("PACK", rows[::-1], {"axis": 0, "values_count": 3})
    (g,) = c.op("GATHER", [packed, i32([2, 0])], {"axis": 0})
    (low,) = c.op("REDUCE_MIN", [g, i32([0])], {"keep_dims": False})
    (sel,) = c.op("SELECT_V2", [np.array([True, False, True]), low, g], {})
    graph = c.finish([u8, sel, residual])
    graph.tensors[u8].quant = U
    return graph


def test_int8_kernels_run_clean_under_sanitizers(tmp_path):
    graph = chain_graph()
    assert len({op.type for op in graph.ops}) >= 25
    check_bundle(graph, tmp_path, name="chain", opt="-O1 -g",
                 extra_cflags="-fsanitize=address,undefined -fno-sanitize-recover=all "
                              "-fno-omit-frame-pointer")


# ---- whole int8 networks -----------------------------------------------------------------------

# Their int8 elementwise, activation and softmax ops run on lower_int8_math's kernels (the
# recurrent ones on LOGISTIC, TANH and the elementwise kernels in a long chain).
INT8_NETWORKS = {name: networks.SMALL_NETWORKS[name] for name in
                 ("conv_bn_separable", "computed_axis_softmax", "fused_patterns", "dropout_mlp",
                  "lstm_language_model", "gru_static_rnn")}
INT8_NETWORKS["mobilenet_v2_96"] = lambda: networks.keras_application("MobileNetV2", 96)


def int8_model(net, tmp_path) -> bytes:
    options = QuantizeOptions("int8", calibration_data=calibration_file(net, tmp_path))
    return api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs,
                             quantize=options).model


def litert_outputs(model: bytes, graph: Graph, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """LiteRT's reference kernels on the same inputs, by tensor name."""
    names = list(graph.tensors)
    interp = litert(model, reference=True)
    interp.allocate_tensors()
    for name, value in feeds.items():
        interp.set_tensor(names.index(name), value)
    interp.invoke()
    return {name: interp.get_tensor(names.index(name)) for name in graph.outputs}


@pytest.mark.parametrize("name", sorted(INT8_NETWORKS))
def test_int8_network_bundle(name, tmp_path):
    model = int8_model(INT8_NETWORKS[name](), tmp_path)
    graph = read_model(model).main
    assert any(t.quant is not None and t.dtype == "int8" for t in graph.tensors.values())
    check_bundle(graph, tmp_path, name=name, opt="-O2")
    # And the bundle equals LiteRT's reference kernels directly, bit for bit.
    feeds = random_inputs(graph, 0)
    ours = run_bundle(str(tmp_path / name / f"{name}_run"), graph, feeds)
    for output, want in litert_outputs(model, graph, feeds).items():
        np.testing.assert_array_equal(ours[output], want, err_msg=output)


def test_gather_nd_index_out_of_range_fails_the_call(tmp_path):
    graph = q_graph("GATHER_ND", [ints((3, 4)), i32([[0, 1], [2, 3]])], [Q, None], [Q], const={0})
    generate_bundle(graph, str(tmp_path / "g"), "g")
    binary = build(str(tmp_path / "g"), "g", opt="-O1")
    assert run_bundle(binary, graph, {"in1": i32([[2, 3], [0, 0]])})["out0"].shape == (2,)
    with pytest.raises(VerifyError, match=r"g_invoke failed at op #0 with error 1"):
        run_bundle(binary, graph, {"in1": i32([[2, 3], [3, 0]])})
