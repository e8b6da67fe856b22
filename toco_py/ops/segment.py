"""Segment reductions: SEGMENT_SUM and UNSORTED_SEGMENT_SUM / MAX / MIN / PROD.

Each row of data (the leading axes the segment ids cover) goes into the output segment its
id names, combined in index order as LiteRT's reference kernels combine them: from the
reduction's identity (0, the type's lowest, the type's highest, 1), with integers wrapping.
An unsorted id below 0 skips its row. SEGMENT_SUM takes LiteRT's stricter ids: rank 1, the
first 0, each one the previous or the next (TensorFlow allows gaps; LiteRT fails on them).
LiteRT runs them on float32 and int32 only: int8 stays in float.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import need_const, need_shape
from .registry import register


def _identity(dtype: np.dtype, reduction: str):
    # LiteRT's float kernels are float32 ones: the interpreter's float64 run starts an empty
    # maximum at float32's lowest too.
    info = np.finfo(np.float32) if dtype.kind == "f" else np.iinfo(dtype)
    return {"sum": 0, "prod": 1, "max": info.min, "min": info.max}[reduction]


# op type -> (numpy ufunc that combines in place, its identity's name). fmax / fmin: from a
# value that is not NaN, std::max / std::min keep it against a NaN, and so do these.
_UNSORTED = {
    "UNSORTED_SEGMENT_SUM": (np.add, "sum"),
    "UNSORTED_SEGMENT_PROD": (np.multiply, "prod"),
    "UNSORTED_SEGMENT_MAX": (np.fmax, "max"),
    "UNSORTED_SEGMENT_MIN": (np.fmin, "min"),
}


def _reduce(ufunc, start, data: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray:
    rows = data.reshape((ids.size,) + data.shape[ids.ndim:])
    flat = ids.reshape(-1)
    out = np.full((n,) + rows.shape[1:], start, data.dtype)
    keep = flat >= 0
    with np.errstate(over="ignore"):
        ufunc.at(out, flat[keep], rows[keep])  # unbuffered, in index order
    return out


def _count_length(op: Op, data: np.ndarray, ids: np.ndarray, *rest) -> int:
    """The most rows one segment sums (the tolerance policy's sum length)."""
    return max(1, int(np.bincount(ids[ids >= 0].reshape(-1), minlength=1).max()))


def _prefix_problem(id_shape: tuple, shape: tuple) -> bool:
    return len(id_shape) > len(shape) or any(a != b and a >= 0 and b >= 0 for a, b in zip(id_shape, shape))


# ---- UNSORTED_SEGMENT_* --------------------------------------------------------------------

def _segments(op: Op, num) -> int:
    num = np.asarray(num)
    if num.size != 1:
        raise ConversionError(f"{op!r}: num_segments must be a single value, has shape {list(num.shape)}")
    n = int(num.reshape(-1)[0])
    if n < 0:
        raise ConversionError(f"{op!r}: num_segments must not be negative, is {n}")
    return n


def _infer_unsorted(op: Op, data: Tensor, ids: Tensor, num: Tensor):
    shape, id_shape = need_shape(op, data), need_shape(op, ids)
    if _prefix_problem(id_shape, shape):
        raise ConversionError(f"{op!r}: segment ids of shape {list(id_shape)} do not index the "
                              f"leading axes of data of shape {list(shape)}")
    n = _segments(op, need_const(op, num, "num_segments"))
    if ids.data is not None:
        _check_ids(op, ids.data, n)
    return (n,) + shape[len(id_shape):], data.dtype


def _check_ids(op: Op, ids: np.ndarray, n: int) -> None:
    if ids.size and ids.max() >= n:
        raise ConversionError(f"{op!r}: a segment id ({int(ids.max())}) is not below num_segments ({n})")


def _unsorted(op: Op, data: np.ndarray, ids: np.ndarray, num: np.ndarray) -> np.ndarray:
    n = _segments(op, num)
    _check_ids(op, ids, n)
    ufunc, reduction = _UNSORTED[op.type]
    return _reduce(ufunc, _identity(data.dtype, reduction), data, ids, n)


# ---- SEGMENT_SUM ---------------------------------------------------------------------------

def litert_sorted(ids: np.ndarray) -> bool:
    """Whether LiteRT's SEGMENT_SUM takes these ids: 0, then steps of 0 or 1."""
    flat = np.asarray(ids, np.int64).reshape(-1)
    return not flat.size or (flat[0] == 0 and bool(np.all((np.diff(flat) == 0) | (np.diff(flat) == 1))))


def _sorted_count(op: Op, ids: np.ndarray) -> int:
    """The number of segments of LiteRT's sorted ids."""
    flat = np.asarray(ids, np.int64).reshape(-1)
    if not litert_sorted(flat):
        raise ConversionError(f"{op!r}: LiteRT's SEGMENT_SUM needs segment ids that start at 0 and "
                              "rise by 0 or 1 (no empty segment); use UnsortedSegmentSum for others")
    return int(flat[-1]) + 1 if flat.size else 0


def _infer_segment_sum(op: Op, data: Tensor, ids: Tensor):
    shape, id_shape = need_shape(op, data), need_shape(op, ids)
    if not shape or len(id_shape) != 1 or _prefix_problem(id_shape, shape):
        raise ConversionError(f"{op!r}: segment ids must be one id per row of data (rank 1, "
                              f"{shape[0] if shape else 'rank 1 or more'}), have shape {list(id_shape)}")
    count = -1 if ids.data is None else _sorted_count(op, ids.data)
    return (count,) + shape[1:], data.dtype


def _segment_sum(op: Op, data: np.ndarray, ids: np.ndarray) -> np.ndarray:
    return _reduce(np.add, 0, data, ids, _sorted_count(op, ids))


register("SEGMENT_SUM", traits={"value_shaped"}, infer=_infer_segment_sum, kernel=_segment_sum,
         sum_length=_count_length, squares="sum")
register("UNSORTED_SEGMENT_SUM", infer=_infer_unsorted, kernel=_unsorted, sum_length=_count_length,
         squares="sum")
register("UNSORTED_SEGMENT_PROD", infer=_infer_unsorted, kernel=_unsorted, sum_length=_count_length)
for _name in ("UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_MIN"):
    register(_name, infer=_infer_unsorted, kernel=_unsorted, traits={"moves_data"})
