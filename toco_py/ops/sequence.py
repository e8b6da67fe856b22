"""Ops along one axis read as a sequence: TOPK_V2, CUMSUM, ONE_HOT, UNSORTED_SEGMENT_SUM.

Each follows LiteRT's kernel: TOPK_V2 orders equal values by index, CUMSUM adds along the
axis one term at a time in the input's type (as numpy's cumsum does), ONE_HOT writes
off_value for an index outside [0, depth), UNSORTED_SEGMENT_SUM adds the rows in index order
and skips a negative segment id.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import need_const, need_shape, normalize_axis
from .registry import register


def _scalar(op: Op, value, what: str) -> int:
    value = np.asarray(value)
    if value.size != 1:
        raise ConversionError(f"{op!r}: {what} must be a single value, has shape {list(value.shape)}")
    return int(value.reshape(-1)[0])


# ---- TOPK_V2 ---------------------------------------------------------------------------

def _k(op: Op, k, last: int) -> int:
    k = _scalar(op, k, "k")
    if k < 0 or (last >= 0 and k > last):
        raise ConversionError(f"{op!r}: k = {k} is outside [0, {last}], the size of the last axis")
    return k


def _infer_top_k(op: Op, x: Tensor, k: Tensor):
    shape = need_shape(op, x)
    if not shape:
        raise ConversionError(f"{op!r}: needs an input of rank 1 or more")
    out = shape[:-1] + (_k(op, need_const(op, k, "k"), shape[-1]),)
    return [(out, x.dtype), (out, "int32")]


def _top_k(op: Op, x: np.ndarray, k: np.ndarray):
    k = _k(op, k, x.shape[-1])
    n = x.shape[-1]
    # Descending values, equal values by ascending index: a stable ascending sort of the
    # reversed axis, read backwards (no negation, which would overflow the lowest integer).
    order = n - 1 - np.argsort(x[..., ::-1], axis=-1, kind="stable")[..., ::-1]
    indices = order[..., :k].astype(np.int32)
    return np.take_along_axis(x, indices, axis=-1), indices


# ---- CUMSUM ----------------------------------------------------------------------------

def _cumsum(op: Op, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
    a = normalize_axis(op, _scalar(op, axis, "axis"), x.ndim)
    reverse, exclusive = op.attrs.get("reverse", False), op.attrs.get("exclusive", False)
    seq = np.flip(x, a) if reverse else x
    sums = np.cumsum(seq, axis=a, dtype=x.dtype)
    if exclusive:
        zero = np.zeros_like(np.take(sums, [0], axis=a))
        sums = np.concatenate([zero, np.delete(sums, -1, axis=a)], axis=a) if x.shape[a] else sums
    return np.ascontiguousarray(np.flip(sums, a) if reverse else sums)


def _infer_cumsum(op: Op, x: Tensor, axis: Tensor):
    shape = need_shape(op, x)
    normalize_axis(op, _scalar(op, need_const(op, axis, "axis"), "axis"), len(shape))
    return shape, x.dtype


def _cumsum_length(op: Op, x: np.ndarray, axis: np.ndarray) -> int:
    return max(1, x.shape[normalize_axis(op, _scalar(op, axis, "axis"), x.ndim)])


# ---- ONE_HOT ---------------------------------------------------------------------------

def _one_hot_axis(op: Op, rank: int) -> int:
    axis = int(op.attrs.get("axis", -1))
    return rank if axis == -1 else normalize_axis(op, axis, rank + 1)


def _depth(op: Op, depth) -> int:
    d = _scalar(op, depth, "depth")
    if d < 0:
        raise ConversionError(f"{op!r}: depth must not be negative, is {d}")
    return d


def _infer_one_hot(op: Op, indices: Tensor, depth: Tensor, on: Tensor, off: Tensor):
    shape = need_shape(op, indices)
    a = _one_hot_axis(op, len(shape))
    d = _depth(op, need_const(op, depth, "depth"))
    if on.dtype != off.dtype:
        raise ConversionError(f"{op!r}: on_value ({on.dtype}) and off_value ({off.dtype}) differ in type")
    return shape[:a] + (d,) + shape[a:], on.dtype


def _one_hot(op: Op, indices: np.ndarray, depth: np.ndarray, on: np.ndarray, off: np.ndarray):
    a = _one_hot_axis(op, indices.ndim)
    d = _depth(op, depth)
    positions = np.arange(d).reshape((d,) + (1,) * (indices.ndim - a))
    hot = np.expand_dims(indices, a) == positions
    return np.where(hot, np.ravel(on)[0], np.ravel(off)[0]).astype(on.dtype)


# ---- UNSORTED_SEGMENT_SUM ----------------------------------------------------------------

def _segments(op: Op, num) -> int:
    n = _scalar(op, num, "num_segments")
    if n < 0:
        raise ConversionError(f"{op!r}: num_segments must not be negative, is {n}")
    return n


def _infer_segment_sum(op: Op, data: Tensor, ids: Tensor, num: Tensor):
    shape, id_shape = need_shape(op, data), need_shape(op, ids)
    if len(id_shape) > len(shape) or any(a != b and a >= 0 and b >= 0 for a, b in zip(id_shape, shape)):
        raise ConversionError(f"{op!r}: segment ids of shape {list(id_shape)} do not index the "
                              f"leading axes of data of shape {list(shape)}")
    return (_segments(op, need_const(op, num, "num_segments")),) + shape[len(id_shape):], data.dtype


def _segment_sum(op: Op, data: np.ndarray, ids: np.ndarray, num: np.ndarray) -> np.ndarray:
    n = _segments(op, num)
    rows = data.reshape((ids.size,) + data.shape[ids.ndim:])
    flat = ids.reshape(-1)
    if np.any(flat >= n):
        raise ConversionError(f"{op!r}: a segment id ({int(flat.max())}) is not below num_segments ({n})")
    out = np.zeros((n,) + rows.shape[1:], data.dtype)
    keep = flat >= 0
    np.add.at(out, flat[keep], rows[keep])  # unbuffered, in index order
    return out


def _segment_length(op: Op, data: np.ndarray, ids: np.ndarray, num: np.ndarray) -> int:
    return max(1, int(np.bincount(ids[ids >= 0].reshape(-1), minlength=1).max()))


register("TOPK_V2", infer=_infer_top_k, kernel=_top_k, traits={"moves_data"})
register("CUMSUM", infer=_infer_cumsum, kernel=_cumsum, sum_length=_cumsum_length, squares="sum",
         traits={"tflm"})
register("ONE_HOT", infer=_infer_one_hot, kernel=_one_hot)
register("UNSORTED_SEGMENT_SUM", infer=_infer_segment_sum, kernel=_segment_sum,
         sum_length=_segment_length, squares="sum")
