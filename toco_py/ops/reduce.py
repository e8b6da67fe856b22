"""Reductions over an axes tensor (MEAN, SUM, REDUCE_*) and ARG_MAX/ARG_MIN."""
from __future__ import annotations

import numpy as np

from ..ir import Op, Tensor
from .common import need_const, need_shape, normalize_axis
from .registry import register


def reduced_axes(op: Op, axes: np.ndarray, rank: int) -> tuple[int, ...]:
    return tuple(sorted({normalize_axis(op, int(a), rank) for a in np.ravel(axes)}))


def reduced_shape(op: Op, shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape left by reducing over axes: 1s there with keep_dims, else dropped."""
    if op.attrs.get("keep_dims"):
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _infer_reduce(op: Op, x: Tensor, axes: Tensor):
    shape = need_shape(op, x)
    axes_ = reduced_axes(op, need_const(op, axes, "axis"), len(shape))
    return reduced_shape(op, shape, axes_), x.dtype


def _reduce(fn):
    def kernel(op: Op, x: np.ndarray, axes: np.ndarray) -> np.ndarray:
        axes_ = reduced_axes(op, axes, x.ndim)
        out = fn(x, axis=axes_, keepdims=bool(op.attrs.get("keep_dims")))
        return np.asarray(out).astype(x.dtype, copy=False)
    return kernel


def _mean(x: np.ndarray, axis, keepdims):
    if np.issubdtype(x.dtype, np.integer):
        return np.trunc(np.mean(x, axis=axis, keepdims=keepdims))
    return np.mean(x, axis=axis, keepdims=keepdims, dtype=np.float64)


def reduced_count(op: Op, x: np.ndarray, axes: np.ndarray) -> int:
    """How many input elements each output element of a reduction combines."""
    return int(np.prod([x.shape[a] for a in reduced_axes(op, axes, x.ndim)], dtype=np.int64))


register("MEAN", traits={"tflm"},
         infer=_infer_reduce, kernel=_reduce(_mean), squares="mean", sum_length=reduced_count)
register("SUM", traits={"tflm"},
         infer=_infer_reduce, kernel=_reduce(np.sum), squares="sum", sum_length=reduced_count)
# name: (function, traits)
for _name, (_fn, _traits) in {
    "REDUCE_MAX": (np.max, {"moves_data", "tflm"}),
    "REDUCE_MIN": (np.min, {"moves_data", "tflm"}),
    "REDUCE_PROD": (np.prod, set()),
    "REDUCE_ANY": (np.any, set()),
    "REDUCE_ALL": (np.all, {"tflm"}),
}.items():
    register(_name, infer=_infer_reduce, kernel=_reduce(_fn), traits=_traits)


def _infer_arg(op: Op, x: Tensor, axis: Tensor):
    shape = need_shape(op, x)
    a = normalize_axis(op, int(np.ravel(need_const(op, axis, "axis"))[0]), len(shape))
    return tuple(d for i, d in enumerate(shape) if i != a), op.attrs.get("output_type", "int64")


def _arg(fn):
    def kernel(op: Op, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
        a = normalize_axis(op, int(np.ravel(axis)[0]), x.ndim)
        return fn(x, axis=a).astype(op.attrs.get("output_type", "int64"))
    return kernel


register("ARG_MAX", traits={"tflm"}, infer=_infer_arg, kernel=_arg(np.argmax))
register("ARG_MIN", traits={"tflm"}, infer=_infer_arg, kernel=_arg(np.argmin))
