"""2-D pooling in NHWC: MAX_POOL_2D and AVERAGE_POOL_2D (padding excluded from averages)."""
from __future__ import annotations

import numpy as np

from ..ir import Op, Tensor
from .common import apply_activation, need_shape
from .conv import conv_out_hw, extract_patches
from .registry import register


def pool_filter(op: Op) -> tuple[int, int]:
    return op.attrs["filter_height"], op.attrs["filter_width"]


def _infer_pool(op: Op, x: Tensor):
    n, h, w, c = need_shape(op, x)
    oh, ow = conv_out_hw(op, h, w, *pool_filter(op))
    return (n, oh, ow, c), x.dtype


def window_max(op: Op, x: np.ndarray, pad_value) -> np.ndarray:
    """The maximum of each pooling window; padding reads as pad_value."""
    out = None
    for _, patch in extract_patches(x, *pool_filter(op), op, pad_value=pad_value):
        out = patch.copy() if out is None else np.maximum(out, patch)
    return out


def window_sums(op: Op, x: np.ndarray) -> np.ndarray:
    """The sum of each pooling window (padding adds nothing), in x's dtype."""
    total = None
    for _, patch in extract_patches(x, *pool_filter(op), op):
        total = patch.copy() if total is None else total + patch
    return total


def window_counts(op: Op, x: np.ndarray, dtype) -> np.ndarray:
    """How many input pixels (padding excluded) each output window covers, [1,OH,OW,1]."""
    return window_sums(op, np.ones((1,) + x.shape[1:3] + (1,), dtype))


def max_pool(op: Op, x: np.ndarray) -> np.ndarray:
    out = window_max(op, x, -np.inf)
    return apply_activation(out.astype(x.dtype, copy=False), op)


def average_pool(op: Op, x: np.ndarray) -> np.ndarray:
    mean = window_sums(op, x.astype(np.float64)) / window_counts(op, x, np.float64)
    return apply_activation(mean.astype(x.dtype), op)


register("MAX_POOL_2D", traits={"fused_activation", "moves_data", "tflm"},
         infer=_infer_pool, kernel=max_pool)
register("AVERAGE_POOL_2D", traits={"fused_activation", "moves_data", "tflm"},
         infer=_infer_pool, kernel=average_pool, squares="mean",
         sum_length=lambda op, x: op.attrs["filter_height"] * op.attrs["filter_width"])
