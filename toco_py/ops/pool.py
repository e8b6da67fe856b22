"""2-D pooling in NHWC: MAX_POOL_2D and AVERAGE_POOL_2D (padding excluded from averages)."""
from __future__ import annotations

import numpy as np

from ..ir import Op, Tensor
from .common import activation_of, apply_activation, need_shape
from .conv import conv_out_hw, extract_patches
from .registry import register


def _filter(op: Op) -> tuple[int, int]:
    return op.attrs["filter_height"], op.attrs["filter_width"]


def _infer_pool(op: Op, x: Tensor):
    n, h, w, c = need_shape(op, x)
    oh, ow = conv_out_hw(op, h, w, *_filter(op))
    return (n, oh, ow, c), x.dtype


def max_pool(op: Op, x: np.ndarray) -> np.ndarray:
    out = None
    for _, patch in extract_patches(x, *_filter(op), op, pad_value=-np.inf):
        out = patch.copy() if out is None else np.maximum(out, patch)
    return apply_activation(out.astype(x.dtype, copy=False), activation_of(op))


def average_pool(op: Op, x: np.ndarray) -> np.ndarray:
    kh, kw = _filter(op)
    total = None
    for _, patch in extract_patches(x.astype(np.float64), kh, kw, op):
        total = patch.copy() if total is None else total + patch
    ones = np.ones((1,) + x.shape[1:3] + (1,))
    count = None
    for _, patch in extract_patches(ones, kh, kw, op):
        count = patch.copy() if count is None else count + patch
    return apply_activation((total / count).astype(x.dtype), activation_of(op))


register("MAX_POOL_2D", infer=_infer_pool, kernel=max_pool)
register("AVERAGE_POOL_2D", infer=_infer_pool, kernel=average_pool)
