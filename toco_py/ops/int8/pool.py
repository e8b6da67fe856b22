"""Quantized MAX_POOL_2D and AVERAGE_POOL_2D (reference_integer_ops::MaxPool / AveragePool,
and their uint8 / int16 twins, which compute the same way).

Both work on the raw integers: the output is read with the input's params. LiteRT only
DCHECKs that the two tensors share them (a release build computes regardless and mislabels
the result), so a mismatch is refused here with the op named.
"""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ...ir import Graph, Op
from ..pool import window_counts, window_max, window_sums
from ..quantize_ops import QUANTIZED_TYPES
from ..registry import register_int8
from .common import activation_range
from .litert import per_tensor, require_dtype


def _check_params(op: Op, graph: Graph) -> str:
    dtype = require_dtype(op, graph, op.inputs[0], QUANTIZED_TYPES)
    require_dtype(op, graph, op.outputs[0], (dtype,))
    in_scale, in_zero = per_tensor(op, graph, op.inputs[0])
    out_scale, out_zero = per_tensor(op, graph, op.outputs[0])
    # The tolerance of pooling.cc's TFLITE_DCHECK_LE(|in - out scale|, 1e-6).
    if in_zero != out_zero or abs(float(in_scale) - float(out_scale)) > 1e-6:
        raise ConversionError(
            f"{op!r}: quantized {op.type} keeps its input's params, but the input has "
            f"(scale {in_scale}, zero point {in_zero}) and the output ({out_scale}, {out_zero})")
    return dtype


def _clamp(op: Op, graph: Graph, values: np.ndarray, dtype: str) -> np.ndarray:
    """The fused activation as a clamp in the output's quantized units."""
    scale, zero = per_tensor(op, graph, op.outputs[0])
    lo, hi = activation_range(op, float(scale), zero, dtype)
    return np.clip(values, lo, hi).astype(dtype)


def max_pool_quantized(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    dtype = _check_params(op, graph)
    # Padding with the type's lowest value never wins, like the clamped window of the kernel
    # (every window holds at least one input pixel).
    return _clamp(op, graph, window_max(op, x, np.iinfo(dtype).min), dtype)


def rounded_divide(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The kernel's "round to the closest integer": (acc +/- count / 2) / count with C's
    truncating divisions, the sign of the correction chosen by acc > 0 (so ties round away
    from zero, and a zero sum stays zero)."""
    half = count // 2
    shifted = np.where(total > 0, total + half, total - half)
    quotient = np.abs(shifted) // count
    return np.where(shifted < 0, -quotient, quotient)


def average_pool_quantized(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    dtype = _check_params(op, graph)
    mean = rounded_divide(window_sums(op, x.astype(np.int64)), window_counts(op, x, np.int64))
    return _clamp(op, graph, mean, dtype)


register_int8("MAX_POOL_2D", max_pool_quantized)
register_int8("AVERAGE_POOL_2D", average_pool_quantized)
