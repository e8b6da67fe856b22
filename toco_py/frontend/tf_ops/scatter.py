"""Ops that write values at positions: MatrixDiag and MatrixSetDiag (all versions), ScatterNd,
SparseToDense, and the compositions TensorScatterUpdate, TensorScatterAdd, InvertPermutation
and (Parallel)DynamicStitch. The compositions' shapes, masks and ranges are SHAPE, FILL, RANGE
and Size of their inputs, which folding makes constants when the shapes are static."""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ..context import NodeContext
from .array import int32_input
from .registry import tf_op
from .slicing import emit_size


def _all_equal(ctx: NodeContext, i: int, value: int) -> bool:
    const = ctx.const_input(i)
    return const is not None and const.size > 0 and bool(np.all(np.asarray(const) == value))


def _main_diagonal_only(ctx: NodeContext, checks: list[tuple[int, str, int]]) -> None:
    """TFLite's MATRIX_DIAG / MATRIX_SET_DIAG write the main diagonal (k = 0) of a square
    matrix (num_rows = num_cols = -1) padded with 0, as TF's converter requires of V2 and V3
    (their align attribute means nothing for one diagonal)."""
    wrong = [f"{what} = {value}" for i, what, value in checks if not _all_equal(ctx, i, value)]
    if wrong:
        raise ConversionError(f"node {ctx.name!r} ({ctx.node.op}) converts only with constant "
                              f"{', '.join(wrong)} (TFLite writes the main diagonal of a square matrix); "
                              "build other diagonals from the main one with tf.pad or tf.where")


@tf_op("MatrixDiag")
def matrix_diag(ctx: NodeContext) -> None:
    ctx.emit("MATRIX_DIAG", [ctx.input(0)])


@tf_op("MatrixDiagV2", "MatrixDiagV3")
def matrix_diag_v2(ctx: NodeContext) -> None:
    _main_diagonal_only(ctx, [(1, "k", 0), (2, "num_rows", -1), (3, "num_cols", -1),
                              (4, "padding_value", 0)])
    ctx.emit("MATRIX_DIAG", [ctx.input(0)])


@tf_op("MatrixSetDiag")
def matrix_set_diag(ctx: NodeContext) -> None:
    ctx.emit("MATRIX_SET_DIAG", [ctx.input(0), ctx.input(1)])


@tf_op("MatrixSetDiagV2", "MatrixSetDiagV3")
def matrix_set_diag_v2(ctx: NodeContext) -> None:
    _main_diagonal_only(ctx, [(2, "k", 0)])
    ctx.emit("MATRIX_SET_DIAG", [ctx.input(0), ctx.input(1)])


# ---- scatters ----------------------------------------------------------------------------

def _shape_of(ctx: NodeContext, i: int, suffix: str) -> str:
    shape = ctx.temp(suffix)
    ctx.emit("SHAPE", [ctx.input(i)], {"out_type": "int32"}, outputs=[shape])
    return shape


def _scatter(ctx: NodeContext, indices: str, updates: str, shape: str, suffix: str | None = None) -> str:
    out = ctx.temp(suffix) if suffix else ctx.output(0)
    ctx.emit("SCATTER_ND", [indices, updates, shape], outputs=[out])
    return out


@tf_op("ScatterNd")
def scatter_nd(ctx: NodeContext) -> None:
    # LiteRT's SCATTER_ND fails on an index out of range, which TF's converter accepts under
    # every policy it legalizes.
    policy = ctx.attr("bad_indices_policy", "")
    if policy not in ("", "DEFAULT", "IGNORE"):
        raise ConversionError(f"node {ctx.name!r} (ScatterNd): bad_indices_policy {policy!r} does not "
                              "convert; use the default policy")
    _scatter(ctx, int32_input(ctx, 0, "indices", "Tindices"), ctx.input(1),
             int32_input(ctx, 2, "shape", "Tindices"))


@tf_op("TensorScatterAdd")
def tensor_scatter_add(ctx: NodeContext) -> None:
    """tensor + SCATTER_ND(indices, updates, shape(tensor)): repeated indices add up in both."""
    added = _scatter(ctx, int32_input(ctx, 1, "indices", "Tindices"), ctx.input(2),
                     _shape_of(ctx, 0, "shape"), "scattered")
    ctx.emit("ADD", [ctx.input(0), added], {"fused_activation_function": "NONE"})


@tf_op("TensorScatterUpdate")
def tensor_scatter_update(ctx: NodeContext) -> None:
    """SELECT_V2(where written, SCATTER_ND(updates), tensor), where written is a bool
    SCATTER_ND of True (a constant when the indices are): 2 ops where TF's converter emits 6,
    and a select keeps NaN and infinity of the tensor out of the written rows."""
    indices, shape = int32_input(ctx, 1, "indices", "Tindices"), _shape_of(ctx, 0, "shape")
    scattered = _scatter(ctx, indices, ctx.input(2), shape, "scattered")
    ones = ctx.temp("written_values")
    ctx.emit("FILL", [_shape_of(ctx, 2, "updates_shape"), ctx.const("true", np.array(True))], outputs=[ones])
    written = _scatter(ctx, indices, ones, shape, "written")
    ctx.emit("SELECT_V2", [written, scattered, ctx.input(0)])


