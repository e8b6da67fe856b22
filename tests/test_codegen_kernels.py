"""One-op C bundles, one per kernel and edge case (strides, dilation, SAME/VALID,
broadcasting, fused activations, axes, masks ...): each is written to .tflite bytes, read
back, generated, compiled with -Werror -pedantic, run, and compared with the reference
interpreter (float outputs within 1e-5 of the largest magnitude, integers exactly)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.support.codegen_check import TEST_OPT, check_bundle, one_op, roundtrip, table
from tests.support.kernel_check import one_op_graph, quant, window
from toco_py.codegen.bundle import generate_bundle
from toco_py.codegen.verify import VerifyError, build, run_bundle, run_bundle_steps, verify_steps
from toco_py.ir import Graph, Op, Tensor, const_tensor
from toco_py.ops.lstm import INPUTS
from toco_py.tflite.reader import read_model
from toco_py.tflite.writer import model_bytes

rng = np.random.default_rng(7)


def r(*shape, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def i32(values) -> np.ndarray:
    return np.asarray(values, np.int32)


def pool(padding, size, stride, act="NONE") -> dict:
    return {"padding": padding, "filter_height": size[0], "filter_width": size[1],
            "stride_h": stride[0], "stride_w": stride[1], "fused_activation_function": act}


# id -> (op type, inputs, attrs, constant input indices, number of outputs)
CASES = {
    "conv_same_stride2_relu6": ("CONV_2D", [r(1, 7, 9, 3), r(4, 3, 3, 3), r(4)],
                                window("SAME", (2, 2), act="RELU6"), {1, 2}, 1),
    "conv_valid_dilated_no_bias": ("CONV_2D", [r(2, 9, 8, 2), r(3, 3, 2, 2), None],
                                   window("VALID", (1, 1), (2, 3), act="RELU_N1_TO_1"), {1}, 1),
    "conv_same_stride21_tanh_ignored": ("CONV_2D", [r(1, 6, 5, 4), r(2, 2, 3, 4), r(2)],
                                        window("SAME", (2, 1), act="TANH"), {1, 2}, 1),
    "depthwise_multiplier2_same_stride2": ("DEPTHWISE_CONV_2D", [r(1, 7, 6, 3), r(1, 3, 3, 6), r(6)],
                                           window("SAME", (2, 2), act="RELU", depth_multiplier=2), {1, 2}, 1),
    "depthwise_dilated_valid": ("DEPTHWISE_CONV_2D", [r(1, 8, 9, 4), r(1, 2, 3, 4), r(4)],
                                window("VALID", (1, 2), (2, 2), depth_multiplier=1), {1, 2}, 1),
    "transpose_conv_same_stride2": ("TRANSPOSE_CONV", [i32([1, 8, 10, 4]), r(4, 3, 3, 3), r(1, 4, 5, 3), r(4)],
                                    {"padding": "SAME", "stride_h": 2, "stride_w": 2}, {0, 1, 3}, 1),
    "transpose_conv_valid_no_bias": ("TRANSPOSE_CONV", [i32([2, 5, 7, 5]), r(5, 3, 2, 2), r(2, 3, 6, 2)],
                                     {"padding": "VALID", "stride_h": 1, "stride_w": 1}, {0, 1}, 1),
    "fc_keep_num_dims_relu": ("FULLY_CONNECTED", [r(2, 3, 8), r(5, 8), r(5)],
                              {"keep_num_dims": True, "fused_activation_function": "RELU"}, {1, 2}, 1),
    "fc_flatten_no_bias": ("FULLY_CONNECTED", [r(2, 2, 6), r(3, 4), None], {}, {1}, 1),
    "add_broadcast_relu": ("ADD", [r(2, 1, 3), r(4, 1)], {"fused_activation_function": "RELU"}, set(), 1),
    "sub_rank6_broadcast": ("SUB", [r(2, 1, 3, 1, 2, 1), r(1, 2, 1, 2, 1, 3)], {}, set(), 1),
    "mul_scalar_constant_relu_n1": ("MUL", [r(3, 4), np.float32(2.5)],
                                    {"fused_activation_function": "RELU_N1_TO_1"}, {1}, 1),
    "div_relu6": ("DIV", [r(2, 3), np.array([1.5, -2.0, 0.75], np.float32)],
                  {"fused_activation_function": "RELU6"}, {1}, 1),
    "maximum_broadcast": ("MAXIMUM", [r(2, 3, 4), r(4)], {}, set(), 1),
    "minimum_broadcast": ("MINIMUM", [r(1), r(3, 2)], {}, set(), 1),
    "squared_difference": ("SQUARED_DIFFERENCE", [r(2, 3), r(2, 1)], {}, set(), 1),
    "prelu_channel_alpha": ("PRELU", [r(1, 2, 2, 3), r(1, 1, 3)], {}, {1}, 1),
    "exp": ("EXP", [r(3, 5)], {}, set(), 1),
    "neg": ("NEG", [r(4)], {}, set(), 1),
    "abs": ("ABS", [r(2, 3)], {}, set(), 1),
    "square": ("SQUARE", [r(2, 3)], {}, set(), 1),
    "relu": ("RELU", [r(2, 5)], {}, set(), 1),
    "relu6": ("RELU6", [r(2, 5, scale=5)], {}, set(), 1),
    "relu_n1_to_1": ("RELU_N1_TO_1", [r(7)], {}, set(), 1),
    # The input only gives the shape (no draw here, so the other cases keep their data); the
    # standard-normal inputs of check_bundle fall below 0, inside and above 1.
    "relu_0_to_1": ("RELU_0_TO_1", [np.zeros((4, 8), np.float32)], {}, set(), 1),
    "tanh": ("TANH", [r(3, 4, scale=3)], {}, set(), 1),
    "hard_swish": ("HARD_SWISH", [r(3, 4, scale=4)], {}, set(), 1),
    "leaky_relu": ("LEAKY_RELU", [r(3, 4)], {"alpha": 0.3}, set(), 1),
    "softmax_beta": ("SOFTMAX", [r(2, 3, 5, scale=3)], {"beta": 0.5}, set(), 1),
    "l2_normalization": ("L2_NORMALIZATION", [r(2, 6)], {}, set(), 1),
    "max_pool_same_stride2": ("MAX_POOL_2D", [r(1, 7, 8, 3)], pool("SAME", (3, 3), (2, 2)), set(), 1),
    "avg_pool_same_excludes_padding": ("AVERAGE_POOL_2D", [r(2, 7, 8, 3)], pool("SAME", (3, 3), (2, 2)), set(), 1),
    "avg_pool_valid_relu": ("AVERAGE_POOL_2D", [r(1, 5, 6, 2)], pool("VALID", (2, 3), (1, 2), "RELU"), set(), 1),
    "mean_keep_dims": ("MEAN", [r(2, 4, 5, 3), i32([1, 2])], {"keep_dims": True}, {1}, 1),
    "sum_negative_axis": ("SUM", [r(3, 4, 5), i32([0, -1])], {"keep_dims": False}, {1}, 1),
    "reduce_max_rank5": ("REDUCE_MAX", [r(2, 3, 2, 4, 3), i32([1, 3])], {}, {1}, 1),
    "concat_last_axis_constant": ("CONCATENATION", [r(2, 3, 2), r(2, 3, 4)], {"axis": -1}, {1}, 1),
    "concat_axis0": ("CONCATENATION", [r(1, 3), r(2, 3), r(3, 3)], {"axis": 0}, set(), 1),
    "pack_axis1": ("PACK", [r(2, 3), r(2, 3), r(2, 3)], {"axis": 1, "values_count": 3}, set(), 1),
    "unpack_axis1": ("UNPACK", [r(2, 3, 4)], {"axis": 1, "num": 3}, set(), 3),
    "split_axis2": ("SPLIT", [i32(2), r(2, 3, 6)], {"num_splits": 3}, {0}, 3),
    "split_v_inferred_size": ("SPLIT_V", [r(2, 7), i32([1, -1, 2]), i32(1)], {"num_splits": 3}, {1, 2}, 3),
    "reshape_aliased": ("RESHAPE", [r(2, 3, 4), i32([4, -1])], {}, {1}, 1),
    "squeeze": ("SQUEEZE", [r(1, 3, 1, 2)], {"squeeze_dims": [0, 2]}, set(), 1),
    "expand_dims": ("EXPAND_DIMS", [r(3, 2), i32(-1)], {}, {1}, 1),
    "transpose_rank6": ("TRANSPOSE", [r(2, 1, 3, 2, 1, 2), i32([5, 0, 3, 1, 4, 2])], {}, {1}, 1),
    "transpose_rank3": ("TRANSPOSE", [r(2, 3, 4), i32([0, 2, 1])], {}, {1}, 1),
    "pad": ("PAD", [r(2, 3), i32([[1, 2], [0, 3]])], {}, {1}, 1),
    "padv2_value": ("PADV2", [r(1, 2, 3), i32([[0, 1], [2, 0], [1, 1]]), np.float32(1.5)], {}, {1, 2}, 1),
    "mirror_pad_reflect": ("MIRROR_PAD", [r(3, 4), i32([[2, 1], [1, 3]])], {"mode": "REFLECT"}, {1}, 1),
    "mirror_pad_symmetric": ("MIRROR_PAD", [r(3, 4), i32([[3, 0], [2, 4]])], {"mode": "SYMMETRIC"}, {1}, 1),
    "strided_slice_negative_stride": ("STRIDED_SLICE", [r(4, 5, 6), i32([3, 0, 1]), i32([0, 5, 6]), i32([-1, 2, 2])],
                                      {"end_mask": 2}, {1, 2, 3}, 1),
    "strided_slice_shrink": ("STRIDED_SLICE", [r(4, 5, 6), i32([1, 0, 0]), i32([2, 0, 0]), i32([1, 1, 1])],
                             {"shrink_axis_mask": 1, "end_mask": 6}, {1, 2, 3}, 1),
    "strided_slice_ellipsis": ("STRIDED_SLICE", [r(2, 3, 4), i32([0, 1]), i32([0, 3]), i32([1, 1])],
                               {"ellipsis_mask": 1}, {1, 2, 3}, 1),
    "strided_slice_new_axis": ("STRIDED_SLICE", [r(4, 3), i32([1, 0]), i32([3, 0]), i32([1, 1])],
                               {"new_axis_mask": 2}, {1, 2, 3}, 1),
    "slice_to_end": ("SLICE", [r(3, 4, 5), i32([1, 0, 2]), i32([2, -1, 3])], {}, {1, 2}, 1),
    "gather_embedding": ("GATHER", [r(10, 4), np.zeros((2, 3), np.int32)], {"axis": 0}, {0}, 1),
    "gather_batch_dims_int64": ("GATHER", [r(2, 5, 3), np.array([[4, 0], [1, 1]], np.int64)],
                                {"axis": 1, "batch_dims": 1}, {1}, 1),
    "tile": ("TILE", [r(2, 1, 3), i32([2, 3, 1])], {}, {1}, 1),
    "reverse_v2_middle_axis": ("REVERSE_V2", [r(2, 3, 4), i32([1])], {}, {1}, 1),
    "resize_bilinear_half_pixel": ("RESIZE_BILINEAR", [r(1, 3, 4, 2), i32([5, 7])],
                                   {"half_pixel_centers": True}, {1}, 1),
    "resize_bilinear_align_corners": ("RESIZE_BILINEAR", [r(1, 4, 4, 1), i32([7, 5])],
                                      {"align_corners": True}, {1}, 1),
    "resize_bilinear_down": ("RESIZE_BILINEAR", [r(2, 6, 5, 2), i32([3, 2])], {}, {1}, 1),
    "resize_nearest_half_pixel": ("RESIZE_NEAREST_NEIGHBOR", [r(1, 3, 4, 2), i32([6, 9])],
                                  {"half_pixel_centers": True}, {1}, 1),
    "resize_nearest_align_corners": ("RESIZE_NEAREST_NEIGHBOR", [r(1, 4, 3, 1), i32([7, 5])],
                                     {"align_corners": True}, {1}, 1),
    "dequantize_float16": ("DEQUANTIZE", [r(2, 5).astype(np.float16)], {}, set(), 1),
}

# Inputs the default standard-normal data would not exercise well.
FEEDS = {
    "sqrt": lambda x: np.abs(x) + 0.01,
    "rsqrt": lambda x: np.abs(x) + 0.01,
    "logistic_cutoffs": lambda x: x * 12,
    "gelu": lambda x: x * 4,  # far enough negative that 1 + erf would cancel
    "gelu_tanh": lambda x: x * 4,
    # Whole numbers, so that the comparisons meet equal pairs as well as ordered ones.
    **dict.fromkeys(("less_f32_broadcast", "greater_equal_f32_nan", "not_equal_f32_nan",
                     "equal_f32"), lambda x: np.round(x * 2)),
}
_NAN_ROW = np.array([0.0, np.nan, 1.0], np.float32)
# Comparisons (bool out) and int32 arithmetic: loop counters and branch conditions.
CASES.update({
    "less_f32_broadcast": ("LESS", [r(2, 3), r(3)], {}, set(), 1),
    "greater_equal_f32_nan": ("GREATER_EQUAL", [r(2, 3), _NAN_ROW], {}, {1}, 1),
    "not_equal_f32_nan": ("NOT_EQUAL", [_NAN_ROW, r(2, 3)], {}, {0}, 1),
    "equal_f32": ("EQUAL", [r(4), r(4)], {}, set(), 1),
    "less_equal_i32_scalar": ("LESS_EQUAL", [i32([[1, 2, 3], [4, 5, 6]]), i32(4)], {}, set(), 1),
    "greater_i32_broadcast": ("GREATER", [i32([[1], [2]]), i32([0, 5, 9])], {}, set(), 1),
    "less_i32": ("LESS", [i32([3]), i32([4])], {}, set(), 1),
    "add_i32_relu": ("ADD", [i32([[1, 2, 3], [4, 5, 6]]), i32([-5, 0, 5])],
                     {"fused_activation_function": "RELU"}, {1}, 1),
    "sub_i32_broadcast": ("SUB", [i32([[1], [2]]), i32([0, 5, 9])], {}, set(), 1),
    "mul_i32_wraps": ("MUL", [i32([1, 2, 3]), i32([2 ** 30, -3, 2 ** 31 - 1])], {}, {1}, 1),
})
# The ops of converted loops and decoders: a dynamic_rnn's cond (LOGICAL_AND), a cond on
# i % 2 (FLOOR_MOD), a beam's parent and token (FLOOR_DIV, FLOOR_MOD), a TensorArray written
# in place (DYNAMIC_UPDATE_SLICE), a greedy decoder's token (ARG_MAX), a beam search's scores
# (LOG_SOFTMAX, TOPK_V2), a dynamic_rnn's sequence_length mask (SELECT). Divisors mix signs.
_DIVISORS = i32([[3, -3, 7], [-2, 5, -1]])
LOOP_CASES = {
    "logical_and_broadcast": ("LOGICAL_AND", [np.zeros((2, 3), bool), np.array([True, False, True])],
                              {}, set(), 1),
    "logical_or": ("LOGICAL_OR", [np.zeros((2, 3), bool), np.zeros((2, 3), bool)], {}, set(), 1),
    "logical_not": ("LOGICAL_NOT", [np.zeros((3, 4), bool)], {}, set(), 1),
    "floor_div_i32_signs": ("FLOOR_DIV", [i32(np.zeros((2, 3))), _DIVISORS], {}, {1}, 1),
    "floor_mod_i32_signs": ("FLOOR_MOD", [i32(np.zeros((2, 3))), _DIVISORS], {}, {1}, 1),
    "floor_mod_i32_scalar": ("FLOOR_MOD", [i32(np.zeros((4,))), i32(2)], {}, {1}, 1),
    "floor_div_f32_broadcast": ("FLOOR_DIV", [r(2, 3), np.array([0.75, -1.5, 2.0], np.float32)], {}, {1}, 1),
    "floor_mod_f32_broadcast": ("FLOOR_MOD", [r(2, 3), np.array([0.75, -1.5, 2.0], np.float32)], {}, {1}, 1),
    "dynamic_update_slice_clamped": ("DYNAMIC_UPDATE_SLICE", [r(5, 2, 4), r(2, 2, 3), i32([4, -1, 2])],
                                     {}, {2}, 1),
    "dynamic_update_slice_run_time_start": ("DYNAMIC_UPDATE_SLICE", [r(5, 2, 4), r(1, 2, 4), i32([0, 0, 0])],
                                            {}, set(), 1),
    "arg_max_i32_axis1": ("ARG_MAX", [r(2, 5, 3), i32(1)], {"output_type": "int32"}, {1}, 1),
    "arg_max_i64_last": ("ARG_MAX", [r(3, 4), i32(-1)], {"output_type": "int64"}, {1}, 1),
    "arg_min_i32_axis0": ("ARG_MIN", [r(4, 3), i32(0)], {"output_type": "int32"}, {1}, 1),
    "minimum_i32_bound": ("MINIMUM", [i32([[1, 7], [4, 5]]), i32(4)], {}, {1}, 1),
    "maximum_i32_broadcast": ("MAXIMUM", [i32([[1], [9]]), i32([0, 5, 9])], {}, set(), 1),
    "cast_i32_f32": ("CAST", [i32([[-3, 0, 7], [2 ** 24 + 1, -(2 ** 31), 2 ** 31 - 1]])],
                     {"out_data_type": "float32"}, set(), 1),
    "cast_f32_i32_truncates": ("CAST", [r(2, 5, scale=40)], {"out_data_type": "int32"}, set(), 1),
    "cast_bool_f32": ("CAST", [np.zeros((2, 3), bool)], {"out_data_type": "float32"}, set(), 1),
    "cast_f32_bool": ("CAST", [r(2, 3)], {"out_data_type": "bool"}, set(), 1),
    "cast_i64_i32": ("CAST", [np.zeros(4, np.int64)], {"out_data_type": "int32"}, set(), 1),
    "select_rows_v1": ("SELECT", [np.zeros(3, bool), r(3, 4), r(3, 4)], {}, set(), 1),
    "select_v2_broadcast": ("SELECT_V2", [np.zeros((2, 1), bool), r(2, 3), r(3)], {}, set(), 1),
    "topk_f32_ties": ("TOPK_V2", [r(2, 3, 9), i32(4)], {}, {1}, 2),
    "topk_i32": ("TOPK_V2", [i32(np.zeros((3, 6))), i32(3)], {}, {1}, 2),
}
CASES.update(LOOP_CASES)
# expf and logf: checked within the tolerance policy like the other float math, not to the bit.
CASES["log_softmax"] = ("LOG_SOFTMAX", [r(2, 3, 7, scale=3)], {}, set(), 1)
FEEDS.update({
    # Numerators of both signs, multiples of the divisors too.
    **dict.fromkeys(("floor_div_i32_signs", "floor_mod_i32_signs", "floor_mod_i32_scalar"),
                    lambda x: (x - 5) * 3),
    # Ties: the first of equal values wins.
    **dict.fromkeys(("arg_max_i32_axis1", "arg_max_i64_last", "arg_min_i32_axis0", "topk_f32_ties"),
                    lambda x: np.round(x)),
    # Start rows 0..9 on an axis of 5: clamped past the end.
    "dynamic_update_slice_run_time_start": lambda x: x if x.dtype != np.int32 else np.array([7, 0, 0], np.int32),
    # Zeros among the floats cast to bool; large int32 values rounded to float.
    "cast_f32_bool": lambda x: np.where(x > 0.5, 0.0, x).astype(np.float32),
    "cast_i32_f32": lambda x: (x - 5) * 123456789,
})
CASES.update({
    "sqrt": ("SQRT", [r(3, 4)], {}, set(), 1),
    "rsqrt": ("RSQRT", [r(3, 4)], {}, set(), 1),
    "logistic_cutoffs": ("LOGISTIC", [r(4, 8)], {}, set(), 1),
    "gelu": ("GELU", [np.zeros((4, 16), np.float32)], {"approximate": False}, set(), 1),
    "gelu_tanh": ("GELU", [np.zeros((4, 16), np.float32)], {"approximate": True}, set(), 1),
    "fill_run_time_value": ("FILL", [i32([2, 3, 2]), np.float32(1.5)], {}, {0}, 1),
})


def case_graph(case: str) -> Graph:
    op_type, inputs, attrs, const, n_outputs = CASES[case]
    return one_op(op_type, inputs, attrs, n_outputs, const)


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_op_bundle(case, tmp_path):
    graph = case_graph(case)
    feeds = None
    if case in FEEDS:
        from toco_py.tensor_io import random_inputs
        feeds = {k: FEEDS[case](v) for k, v in random_inputs(graph, 0).items()}
    check_bundle(graph, tmp_path, feeds=feeds)


def _litert_outputs(model: bytes, feeds: dict) -> list[np.ndarray]:
    from tests.support.oracle import litert

    interp = litert(model, reference=True)
    for detail in interp.get_input_details():
        interp.set_tensor(detail["index"], feeds[detail["name"]])
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


@pytest.mark.parametrize("case", sorted(LOOP_CASES))
def test_loop_ops_match_litert_reference_bit_for_bit(case, tmp_path):
    """Integer and bool results exact, floats to the bit (no libm approximation in these):
    FLOOR_MOD's sign rule, FLOOR_DIV's rounding toward minus infinity, the clamped start of
    DYNAMIC_UPDATE_SLICE, the first of tied values for ARG_MAX / ARG_MIN, TOPK_V2's order of
    equal values."""
    from toco_py.tensor_io import random_inputs

    graph = case_graph(case)
    model = model_bytes(graph)
    check_bundle(graph, tmp_path, opt="-O2")
    binary = str(tmp_path / "model" / "model_run")
    for seed in range(3):
        feeds = {k: FEEDS.get(case, lambda x: x)(v) for k, v in random_inputs(graph, seed).items()}
        ours = run_bundle(binary, graph, feeds)
        for name, theirs in zip(graph.outputs, _litert_outputs(model, feeds), strict=True):
            assert ours[name].dtype == theirs.dtype
            np.testing.assert_array_equal(ours[name].reshape(theirs.shape).view(np.uint8), theirs.view(np.uint8))


@pytest.mark.parametrize("op_type, dtype", [("FLOOR_DIV", np.int32), ("FLOOR_DIV", np.float32),
                                            ("FLOOR_MOD", np.int32)])
def test_a_zero_divisor_fails_the_call_as_in_litert(op_type, dtype, tmp_path):
    """LiteRT's FLOOR_DIV (any type) and integer FLOOR_MOD fail on a zero divisor."""
    graph = one_op(op_type, [np.ones(3, dtype), np.ones(3, dtype)])
    generate_bundle(graph, str(tmp_path / "d"), "d")
    binary = build(str(tmp_path / "d"), "d", opt="-O1")
    feeds = {"in0": np.array([4, -4, 5], dtype), "in1": np.array([2, 0, 3], dtype)}
    with pytest.raises(VerifyError, match=r"d_invoke failed at op #0 with error 3"):
        run_bundle(binary, graph, feeds)
    with pytest.raises(RuntimeError):
        _litert_outputs(model_bytes(graph), feeds)


