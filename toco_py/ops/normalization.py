"""LOCAL_RESPONSE_NORMALIZATION: each value over a power of its channel neighbourhood's
sum of squares (TensorFlow's LRN, which LiteRT's kernel computes the same way)."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import need_shape
from .registry import APPROXIMATED, register


def _radius(op: Op) -> int:
    radius = int(op.attrs.get("radius", 5))
    if radius < 0:
        raise ConversionError(f"{op!r}: radius must not be negative, is {radius}")
    return radius


def _infer_lrn(op: Op, x: Tensor):
    shape = need_shape(op, x)
    if len(shape) != 4:
        raise ConversionError(f"{op!r}: needs a 4-D input, not shape {list(shape)}")
    _radius(op)
    return shape, x.dtype


def _square_sums(op: Op, x: np.ndarray) -> np.ndarray:
    """Each channel's sum of squares over channels [c - radius, c + radius], TensorFlow's
    window and that of LiteRT's builtin kernel (its reference kernel stops one short)."""
    r = _radius(op)
    squares = np.square(x.astype(np.float64))
    padded = np.pad(np.cumsum(squares, axis=-1), [(0, 0)] * (x.ndim - 1) + [(1, 0)])
    depth = x.shape[-1]
    hi = np.minimum(np.arange(depth) + r + 1, depth)
    lo = np.maximum(np.arange(depth) - r, 0)
    return padded[..., hi] - padded[..., lo]


def _lrn(op: Op, x: np.ndarray) -> np.ndarray:
    bias, alpha, beta = (float(op.attrs.get(k, d)) for k, d in (("bias", 1.0), ("alpha", 1.0), ("beta", 0.5)))
    return (x * np.power(bias + alpha * _square_sums(op, x), -beta)).astype(x.dtype)


register("LOCAL_RESPONSE_NORMALIZATION", infer=_infer_lrn, kernel=_lrn, ulps=APPROXIMATED,
         sum_length=lambda op, x: 2 * _radius(op) + 1)
