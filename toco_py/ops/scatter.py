"""Ops that write values at positions: MATRIX_DIAG, MATRIX_SET_DIAG, SCATTER_ND, SPARSE_TO_DENSE,
DYNAMIC_UPDATE_SLICE.

Each follows LiteRT's kernel: MATRIX_DIAG fills off the diagonal with 0 (the raw integer 0 in
int8, whatever the zero point); MATRIX_SET_DIAG copies the input and writes the main diagonal
of each (possibly non-square) innermost matrix; SCATTER_ND starts from 0 and adds the updates
in index order (integers wrap), so repeated indices sum; SPARSE_TO_DENSE starts from the
default value and writes the values in index order, so a repeated index keeps the last.
An index out of range fails the invocation in LiteRT, and here. DYNAMIC_UPDATE_SLICE copies its
operand and writes the update at the start indices, each clamped so that the update fits (XLA's
semantics, which LiteRT's kernel follows): it never fails.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import need_const, need_shape
from .registry import register

# LiteRT's SPARSE_TO_DENSE extends every output to 4 dimensions.
SPARSE_TO_DENSE_MAX_RANK = 4


def _check_in_range(op: Op, positions: np.ndarray, limits) -> None:
    if positions.size and (positions.min() < 0 or np.any(positions >= np.asarray(limits))):
        raise ConversionError(f"{op!r}: an index is out of range for the output shape {list(limits)}")


# ---- MATRIX_DIAG / MATRIX_SET_DIAG -------------------------------------------------------

def _infer_matrix_diag(op: Op, diagonal: Tensor):
    shape = need_shape(op, diagonal)
    if not shape:
        raise ConversionError(f"{op!r}: needs a diagonal of rank 1 or more, has a scalar")
    return shape + shape[-1:], diagonal.dtype


def _matrix_diag(op: Op, diagonal: np.ndarray) -> np.ndarray:
    n = diagonal.shape[-1]
    out = np.zeros(diagonal.shape + (n,), diagonal.dtype)
    out[..., np.arange(n), np.arange(n)] = diagonal
    return out


def _infer_matrix_set_diag(op: Op, x: Tensor, diagonal: Tensor):
    shape, diag = need_shape(op, x), need_shape(op, diagonal)
    if len(shape) < 2:
        raise ConversionError(f"{op!r}: needs a matrix (rank 2 or more), has shape {list(shape)}")
    want = shape[:-2] + (min(shape[-2:]),) if min(shape[-2:]) >= 0 else None
    if want is not None and (len(diag) != len(want) or any(0 <= d != w >= 0 for d, w in zip(diag, want))):
        raise ConversionError(f"{op!r}: a diagonal of shape {list(diag)} does not fit matrices of "
                              f"shape {list(shape)} (it needs {list(want)})")
    if x.dtype != diagonal.dtype:
        raise ConversionError(f"{op!r}: input ({x.dtype}) and diagonal ({diagonal.dtype}) differ in type")
    return shape, x.dtype


def _matrix_set_diag(op: Op, x: np.ndarray, diagonal: np.ndarray) -> np.ndarray:
    n = min(x.shape[-2:])
    out = x.copy()
    out[..., np.arange(n), np.arange(n)] = diagonal.reshape(x.shape[:-2] + (n,))
    return out


# ---- SCATTER_ND --------------------------------------------------------------------------

def _scatter_shape(op: Op, indices: tuple, updates: tuple, shape) -> tuple[int, ...]:
    out = tuple(int(d) for d in np.ravel(shape))
    if not indices or not 1 <= indices[-1] <= len(out) or any(d < 0 for d in out):
        raise ConversionError(f"{op!r}: indices of shape {list(indices)} do not index an output "
                              f"of shape {list(out)}")
    want = indices[:-1] + out[indices[-1]:]
    if len(updates) != len(want) or any(0 <= u != w >= 0 for u, w in zip(updates, want)):
        raise ConversionError(f"{op!r}: updates of shape {list(updates)} do not fit indices of shape "
                              f"{list(indices)} into {list(out)} (they need {list(want)})")
    return out


def _infer_scatter_nd(op: Op, indices: Tensor, updates: Tensor, shape: Tensor):
    out = _scatter_shape(op, need_shape(op, indices), need_shape(op, updates),
                         need_const(op, shape, "shape"))
    return out, updates.dtype


def _scatter_rows(op: Op, indices: np.ndarray, updates: np.ndarray, shape) -> tuple:
    """(flat output, row number of each update slice, update slices, output shape)."""
    out_shape = _scatter_shape(op, indices.shape, updates.shape, shape)
    depth = indices.shape[-1]
    positions = indices.reshape(-1, depth).astype(np.int64)
    _check_in_range(op, positions, out_shape[:depth])
    rows = np.ravel_multi_index(positions.T, out_shape[:depth]) if positions.size else np.zeros(0, np.int64)
    slices = updates.reshape((len(rows), -1))
    return rows, slices, out_shape


def _scatter_nd(op: Op, indices: np.ndarray, updates: np.ndarray, shape: np.ndarray) -> np.ndarray:
    rows, slices, out_shape = _scatter_rows(op, indices, updates, shape)
    depth = indices.shape[-1]
    out = np.zeros((int(np.prod(out_shape[:depth])), int(np.prod(out_shape[depth:]))), updates.dtype)
    np.add.at(out, rows, slices)  # unbuffered, in index order; integers wrap
    return out.reshape(out_shape)


def _scatter_length(op: Op, indices: np.ndarray, updates: np.ndarray, shape: np.ndarray) -> int:
    rows, _, _ = _scatter_rows(op, indices, updates, shape)
    return max(1, int(np.bincount(rows).max())) if rows.size else 1


# ---- SPARSE_TO_DENSE ---------------------------------------------------------------------

def _dense_positions(op: Op, indices: tuple, shape, values: tuple) -> tuple[int, ...]:
    out = tuple(int(d) for d in np.ravel(shape))
    if len(indices) > 2 or len(values) > 1:
        raise ConversionError(f"{op!r}: indices of rank {len(indices)} and values of rank "
                              f"{len(values)}; SPARSE_TO_DENSE takes at most 2 and 1")
    if len(out) > SPARSE_TO_DENSE_MAX_RANK or any(d < 0 for d in out):
        raise ConversionError(f"{op!r}: output shape {list(out)}; LiteRT's SPARSE_TO_DENSE makes "
                              f"outputs of at most {SPARSE_TO_DENSE_MAX_RANK} dimensions")
    depth = indices[1] if len(indices) == 2 else 1
    count = indices[0] if indices else 1
    if depth != len(out) or (values and 0 <= count != values[0] >= 0):
        raise ConversionError(f"{op!r}: indices of shape {list(indices)} and values of shape "
                              f"{list(values)} do not fit an output of shape {list(out)}")
    return out


def _infer_sparse_to_dense(op: Op, indices: Tensor, shape: Tensor, values: Tensor, default: Tensor):
    out = _dense_positions(op, need_shape(op, indices), need_const(op, shape, "output shape"),
                           need_shape(op, values))
    if values.dtype != default.dtype:
        raise ConversionError(f"{op!r}: values ({values.dtype}) and default value ({default.dtype}) "
                              "differ in type")
    return out, values.dtype


def _sparse_to_dense(op: Op, indices: np.ndarray, shape: np.ndarray, values: np.ndarray,
                     default: np.ndarray) -> np.ndarray:
    out_shape = _dense_positions(op, indices.shape, shape, values.shape)
    positions = indices.reshape(-1, len(out_shape)).astype(np.int64)
    _check_in_range(op, positions, out_shape)
    out = np.full(out_shape, np.ravel(default)[0], values.dtype)
    written = np.broadcast_to(np.ravel(values), (len(positions),))
    for position, value in zip(positions, written):  # in order: a repeated index keeps the last
        out[tuple(position)] = value
    return out


def _infer_dynamic_update_slice(op: Op, operand: Tensor, update: Tensor, start: Tensor):
    shape, part = need_shape(op, operand), need_shape(op, update)
    if len(part) != len(shape) or any(0 <= d < u for d, u in zip(shape, part)):
        raise ConversionError(f"{op!r}: an update of shape {list(part)} does not fit in an operand "
                              f"of shape {list(shape)}")
    if start.shape is not None and tuple(start.shape) != (len(shape),):
        raise ConversionError(f"{op!r}: its start indices have shape {list(start.shape)}, not "
                              f"[{len(shape)}] (one per operand axis)")
    if update.dtype != operand.dtype:
        raise ConversionError(f"{op!r}: update ({update.dtype}) and operand ({operand.dtype}) "
                              "differ in type")
    return shape, operand.dtype


def _dynamic_update_slice(op: Op, operand: np.ndarray, update: np.ndarray,
                          start: np.ndarray) -> np.ndarray:
    out = operand.copy()
    first = [min(max(int(s), 0), d - u) for s, d, u in zip(np.ravel(start), operand.shape, update.shape)]
    out[tuple(slice(f, f + u) for f, u in zip(first, update.shape))] = update
    return out


# MATRIX_DIAG's and SCATTER_ND's int8 kernels start from the raw 0: the quantizer gives them
# (and their data inputs, which they copy) a zero point of 0, so that it means 0.
register("MATRIX_DIAG", traits={"moves_data", "shared_params", "zero_fill"}, infer=_infer_matrix_diag,
         kernel=_matrix_diag)
# MATRIX_SET_DIAG's and SPARSE_TO_DENSE's outputs take values of two inputs (a diagonal or
# default value outside the other's range): their int8 params come from the output's own
# range, and their inputs share them (LiteRT copies the raw integers).
register("MATRIX_SET_DIAG", traits={"shared_params"}, infer=_infer_matrix_set_diag,
         kernel=_matrix_set_diag)
register("SCATTER_ND", traits={"moves_data", "shared_params", "zero_fill"}, infer=_infer_scatter_nd, kernel=_scatter_nd,
         sum_length=_scatter_length, squares="sum")
register("SPARSE_TO_DENSE", traits={"shared_params"}, infer=_infer_sparse_to_dense, kernel=_sparse_to_dense)
# The output holds the operand's and the update's raw values: in int8 they share params.
register("DYNAMIC_UPDATE_SLICE", traits={"shared_params", "tflm"}, infer=_infer_dynamic_update_slice,
         kernel=_dynamic_update_slice)
