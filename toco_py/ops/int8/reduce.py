"""Quantized MEAN, SUM, REDUCE_MAX and REDUCE_MIN, as LiteRT's reference kernels compute them
(kernels/reduce.cc with internal/reference/reduce.h).

MEAN and SUM both run reference_ops::QuantizedMeanOrSum, whatever the rank, axes, keep_dims
and params (this LiteRT no longer has the special 4-D mean over axes 1 and 2, nor the
equal-params shortcut, in its reference path; tests/test_int8_pool_reduce.py covers those
cases): an int32 sum of the raw values, minus input zero point * count, requantized with
input_scale / output_scale, the mean folding 1/count into that multiplier.
REDUCE_MAX / REDUCE_MIN compare raw values and require equal input and output params.
"""
from __future__ import annotations

import numpy as np

from ...ir import Graph, Op
from ..fixed_point import quantize_multiplier, scale_double_rounding, wrap32
from ..quantize_ops import QUANTIZED_TYPES
from ..reduce import reduced_axes, reduced_shape
from ..registry import REGISTRY, register_int8
from .litert import per_tensor, require_all, require_dtype, require_same_params, require_zero_points

# The requantization rounding of MEAN and of SUM: both measured to round twice (gemmlowp),
# SUM on uint8 (see test_int8_pool_reduce.py for why not int8).
SCALE = scale_double_rounding


def mean_multiplier(multiplier: int, shift: int, count: int) -> tuple[int, int]:
    """Folds 1/count into (multiplier, shift) as QuantizedMeanOrSum does: shift left by
    floor(log2(count)) (at most 32, and no further than a total shift of -31 allows), then
    divide the widened multiplier by count with integer (truncating) division."""
    widen = count.bit_length() - 1
    widen = min(widen, 32, 31 + shift)
    return (multiplier << widen) // count, shift - widen


def _check_types(op: Op, graph: Graph) -> str:
    dtype = require_dtype(op, graph, op.inputs[0], QUANTIZED_TYPES)
    require_dtype(op, graph, op.outputs[0], (dtype,))
    return dtype


def mean_or_sum_params(op: Op, graph: Graph) -> tuple[str, float, int, float, int]:
    """(type, input scale and zero point, output scale and zero point), once
    PrepareMeanOrSum's checks pass."""
    dtype = _check_types(op, graph)
    if dtype == "int16":
        require_zero_points(op, graph, [op.inputs[0], op.outputs[0]])
    in_scale, in_zero = per_tensor(op, graph, op.inputs[0])
    out_scale, out_zero = per_tensor(op, graph, op.outputs[0])
    return dtype, in_scale, in_zero, out_scale, out_zero


def mean_or_sum_multiplier(in_scale: float, out_scale: float, count: int,
                           compute_sum: bool) -> tuple[int, int]:
    """PrepareMeanOrSum: double(input scale) / double(output scale); MEAN folds 1/count in
    (when it reduces any element)."""
    multiplier, shift = quantize_multiplier(float(in_scale) / float(out_scale))
    if not compute_sum and count:
        multiplier, shift = mean_multiplier(multiplier, shift, count)
    return multiplier, shift


def quantized_mean_or_sum(op: Op, graph: Graph, x: np.ndarray, axis: np.ndarray,
                          compute_sum: bool) -> np.ndarray:
    dtype, in_scale, in_zero, out_scale, out_zero = mean_or_sum_params(op, graph)
    axes = reduced_axes(op, axis, x.ndim)
    shape = reduced_shape(op, x.shape, axes)
    if x.size == 0:
        # LiteRT zero-fills the output (raw zeros, not the zero point) and stops.
        return np.zeros(shape, dtype)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    sums = wrap32(np.sum(x.astype(np.int64), axis=axes).reshape(shape))
    shifted = wrap32(sums - in_zero * count)
    multiplier, shift = mean_or_sum_multiplier(in_scale, out_scale, count, compute_sum)
    # The int32 kernel keeps only the low 32 bits of a requantized value that overflows
    # (a huge input/output scale ratio), and of the zero point added to it.
    scaled = wrap32(SCALE(shifted, multiplier, shift))
    out = wrap32(scaled + out_zero)
    info = np.iinfo(dtype)
    return np.clip(out, info.min, info.max).astype(dtype)