@tf_op("InvertPermutation")
def invert_permutation(ctx: NodeContext) -> None:
    """y[x[i]] = i: SCATTER_ND of range(n) at x as a column of indices (the range and the
    shape fold to constants for a static x; all of it folds for a constant x)."""
    dtype = ctx.dtype_attr("T", "int32")
    column = ctx.temp("indices")
    ctx.emit("RESHAPE", [int32_input(ctx, 0, "x", "T"), ctx.const("column", np.array([-1, 1], np.int32))],
             outputs=[column])
    n, positions = ctx.temp("n"), ctx.temp("positions")
    emit_size(ctx, ctx.input(0), dtype, n)
    ctx.emit("RANGE", [ctx.const("zero", np.array(0, dtype)), n, ctx.const("one", np.array(1, dtype))],
             outputs=[positions])
    _scatter(ctx, column, positions, _shape_of(ctx, 0, "shape"))


# ---- DynamicStitch -----------------------------------------------------------------------

def _stitch_order(ctx: NodeContext, indices: list[np.ndarray]) -> np.ndarray:
    """For each output row, the row of the data concatenated in order that lands there (the
    last one, as TensorFlow's kernel writes in order)."""
    flat = np.concatenate([np.ravel(i) for i in indices]).astype(np.int64)
    if flat.size == 0 or flat.min() < 0:
        raise ConversionError(f"node {ctx.name!r} ({ctx.node.op}): its indices must be non-negative "
                              "and not all empty")
    source = np.full(int(flat.max()) + 1, -1, np.int64)
    source[flat] = np.arange(flat.size)  # numpy assigns a repeated index its last value
    if np.any(source < 0):
        unset = np.flatnonzero(source < 0)[:5].tolist()
        raise ConversionError(f"node {ctx.name!r} ({ctx.node.op}): its indices leave output rows "
                              f"{unset} unset, which TensorFlow leaves undefined; index every row")
    return source


def _rows(ctx: NodeContext, k: int, index: np.ndarray, data: str) -> str:
    """The data input as rows ([index.size] + the trailing shape): as it is for vector indices,
    else a RESHAPE by a shape made of the data's own (constant when static)."""
    if index.ndim == 1:
        return data
    shape, trailing, rows = ctx.temp(f"shape{k}"), ctx.temp(f"trailing{k}"), ctx.temp(f"rows{k}")
    ctx.emit("SHAPE", [data], {"out_type": "int32"}, outputs=[shape])
    ctx.emit("SLICE", [shape, ctx.const(f"begin{k}", np.array([index.ndim], np.int32)),
                       ctx.const(f"size{k}", np.array([-1], np.int32))], outputs=[trailing])
    row_shape = ctx.temp(f"row_shape{k}")
    ctx.emit("ConcatV2", [ctx.const(f"count{k}", np.array([index.size], np.int32)), trailing,
                          ctx.const(f"axis{k}", np.array(0, np.int32))], outputs=[row_shape])
    ctx.emit("RESHAPE", [data, row_shape], outputs=[rows])
    return rows


@tf_op("DynamicStitch", "ParallelDynamicStitch")
def dynamic_stitch(ctx: NodeContext) -> None:
    """With constant indices: the data as rows, concatenated, and one GATHER putting each
    output row in place (left out when they are in place already). TF's converter UNPACKs
    every input and PACKs the rows: N + 1 ops."""
    n = ctx.attr("N", kind=int)
    if n < 1 or len(ctx.inputs) != 2 * n:
        raise ConversionError(f"node {ctx.name!r} ({ctx.node.op}): N = {n} with {len(ctx.inputs)} "
                              "inputs; the graph is malformed")
    indices = [ctx.const_input(k) for k in range(n)]
    computed = [k for k, index in enumerate(indices) if index is None]
    if computed:
        raise ConversionError(f"node {ctx.name!r} ({ctx.node.op}): its indices (input {computed[0]}) are "
                              "computed; only constant indices convert, as in TF's converter (for indices "
                              "that permute the rows: tf.gather(tf.concat(data, 0), "
                              "tf.math.invert_permutation(tf.concat(indices, 0))))")
    source = _stitch_order(ctx, indices)
    parts = [_rows(ctx, k, index, ctx.input(n + k)) for k, index in enumerate(indices)]
    in_place = np.array_equal(source, np.arange(sum(i.size for i in indices)))
    merged = ctx.output(0) if in_place else ctx.temp("rows")
    if len(parts) > 1:
        ctx.emit("ConcatV2", parts + [ctx.const("axis", np.array(0, np.int32))], outputs=[merged])
    elif in_place:
        ctx.emit("Identity", [parts[0]])
    else:
        merged = parts[0]
    if not in_place:
        ctx.emit("GATHER", [merged, ctx.const("order", source.astype(np.int32))], {"axis": 0, "batch_dims": 0})


@tf_op("SparseToDense")
def sparse_to_dense(ctx: NodeContext) -> None:
    ctx.emit("SPARSE_TO_DENSE", [ctx.input(i) for i in range(4)])
