"""Slicing, gathering, tiling and selection ops, and the ops that make tensors from shapes."""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ..context import NodeContext
from .registry import tf_op

_MASKS = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")


def _int32_input(ctx: NodeContext, i: int, what: str) -> str:
    """LiteRT's STRIDED_SLICE reads begin/end/strides as int32 only; TF allows int64."""
    if ctx.dtype_attr("Index", "int32") == "int32":
        return ctx.input(i)
    value = ctx.const_input(i)
    if value is not None:
        return ctx.const(what, value.astype(np.int32))
    cast = ctx.temp(f"{what}_int32")
    ctx.emit("CAST", [ctx.input(i)], {"out_data_type": "int32"}, outputs=[cast])
    return cast


@tf_op("StridedSlice")
def strided_slice(ctx: NodeContext) -> None:
    attrs = {m: ctx.attr(m, 0) for m in _MASKS}
    # TF ignores the begin and end masks of a shrunk axis; LiteRT would honour them.
    attrs["begin_mask"] &= ~attrs["shrink_axis_mask"]
    attrs["end_mask"] &= ~attrs["shrink_axis_mask"]
    inputs = [_int32_input(ctx, i, w) for i, w in ((1, "begin"), (2, "end"), (3, "strides"))]
    # TF's op until its ellipsis is written out (passes/legalize_strided_slice.py).
    ctx.emit("StridedSlice", [ctx.input(0)] + inputs, attrs)


@tf_op("Slice")
def slice_(ctx: NodeContext) -> None:
    ctx.emit("SLICE", [ctx.input(0), ctx.input(1), ctx.input(2)])


@tf_op("GatherV2")
def gather_v2(ctx: NodeContext) -> None:
    axis = ctx.require_const(2, "axis")
    if axis.size != 1 or axis.dtype.kind not in "iu":
        raise ConversionError(f"node {ctx.name!r}: its axis must be one integer, is "
                              f"{axis.dtype} of shape {list(axis.shape)}")
    ctx.emit("GATHER", [ctx.input(0), ctx.input(1)],
             {"axis": int(axis.ravel()[0]), "batch_dims": ctx.attr("batch_dims", 0)})


@tf_op("Gather")
def gather_v1(ctx: NodeContext) -> None:
    ctx.emit("GATHER", [ctx.input(0), ctx.input(1)], {"axis": 0, "batch_dims": 0})


@tf_op("GatherNd")
def gather_nd(ctx: NodeContext) -> None:
    ctx.emit("GATHER_ND", [ctx.input(0), ctx.input(1)])


@tf_op("Tile")
def tile(ctx: NodeContext) -> None:
    ctx.emit("TILE", [ctx.input(0), ctx.input(1)])


@tf_op("BroadcastTo")
def broadcast_to(ctx: NodeContext) -> None:
    ctx.emit("BROADCAST_TO", [ctx.input(0), ctx.input(1)])


@tf_op("Select")
def select(ctx: NodeContext) -> None:
    ctx.emit("SELECT", [ctx.input(0), ctx.input(1), ctx.input(2)])


@tf_op("SelectV2")
def select_v2(ctx: NodeContext) -> None:
    ctx.emit("SELECT_V2", [ctx.input(0), ctx.input(1), ctx.input(2)])


@tf_op("Fill")
def fill(ctx: NodeContext) -> None:
    ctx.emit("FILL", [ctx.input(0), ctx.input(1)])


@tf_op("Range")
def range_(ctx: NodeContext) -> None:
    ctx.emit("RANGE", [ctx.input(0), ctx.input(1), ctx.input(2)])


@tf_op("ZerosLike")
def zeros_like(ctx: NodeContext) -> None:
    ctx.emit("ZEROS_LIKE", [ctx.input(0)])


@tf_op("OnesLike")
def ones_like(ctx: NodeContext) -> None:
    ctx.emit("OnesLike", [ctx.input(0)])


def emit_size(ctx: NodeContext, tensor: str, out_type: str, output: str | None = None) -> None:
    """The number of elements of `tensor`, as TF's converter writes a size it cannot fold
    (SHAPE, REDUCE_PROD); of a static shape both fold to the constant."""
    shape = ctx.emit("SHAPE", [tensor], {"out_type": out_type}, outputs=[ctx.temp("shape")]).outputs[0]
    ctx.emit("REDUCE_PROD", [shape, ctx.const("axis", np.array([0], np.int32))], {"keep_dims": False},
             outputs=None if output is None else [output])


@tf_op("Size")
def size(ctx: NodeContext) -> None:
    emit_size(ctx, ctx.input(0), ctx.dtype_attr("out_type", "int32"))


@tf_op("Rank")
def rank(ctx: NodeContext) -> None:
    ctx.emit("RANK", [ctx.input(0)])


@tf_op("IdentityN")
def identity_n(ctx: NodeContext) -> None:
    # One passthrough per pair, so that cleanup can drop each on its own.
    for i, name in enumerate(ctx.inputs):
        ctx.emit("Identity", [name], outputs=[ctx.output(i)])


@tf_op("ShapeN")
def shape_n(ctx: NodeContext) -> None:
    out_type = ctx.dtype_attr("out_type", "int32")
    for i, name in enumerate(ctx.inputs):
        ctx.emit("SHAPE", [name], {"out_type": out_type}, outputs=[ctx.output(i)])