def test_gather_index_out_of_range_fails_the_call(tmp_path):
    graph = one_op("GATHER", [r(7, 3), np.zeros((4,), np.int32)], {"axis": 0}, const={0})
    bundle = generate_bundle(graph, str(tmp_path / "g"), "g")
    binary = build(str(tmp_path / "g"), "g", opt="-O1")
    assert run_bundle(binary, graph, {"in1": np.array([6, 0, 3, 6], np.int32)})["out0"].shape == (4, 3)
    with pytest.raises(VerifyError, match=r"g_invoke failed at op #0 with error 1"):
        run_bundle(binary, graph, {"in1": np.array([6, 0, 7, 1], np.int32)})
    assert bundle.plan.arena_size > 0


def reshape_copy_graph() -> Graph:
    g = one_op_graph("RESHAPE", [r(2, 6), i32([3, 4])], {}, const={1})
    g.outputs.append("in0")  # the input is an output too: the reshape must copy it
    return roundtrip(g)


def test_reshape_copy_when_input_lives_on(tmp_path):
    check_bundle(reshape_copy_graph(), tmp_path)
    assert "tk_copy" in (tmp_path / "model" / "model.c").read_text()


def lstm_graph(fill: bool = True) -> Graph:
    """UNIDIRECTIONAL_SEQUENCE_LSTM with every part kernels/sequence_lstm.c has (peepholes, cell clip,
    projection with bias and clip, RELU6, batch-major), its states zeroed by FILLs before it
    as passes/fuse_lstm.py writes them, or (fill False) carried from invoke to invoke."""
    batch, steps, n_input, n_cell, n_output = 2, 3, 4, 5, 3
    g = Graph()
    g.add_tensor(Tensor("x", (batch, steps, n_input), "float32"))
    g.inputs = ["x"]
    shapes = {"input_to": (n_cell, n_input), "recurrent_to": (n_cell, n_output), "cell_to": (n_cell,),
              "gate_bias": (n_cell,), "projection_weights": (n_output, n_cell),
              "projection_bias": (n_output,)}
    inputs = ["x"]
    for name in INPUTS[1:18]:
        shape = next(v for k, v in shapes.items() if name.startswith(k) or name.endswith(k))
        g.add_tensor(const_tensor(name, r(*shape, scale=0.5)))
        inputs.append(name)
    for name, units in (("output_state", n_output), ("cell_state", n_cell)):
        g.add_tensor(Tensor(name, (batch, units), "float32", variable=True))
        if fill:
            g.add_tensor(const_tensor(f"{name}/shape", i32([batch, units])))
            g.add_tensor(const_tensor(f"{name}/zero", np.float32(0)))
            g.add_op(Op("FILL", [f"{name}/shape", f"{name}/zero"], [name], {}, name))
        inputs.append(name)
    g.add_tensor(Tensor("y", (batch, steps, n_output), "float32"))
    g.add_op(Op("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs + [""] * 4, ["y"], {
        "fused_activation_function": "RELU6", "cell_clip": 0.8, "proj_clip": 0.5,
        "time_major": False}, "lstm"))
    g.outputs = ["y"]
    return roundtrip(g)


