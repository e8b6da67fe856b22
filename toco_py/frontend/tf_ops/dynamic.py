"""Ops whose output size depends on the input values (WHERE, UNIQUE) and BroadcastArgs, which
folds away unless its shapes are known at run time only (ops/dynamic.py)."""
from __future__ import annotations

from ..context import NodeContext
from .registry import tf_op


@tf_op("Where")
def where(ctx: NodeContext) -> None:
    """One input: the coordinates of its true elements (the three-input form is SelectV2)."""
    ctx.emit("WHERE", [ctx.input(0)])


@tf_op("Unique")
def unique(ctx: NodeContext) -> None:
    ctx.emit("UNIQUE", [ctx.input(0)], {"idx_out_type": ctx.dtype_attr("out_idx", "int32")},
             outputs=[ctx.output(0), ctx.output(1)])


@tf_op("BroadcastArgs")
def broadcast_args(ctx: NodeContext) -> None:
    ctx.emit("BROADCAST_ARGS", [ctx.input(0), ctx.input(1)])
