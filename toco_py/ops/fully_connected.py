"""FULLY_CONNECTED (weights [out, in]) and BATCH_MATMUL."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import IGNORED_ACTIVATIONS, activation_of, apply_activation, broadcast_shapes, need_shape
from .registry import register


def refuse_ignored_activation(op: Op) -> None:
    # LiteRT's FULLY_CONNECTED fails to prepare with these (the other ops ignore them).
    if activation_of(op) in IGNORED_ACTIVATIONS:
        raise ConversionError(f"{op!r}: FULLY_CONNECTED cannot fuse {activation_of(op)} in TFLite")


def _infer_fc(op: Op, x: Tensor, w: Tensor, b: Tensor | None = None):
    refuse_ignored_activation(op)
    xs, (o, k) = need_shape(op, x), need_shape(op, w)
    if op.attrs.get("keep_num_dims"):
        return tuple(xs[:-1]) + (o,), x.dtype
    if all(d >= 0 for d in xs):
        total = int(np.prod(xs))
        if k <= 0 or total % k:
            raise ConversionError(f"{op!r}: input of {total} elements is not a multiple of {k}")
        return (total // k, o), x.dtype
    return (-1, o), x.dtype


def fully_connected(op: Op, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    k = w.shape[1]
    out = x.reshape(-1, k) @ w.T
    if b is not None:
        out = out + b
    if op.attrs.get("keep_num_dims"):
        out = out.reshape(x.shape[:-1] + (w.shape[0],))
    return apply_activation(out.astype(x.dtype, copy=False), op)


def _infer_batch_matmul(op: Op, a: Tensor, b: Tensor):
    sa, sb = list(need_shape(op, a)), list(need_shape(op, b))
    if op.attrs.get("adj_x"):
        sa[-2], sa[-1] = sa[-1], sa[-2]
    if op.attrs.get("adj_y"):
        sb[-2], sb[-1] = sb[-1], sb[-2]
    batch = broadcast_shapes(op, tuple(sa[:-2]), tuple(sb[:-2]))
    return batch + (sa[-2], sb[-1]), a.dtype


def batch_matmul(op: Op, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if op.attrs.get("adj_x"):
        a = np.swapaxes(a, -1, -2)
    if op.attrs.get("adj_y"):
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b).astype(a.dtype, copy=False)


register("FULLY_CONNECTED", traits={"fused_activation", "affine", "tflm"}, weight_axis=(1, 0),
         infer=_infer_fc, kernel=fully_connected, squares="sum",
         sum_length=lambda op, x, w, b=None: w.shape[1])
register("BATCH_MATMUL", traits={"tflm"}, infer=_infer_batch_matmul, kernel=batch_matmul, squares="sum",
         sum_length=lambda op, a, b: a.shape[-2 if op.attrs.get("adj_x") else -1])