def test_lstm_bundle(tmp_path):
    check_bundle(lstm_graph(), tmp_path, more_seeds=[1])


def test_lstm_state_carries_over_invokes_as_in_litert(tmp_path):
    """Without the FILLs the states live in the bundle's state buffer: 3 invokes in one process
    match 3 runs of one interpreter (which keeps the variable tensors), and differ from each
    other on the same input (the state carried on)."""
    graph = lstm_graph(fill=False)
    out = str(tmp_path / "carried")
    bundle = generate_bundle(graph, out, "carried")
    x = {"x": r(2, 3, 4)}
    report = verify_steps(graph, out, "carried", bundle.plan.arena_size, 3, opt=TEST_OPT, feeds=[x] * 3)
    assert report.passed, table(report)
    got = run_bundle_steps(str(tmp_path / "carried" / "carried_run"), graph, [x] * 3)
    assert not np.array_equal(got[0]["y"], got[1]["y"])


def _quantized_input(dtype: str, shape, scale, zero_point, axis: int = 0):
    g = one_op_graph("DEQUANTIZE", [np.zeros(shape, dtype)])
    g.tensors["in0"].quant = quant(scale, zero_point, axis)
    return roundtrip(g)


DEQUANTIZE_CASES = [  # dtype, shape, scale, zero point, axis
    ("int8", (2, 3), 0.05, -3, 0),
    ("int8", (3, 4), [0.1, 0.2, 0.05, 0.3], [0, 0, 0, 0], 1),
    ("int8", (2, 20, 3), np.linspace(0.01, 0.2, 20), np.arange(-10, 10), 1),  # > 16: a named array
    ("uint8", (2, 5), 0.02, 128, 0),
    ("int16", (4,), 0.001, 0, 0),
]


