"""Ops that forward a value unchanged at inference (identity, checks, gradient stops)."""
from __future__ import annotations

from ..context import NodeContext
from .registry import tf_op

_PASSTHROUGH = {"Identity": "Identity", "Snapshot": "Snapshot", "CheckNumerics": "CheckNumerics",
                "StopGradient": "StopGradient", "PreventGradient": "PreventGradient",
                "EnsureShape": "EnsureShape", "PlaceholderWithDefault": "PlaceholderWithDefault"}


@tf_op(*_PASSTHROUGH)
def passthrough(ctx: NodeContext) -> None:
    ctx.emit(_PASSTHROUGH[ctx.node.op], [ctx.input(0)])
