"""int8 SOFTMAX and LOG_SOFTMAX as LiteRT's reference resolver runs them: the gemmlowp
fixed-point reference_ops::Softmax (input_beta_multiplier, diff_min, exp in Q5.26, sum in
Q12.19) and reference_integer_ops::LogSoftmax, over the last axis.

One difference is deliberate: the reference SOFTMAX aborts the whole process (a TFLITE_CHECK)
when a row's sum of exponentials reaches 2^9 (hundreds of logits near the maximum), because
its final shift would exceed 31. Here that shift is simply applied to the 64-bit value; the
result then agrees with LiteRT's optimized kernel to within one quantization step.
"""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ...ir import Graph, Op
from .. import fixed_point as fx
from ..registry import register_int8
from .litert import per_tensor, require_int8

SCALED_DIFF_INTEGER_BITS = 5  # exp() inputs are Q5.26: differences down to -32
ACCUMULATION_INTEGER_BITS = 12  # the sum of exps is Q12.19: up to 4096 terms of 1
MAX_REAL_MULTIPLIER = float((1 << 31) - 1)  # a double-rounding build's cap


def input_beta_multiplier(beta: float, input_scale: float, op: Op) -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling and CalculateInputRadius: (multiplier, left shift, diff_min).
    beta * scale maps an input difference to real units, times 2^26 for Q5.26; differences
    below diff_min would overflow Q5.26 and stand for exp() = 0."""
    real = min(float(beta) * float(input_scale) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)),
               MAX_REAL_MULTIPLIER)
    multiplier, left_shift = fx.multiplier_greater_than_one(real, f"{op!r} input_beta_multiplier")
    radius = (float((1 << SCALED_DIFF_INTEGER_BITS) - 1) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS))
              / float(1 << left_shift))
    return multiplier, left_shift, -int(np.floor(radius))


def _diffs(x: np.ndarray) -> np.ndarray:
    """Each input minus its row's maximum, rows along the last axis."""
    rows = x.reshape(-1, x.shape[-1]).astype(np.int64)
    return rows - rows.max(axis=1, keepdims=True)


def _exps(diff: np.ndarray, multiplier: int, left_shift: int, diff_min: int) -> tuple[np.ndarray, np.ndarray]:
    """(exp of each difference in Q0.31, their row sums in Q12.19); differences below
    diff_min are left out."""
    valid = diff >= diff_min
    rescaled = fx.scale_double_rounding(np.where(valid, diff, 0), multiplier, left_shift)
    exps = fx.exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS)
    terms = np.where(valid, fx.rescale(exps, 0, ACCUMULATION_INTEGER_BITS), 0)
    return exps, fx.wrap32(terms.sum(axis=1, keepdims=True))


def _input_scale(op: Op, graph: Graph, out_ok, wanted: str) -> np.float32:
    """The input scale, once the output params pass the op's Prepare checks."""
    require_int8(op, graph, [op.inputs[0], op.outputs[0]])
    si, _ = per_tensor(op, graph, op.inputs[0])
    so, zo = per_tensor(op, graph, op.outputs[0])
    if not out_ok(so, zo):
        raise ConversionError(f"{op!r}: int8 {op.type} needs output params {wanted} (got {so}, {zo})")
    return si


def softmax_params(op: Op, graph: Graph) -> tuple[int, int, int]:
    """SoftmaxPrepare: (input_beta_multiplier, its left shift, diff_min)."""
    si = _input_scale(op, graph,
                      lambda so, zo: not (zo != -128 or abs(float(so) - 1.0 / 256) > 0.001 / 256),
                      "1/256, -128")
    return input_beta_multiplier(np.float32(op.attrs.get("beta", 1.0)), si, op)


def softmax_int8(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    multiplier, left_shift, diff_min = softmax_params(op, graph)
    diff = _diffs(x)
    exps, sums = _exps(diff, multiplier, left_shift, diff_min)
    shifted_scale, num_bits_over_unit = fx.get_reciprocal(sums, ACCUMULATION_INTEGER_BITS)
    exponent = num_bits_over_unit + 31 - 8  # to 8 output bits
    unsat = fx.rdbpot(fx.srdhm(shifted_scale, exps), exponent)
    out = np.where(diff >= diff_min, np.clip(unsat - 128, -128, 127), -128)
    return out.astype(np.int8).reshape(x.shape)


def log_softmax_params(op: Op, graph: Graph) -> tuple[int, int, int, tuple[int, int]]:
    """LogSoftmaxPrepare: (input multiplier, its left shift, diff_min, reverse scaling)."""
    si = _input_scale(op, graph, lambda so, zo: float(so) == 16.0 / 256 and zo == 127,
                      "16/256, 127")
    # PreprocessLogSoftmaxScalingExp, beta fixed at 1: also the inverse of the input scaling.
    multiplier, left_shift, diff_min = input_beta_multiplier(1.0, si, op)
    if left_shift == 0:  # 1 << 31 overflows int in LiteRT's Prepare, which then aborts
        raise ConversionError(f"{op!r}: input scale {si} is too small for LiteRT's LOG_SOFTMAX")
    reverse = fx.multiplier_smaller_than_one(float(1 << (31 - left_shift)) / float(multiplier),
                                             f"{op!r} reverse scaling")
    return multiplier, left_shift, diff_min, reverse


def log_softmax_int8(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    multiplier, left_shift, diff_min, reverse = log_softmax_params(op, graph)
    diff = _diffs(x)
    _, sums = _exps(diff, multiplier, left_shift, diff_min)
    log_sum = fx.log_x_for_x_greater_than_or_equal_to_1(sums, ACCUMULATION_INTEGER_BITS,
                                                        SCALED_DIFF_INTEGER_BITS)
    # Differences whose log-softmax falls below the smallest Q5.26 value give -128.
    shifted_log_sum = fx.wrap32(log_sum + fx.INT32_MIN)
    adjusted_diff_min = np.maximum(diff_min - 1, fx.scale_double_rounding(shifted_log_sum, *reverse))
    keep = diff > adjusted_diff_min
    in_q5 = fx.scale_double_rounding(np.where(keep, diff, 0), multiplier, left_shift)
    output_integer_bits = 4  # the output is Q4 in 1/16 steps, zero point 127
    scaled = fx.rdbpot(fx.wrap32(in_q5 - log_sum), 31 - SCALED_DIFF_INTEGER_BITS - output_integer_bits)
    out = np.where(keep, np.clip(scaled + 127, -128, 127), -128)
    return out.astype(np.int8).reshape(x.shape)


register_int8("SOFTMAX", softmax_int8)
register_int8("LOG_SOFTMAX", log_softmax_int8)