@pytest.mark.parametrize("dtype, shape, scale, zero_point, axis", DEQUANTIZE_CASES)
def test_dequantize_integers(dtype, shape, scale, zero_point, axis, tmp_path):
    check_bundle(_quantized_input(dtype, shape, scale, zero_point, axis), tmp_path)


QUANTIZE_CASES = [("int8", 0.02, 5), ("uint8", 0.03, 128), ("int16", 0.0005, 0)]


def quantize_graph(dtype: str, scale: float, zero_point: int) -> Graph:
    g = one_op_graph("QUANTIZE", [r(3, 7)], {"output_type": dtype})
    out = g.tensors["out0"]
    out.dtype, out.quant = dtype, quant(scale, zero_point)
    return roundtrip(g)


@pytest.mark.parametrize("dtype, scale, zero_point", QUANTIZE_CASES)
def test_quantize_saturates_and_rounds_bit_exactly(dtype, scale, zero_point, tmp_path):
    graph = quantize_graph(dtype, scale, zero_point)
    # Wide values saturate at both ends; exact halves test the rounding direction.
    x = np.concatenate([r(3, 5, scale=4), np.full((3, 2), 2.5 * scale, np.float32)], axis=1)
    check_bundle(graph, tmp_path, feeds={"in0": x})


# ---- float convolutions: LiteRT's reference summation order, bit for bit ---------------------