def mean_quantized(op: Op, graph: Graph, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
    return quantized_mean_or_sum(op, graph, x, axis, compute_sum=False)


def sum_quantized(op: Op, graph: Graph, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
    return quantized_mean_or_sum(op, graph, x, axis, compute_sum=True)


def _extreme(op_type: str):
    """REDUCE_MAX / REDUCE_MIN: the float kernel on raw values, once the params agree."""
    def kernel(op: Op, graph: Graph, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
        _check_types(op, graph)
        require_same_params(op, graph, [op.inputs[0], op.outputs[0]], "its input and output")
        return REGISTRY[op_type].kernel(op, x, axis)
    return kernel


def _scale_int64(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """MultiplyByQuantizedMultiplier's int64 overload: the multiplier rounded to 16 bits, one
    rounding (half up) and the low 32 bits kept."""
    reduced = (multiplier + (1 << 15)) >> 16 if multiplier < 0x7FFF0000 else 0x7FFF
    total_shift = 15 - shift
    return wrap32((x * reduced + (1 << (total_shift - 1))) >> total_shift)


def reduce_prod_quantized(op: Op, graph: Graph, x: np.ndarray, axis: np.ndarray,
                          dtype: str = "int8") -> np.ndarray:
    """reference_ops::QuantizedReduceProd: the product, rescaled after each multiplication by
    in_scale / out_scale^(1/n) (GetQuantProdScaling) so it stays in int32, then once more."""
    require_all(op, graph, [op.inputs[0], op.outputs[0]], dtype)
    in_scale, in_zero = per_tensor(op, graph, op.inputs[0])
    out_scale, out_zero = per_tensor(op, graph, op.outputs[0])
    axes = reduced_axes(op, axis, x.ndim)
    shape = reduced_shape(op, x.shape, axes)
    kept = [a for a in range(x.ndim) if a not in axes]
    # The reduced elements of each output in the order the reference loop visits them.
    terms = np.transpose(x, kept + list(axes)).reshape(-1, max(1, int(np.prod([x.shape[a] for a in axes]))))
    count = terms.shape[1]
    multiplier, shift = quantize_multiplier(float(in_scale) / (float(out_scale) ** (1.0 / count)))
    values = terms.astype(np.int64) - in_zero
    product = values[:, 0]
    for k in range(1, count):
        product = _scale_int64(product * values[:, k], multiplier, shift)
    out = wrap32(_scale_int64(product, multiplier, shift) + out_zero)
    info = np.iinfo(dtype)
    return np.clip(out, info.min, info.max).astype(dtype).reshape(shape)


def reduce_prod_int8(op: Op, graph: Graph, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
    return reduce_prod_quantized(op, graph, x, axis)


def _arg(op_type: str):
    """ARG_MAX / ARG_MIN: the float kernel on raw values (a positive scale keeps their order)."""
    def kernel(op: Op, graph: Graph, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
        require_dtype(op, graph, op.inputs[0], QUANTIZED_TYPES)
        return REGISTRY[op_type].kernel(op, x, axis)
    return kernel


register_int8("MEAN", mean_quantized)
register_int8("SUM", sum_quantized)
register_int8("REDUCE_MAX", _extreme("REDUCE_MAX"))
register_int8("REDUCE_MIN", _extreme("REDUCE_MIN"))
register_int8("REDUCE_PROD", reduce_prod_int8)
register_int8("ARG_MAX", _arg("ARG_MAX"))
register_int8("ARG_MIN", _arg("ARG_MIN"))
