"""Ops that read part of a tensor: STRIDED_SLICE, SLICE, GATHER, GATHER_ND.

STRIDED_SLICE follows LiteRT's kernel rather than TensorFlow's where the two differ: LiteRT
expands the ellipsis and new axes into an "effective" input, clamps each index before the
begin/end masks override it, and applies begin_mask even on a shrunk axis (the TF mapper
clears those bits, so TF models keep TF's meaning).
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import need_const, need_shape, normalize_axis
from .registry import register

# ---- STRIDED_SLICE -------------------------------------------------------------------


def _bit(mask: int, i: int) -> bool:
    return bool((mask >> i) & 1)


def ellipsis_width(op: Op, rank: int, count: int, n_new: int) -> int:
    """How many input axes the ellipsis stands for (LiteRT never gives it fewer than one;
    TensorFlow's StridedSlice may give it none)."""
    width = rank + n_new - count + 1
    if width < 1 and op.type == "STRIDED_SLICE":
        # LiteRT would read past the input's dimensions here.
        raise ConversionError(
            f"{op!r}: the ellipsis covers no axis of a rank-{rank} input, which LiteRT's "
            "STRIDED_SLICE does not support; index without '...'")
    return max(width, 0)


def effective_axes(op: Op, rank: int, count: int) -> list[tuple[int | None, int | None]]:
    """LiteRT's expansion of the sparse slice spec: per axis of the effective input (the
    input with the new axes inserted), (spec index or None for a full range, input axis or
    None for a new axis)."""
    ellipsis = op.attrs.get("ellipsis_mask", 0) & ((1 << count) - 1)
    new_axis = op.attrs.get("new_axis_mask", 0)
    if ellipsis.bit_count() > 1:
        raise ConversionError(f"{op!r}: more than one ellipsis in the slice")
    n_new = sum(1 for i in range(count) if _bit(new_axis, i) and not _bit(ellipsis, i))
    axes: list[tuple[int | None, int | None]] = []
    next_input = 0
    for i in range(count):
        if _bit(ellipsis, i):
            width = ellipsis_width(op, rank, count, n_new)
            axes += [(None, next_input + k) for k in range(width)]
            next_input += width
        elif _bit(new_axis, i):
            axes.append((i, None))
        else:
            axes.append((i, next_input))
            next_input += 1
    if next_input > rank:
        raise ConversionError(f"{op!r}: {count} slice indices for a rank-{rank} input")
    return axes + [(None, a) for a in range(next_input, rank)]


def _clamp_index(index: int, size: int, stride: int) -> int:
    if index < 0:
        index += size
    # Forward ranges stop one past the end; backward ones one before the start.
    return min(max(index, 0), size) if stride > 0 else min(max(index, -1), size - 1)


def axis_range(op: Op, i: int, size: int, begin, end, stride) -> range:
    """The input positions that spec entry i reads along an axis of `size`."""
    if stride == 0:
        raise ConversionError(f"{op!r}: stride 0 on slice index {i}")
    start = _clamp_index(int(begin), size, stride)
    if _bit(op.attrs.get("begin_mask", 0), i):
        start = 0 if stride > 0 else size - 1
    if _bit(op.attrs.get("shrink_axis_mask", 0), i):
        if stride < 0:
            raise ConversionError(f"{op!r}: negative stride on shrunk slice index {i}")
        return range(start, start + 1 if start < size else start, stride)
    if op.attrs.get("offset"):
        return _offset_range(op, i, size, start, int(end), stride)
    stop = _clamp_index(int(end), size, stride)
    if _bit(op.attrs.get("end_mask", 0), i):
        stop = size if stride > 0 else -1
    return range(start, stop, stride)


def _offset_range(op: Op, i: int, size: int, start: int, length: int, stride: int) -> range:
    """With `offset`, end is a length from begin; LiteRT sizes the output from it alone."""
    r = range(start, _clamp_index(start + length, size, stride), stride)
    if _bit(op.attrs.get("end_mask", 0), i):
        r = range(start, size if stride > 0 else -1, stride)
    if len(r) != len(range(0, length, stride)):
        raise ConversionError(f"{op!r}: slice index {i} runs past the input's bounds")
    return r


def _range_as_slice(r: range) -> slice:
    if len(r) == 0:
        return slice(0, 0)
    stop = r[-1] + r.step
    return slice(r.start, stop if stop >= 0 else None, r.step)


def _spec(begin: Tensor, end: Tensor, strides: Tensor, op: Op):
    values = [need_const(op, t, what)
              for t, what in ((begin, "begin"), (end, "end"), (strides, "strides"))]
    # LiteRT accepts only vectors of one length here.
    if any(v.ndim != 1 for v in values) or len({v.size for v in values}) != 1:
        raise ConversionError(f"{op!r}: begin, end and strides must be vectors of one length, "
                              f"not of shapes {[v.shape for v in values]}")
    return [v.astype(np.int64) for v in values]


def _plan_axis(op: Op, spec_i: int | None, size: int, begin, end, strides):
    """(range read along one effective axis or None if its size is unknown, kept in output?)."""
    if spec_i is None:  # covered by the ellipsis or past the spec: everything
        return (range(size) if size >= 0 else None), True
    kept = not _bit(op.attrs.get("shrink_axis_mask", 0), spec_i)
    if size < 0:
        return None, kept
    r = axis_range(op, spec_i, size, begin[spec_i], end[spec_i], strides[spec_i])
    if not kept and len(r) != 1:
        raise ConversionError(f"{op!r}: index {begin[spec_i]} is out of range for an axis "
                              f"of size {size}")
    return r, kept


def strided_slice_plan(op: Op, shape, begin, end, strides):
    """(effective input shape, [(range or None, kept?) per effective axis])."""
    if op.attrs.get("offset") and (len(begin) != len(shape) or op.attrs.get("ellipsis_mask")
                                   or op.attrs.get("new_axis_mask")):
        # LiteRT then reads sizes past the end of the `end` tensor.
        raise ConversionError(f"{op!r}: an offset slice must index every axis explicitly")
    eff_shape, plan = [], []
    for spec_i, input_axis in effective_axes(op, len(shape), len(begin)):
        if input_axis is None:  # a new axis of size 1
            eff_shape.append(1)
            plan.append((range(1), True))
        else:
            eff_shape.append(shape[input_axis])
            plan.append(_plan_axis(op, spec_i, shape[input_axis], begin, end, strides))
    return eff_shape, plan


def _infer_strided_slice(op: Op, x: Tensor, begin: Tensor, end: Tensor, strides: Tensor):
    shape = need_shape(op, x)
    if not (begin.is_const and end.is_const) and not op.attrs.get("offset"):
        return _run_time_slice_shape(op, shape, begin, end, strides), x.dtype
    _, plan = strided_slice_plan(op, shape, *_spec(begin, end, strides, op))
    return tuple(-1 if r is None else len(r) for r, kept in plan if kept), x.dtype


def _run_time_slice_shape(op: Op, shape, begin: Tensor, end: Tensor, strides: Tensor) -> tuple:
    """The shape of a slice whose begin or end is known at run time only (x[:, i] in a loop
    body): an axis it indexes (shrink_axis_mask) goes, one both masks cover is whole, any
    other axis it slices has a run-time size (-1)."""
    step = need_const(op, strides, "strides").astype(np.int64).ravel()
    if need_shape(op, begin) != (step.size,) or need_shape(op, end) != (step.size,):
        raise ConversionError(f"{op!r}: begin, end and strides must be vectors of one length")
    whole = op.attrs.get("begin_mask", 0) & op.attrs.get("end_mask", 0)
    out = []
    for spec_i, input_axis in effective_axes(op, len(shape), step.size):
        size = 1 if input_axis is None else shape[input_axis]
        if spec_i is None or input_axis is None:
            out.append(size)
        elif _bit(op.attrs.get("shrink_axis_mask", 0), spec_i):
            continue
        elif _bit(whole, spec_i) and size >= 0:
            out.append(len(axis_range(op, spec_i, size, 0, 0, step[spec_i])))
        else:
            out.append(-1)
    return tuple(out)


def _strided_slice(op: Op, x, begin, end, strides) -> np.ndarray:
    values = [np.ravel(v).astype(np.int64) for v in (begin, end, strides)]
    eff_shape, plan = strided_slice_plan(op, x.shape, *values)
    picked = x.reshape(eff_shape)[tuple(_range_as_slice(r) for r, _ in plan)]
    return np.array(picked.reshape([len(r) for r, kept in plan if kept]), order="C")


# ---- SLICE ---------------------------------------------------------------------------


def slice_bounds(op: Op, shape, begin, size) -> list[tuple[int, int]]:
    """(start, length) per axis; a length of -1 runs to the end (also for unknown sizes)."""
    begin, size = np.ravel(begin).astype(np.int64), np.ravel(size).astype(np.int64)
    if begin.size != len(shape) or size.size != len(shape):
        raise ConversionError(f"{op!r}: begin and size must have one entry per input axis")
    bounds = []
    for dim, b, s in zip(shape, begin.tolist(), size.tolist()):
        if s == -1:
            s = dim - b if dim >= 0 else -1
        if b < 0 or s < -1 or (dim >= 0 and (s < 0 or b + s > dim)):
            raise ConversionError(f"{op!r}: slice from {b} of size {s} does not fit in {dim}")
        bounds.append((b, s))
    return bounds


def _infer_slice(op: Op, x: Tensor, begin: Tensor, size: Tensor):
    bounds = slice_bounds(op, need_shape(op, x), need_const(op, begin, "begin"),
                          need_const(op, size, "size"))
    return tuple(s for _, s in bounds), x.dtype


def _slice(op: Op, x, begin, size) -> np.ndarray:
    bounds = slice_bounds(op, x.shape, begin, size)
    return np.array(x[tuple(slice(b, b + s) for b, s in bounds)], order="C")


# ---- GATHER / GATHER_ND --------------------------------------------------------------


def gather_axes(op: Op, params_rank: int, indices_rank: int) -> tuple[int, int]:
    axis = normalize_axis(op, int(op.attrs.get("axis", 0)), params_rank)
    batch_dims = int(op.attrs.get("batch_dims", 0))
    if batch_dims < 0:
        batch_dims += indices_rank
    if not 0 <= batch_dims <= min(axis, indices_rank):
        raise ConversionError(f"{op!r}: batch_dims {op.attrs.get('batch_dims')} must be in "
                              f"[0, axis {axis}] and at most the indices' rank {indices_rank}")
    return axis, batch_dims


def _gather_shape(op: Op, params: tuple, indices: tuple) -> tuple:
    axis, batch_dims = gather_axes(op, len(params), len(indices))
    for p, i in zip(params[:batch_dims], indices[:batch_dims]):
        if p != i and p >= 0 and i >= 0:
            raise ConversionError(f"{op!r}: batch dimensions of {params} and {indices} differ")
    return params[:axis] + indices[batch_dims:] + params[axis + 1:]


def _check_indices(op: Op, indices: np.ndarray, limit) -> None:
    # LiteRT fails the invocation on an out-of-range index; so do we, rather than wrap.
    if indices.size and (indices.min() < 0 or np.any(indices >= limit)):
        raise ConversionError(f"{op!r}: an index is out of range [0, {limit})")


def _gather(op: Op, params: np.ndarray, indices: np.ndarray) -> np.ndarray:
    out_shape = _gather_shape(op, params.shape, indices.shape)
    axis, batch_dims = gather_axes(op, params.ndim, indices.ndim)
    _check_indices(op, indices, params.shape[axis])
    if batch_dims == 0:
        return np.take(params, indices, axis=axis)
    # Gather within each batch element: flatten the batch dimensions into one.
    flat_params = params.reshape((-1,) + params.shape[batch_dims:])
    flat_indices = indices.reshape((-1,) + indices.shape[batch_dims:])
    parts = [np.take(p, i, axis=axis - batch_dims) for p, i in zip(flat_params, flat_indices)]
    if not parts:
        return np.empty(out_shape, params.dtype)
    return np.stack(parts).reshape(out_shape)


def _gather_nd_shape(op: Op, params: tuple, indices: tuple) -> tuple:
    if not indices or not 1 <= indices[-1] <= len(params):
        raise ConversionError(f"{op!r}: indices of shape {indices} do not index a "
                              f"rank-{len(params)} tensor")
    return indices[:-1] + params[indices[-1]:]


def _gather_nd(op: Op, params: np.ndarray, indices: np.ndarray) -> np.ndarray:
    _gather_nd_shape(op, params.shape, indices.shape)
    depth = indices.shape[-1]
    _check_indices(op, indices, np.asarray(params.shape[:depth]))
    return np.array(params[tuple(np.moveaxis(indices, -1, 0))], order="C")


register("STRIDED_SLICE", traits={"moves_data", "tflm"},
         infer=_infer_strided_slice, kernel=_strided_slice)
# TensorFlow's StridedSlice as the TF mapper emits it: STRIDED_SLICE's meaning, except that
# an ellipsis may cover no axis. passes/legalize_strided_slice.py writes the ellipsis out.
register("StridedSlice", builtin=False, infer=_infer_strided_slice, kernel=_strided_slice)
register("SLICE", traits={"moves_data", "tflm"}, infer=_infer_slice, kernel=_slice)
register("GATHER", traits={"moves_data", "tflm"}, kernel=_gather,
         infer=lambda op, p, i: (_gather_shape(op, need_shape(op, p), need_shape(op, i)), p.dtype))
register("GATHER_ND", traits={"moves_data", "tflm"}, kernel=_gather_nd,
         infer=lambda op, p, i: (_gather_nd_shape(op, need_shape(op, p), need_shape(op, i)), p.dtype))