# Packed filters with a channel count off the lanes (vector blocks plus a tail), strides,
# dilation, depth multipliers, and weights computed at run time (the unpacked kernels).
# id -> (op type, inputs, attrs, constant input indices)
EXACT_CASES = {
    "conv_19_channels_same": ("CONV_2D", [r(1, 9, 11, 5), r(19, 3, 3, 5), r(19)], window("SAME"), {1, 2}),
    "conv_stride_dilation_batch2": ("CONV_2D", [r(2, 13, 12, 7), r(11, 3, 2, 7), r(11)],
                                    window("SAME", (2, 1), (1, 2), act="RELU6"), {1, 2}),
    "conv_1x1_odd_width": ("CONV_2D", [r(1, 5, 7, 33), r(24, 1, 1, 33), r(24)], window("VALID"), {1, 2}),
    "conv_filter_at_run_time": ("CONV_2D", [r(1, 6, 7, 4), r(5, 3, 3, 4), r(5)], window("SAME"), {2}),
    "depthwise_19_channels": ("DEPTHWISE_CONV_2D", [r(1, 9, 10, 19), r(1, 3, 3, 19), r(19)],
                              window("SAME", (2, 2), depth_multiplier=1), {1, 2}),
    "depthwise_multiplier3": ("DEPTHWISE_CONV_2D", [r(1, 7, 6, 5), r(1, 3, 3, 15), r(15)],
                              window("SAME", depth_multiplier=3), {1, 2}),
    "fc_19_units": ("FULLY_CONNECTED", [r(3, 40), r(19, 40), r(19)], {}, {1, 2}),
    "fc_weights_at_run_time": ("FULLY_CONNECTED", [r(3, 40), r(9, 40), r(9)], {}, {2}),
}


