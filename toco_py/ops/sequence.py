"""Ops along one axis read as a sequence: TOPK_V2, CUMSUM, ONE_HOT, REVERSE_SEQUENCE, Roll.

Each follows LiteRT's kernel: TOPK_V2 orders equal values by index, CUMSUM adds along the
axis one term at a time in the input's type (as numpy's cumsum does), ONE_HOT writes
off_value for an index outside [0, depth), REVERSE_SEQUENCE reverses the first
seq_lengths[b] entries of each batch entry b and keeps the rest. Roll (TensorFlow's, with
constant shifts) has no builtin: it becomes one GATHER per rolled axis.
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
    # The axis of an ApproxTopK the op stands for (the schema stores none: TOPK_V2 reduces the
    # last axis, and a model read back has no other).
    axis = op.attrs.get("axis", -1)
    if axis not in (-1, len(shape) - 1):
        raise ConversionError(f"{op!r}: reduction_dimension {axis} must be the last axis (-1) of the "
                              f"rank-{len(shape)} input; TFLite's TOPK_V2 reduces the last axis only")
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


# ---- REVERSE_SEQUENCE ----------------------------------------------------------------------

def _sequence_axes(op: Op, rank: int) -> tuple[int, int]:
    seq, batch = int(op.attrs.get("seq_dim", 0)), int(op.attrs.get("batch_dim", 0))
    if not (0 <= seq < rank and 0 <= batch < rank) or seq == batch:
        raise ConversionError(f"{op!r}: seq_dim {seq} and batch_dim {batch} must be two different "
                              f"axes in [0, {rank}) (LiteRT takes no negative axis)")
    return seq, batch


def _lengths(op: Op, lengths, shape: tuple, seq: int, batch: int) -> None:
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or (shape[batch] >= 0 and lengths.size != shape[batch]):
        raise ConversionError(f"{op!r}: seq_lengths must hold one length per batch entry "
                              f"({shape[batch]}), has shape {list(lengths.shape)}")
    if lengths.size and (lengths.min() < 0 or (shape[seq] >= 0 and lengths.max() > shape[seq])):
        raise ConversionError(f"{op!r}: a sequence length is outside [0, {shape[seq]}], the size of "
                              "the sequence axis")


def _infer_reverse_sequence(op: Op, x: Tensor, lengths: Tensor):
    shape = need_shape(op, x)
    seq, batch = _sequence_axes(op, len(shape))
    if lengths.data is not None:
        _lengths(op, lengths.data, shape, seq, batch)
    return shape, x.dtype


def _reverse_sequence(op: Op, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    seq, batch = _sequence_axes(op, x.ndim)
    _lengths(op, lengths, x.shape, seq, batch)
    out = x.copy()
    for b, n in enumerate(lengths.tolist()):
        part = [slice(None)] * x.ndim
        part[batch], part[seq] = slice(b, b + 1), slice(0, n)
        out[tuple(part)] = np.flip(x[tuple(part)], seq)  # the rest of the sequence stays
    return out


# ---- Roll (converter-only) -------------------------------------------------------------------

def roll_shifts(op: Op, rank: int) -> dict[int, int]:
    """axis -> total shift (TensorFlow adds the shifts of an axis named twice)."""
    shifts, axes = op.attrs["shift"], op.attrs["axis"]
    if len(shifts) != len(axes):
        raise ConversionError(f"{op!r}: {len(shifts)} shifts for {len(axes)} axes")
    total: dict[int, int] = {}
    for shift, axis in zip(shifts, axes):
        a = normalize_axis(op, axis, rank)
        total[a] = total.get(a, 0) + shift
    return total


def _infer_roll(op: Op, x: Tensor):
    shape = need_shape(op, x)
    roll_shifts(op, len(shape))
    return shape, x.dtype


def _roll(op: Op, x: np.ndarray) -> np.ndarray:
    total = roll_shifts(op, x.ndim)
    return np.roll(x, list(total.values()), list(total.keys())) if total else x


register("TOPK_V2", infer=_infer_top_k, kernel=_top_k, traits={"moves_data"})
register("CUMSUM", infer=_infer_cumsum, kernel=_cumsum, sum_length=_cumsum_length, squares="sum",
         traits={"tflm"})
register("ONE_HOT", infer=_infer_one_hot, kernel=_one_hot)
register("REVERSE_SEQUENCE", infer=_infer_reverse_sequence, kernel=_reverse_sequence,
         traits={"moves_data"})
# TensorFlow's Roll with constant shifts; passes/lower_roll.py makes GATHERs of it.
register("Roll", builtin=False, infer=_infer_roll, kernel=_roll, traits={"moves_data"})