def exact_model(case: str) -> bytes:
    op_type, inputs, attrs, const = EXACT_CASES[case]
    return model_bytes(one_op_graph(op_type, inputs, attrs, 1, const))


@pytest.mark.parametrize("case", sorted(EXACT_CASES))
def test_float_convolutions_match_litert_reference_bit_for_bit(case, tmp_path):
    """The kernels sum each output channel in LiteRT's reference order (ky, kx, input
    channel), however they vectorize: the floats are the same to the bit."""
    from tests.support.oracle import litert

    model = exact_model(case)
    graph = read_model(model).main
    check_bundle(graph, tmp_path, opt="-O2")
    feeds = {n: r(*graph.tensors[n].shape) for n in graph.inputs}
    ours = run_bundle(str(tmp_path / "model" / "model_run"), graph, feeds)["out0"]
    interp = litert(model, reference=True)
    for detail in interp.get_input_details():
        interp.set_tensor(detail["index"], feeds[detail["name"]])
    interp.invoke()
    theirs = interp.get_tensor(interp.get_output_details()[0]["index"])
    assert np.array_equal(ours.reshape(theirs.shape).view(np.uint32), theirs.view(np.uint32))


def one_op_graphs() -> list[Graph]:
    """The graphs this module's one-op bundle tests bundle (test_codegen_tables lowers them)."""
    return ([case_graph(case) for case in sorted(CASES)] + [reshape_copy_graph()]
            + [_quantized_input(*case) for case in DEQUANTIZE_CASES]
            + [quantize_graph(*case) for case in QUANTIZE_CASES]
            + [read_model(exact_model(case)).main for case in sorted(EXACT_CASES)] + [lstm_graph()])
