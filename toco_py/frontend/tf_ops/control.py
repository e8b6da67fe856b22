"""Ops that forward a value unchanged at inference (identity, checks, gradient stops), TF1
control flow (Switch, Merge; the rest is not mapped) and random draws."""
from __future__ import annotations

from ..context import NodeContext
from .registry import tf_op

# TF1 while loops' nodes reach the mappers only from a frame that a cut (--input_arrays) splits,
# and stay unmapped: frontend/frames.py makes each whole frame one loop node, which
# frontend/loops.py maps to WHILE, as it maps functional While / StatelessWhile. Switch and
# Merge are mapped below (to ops with the "control_flow" trait), for the passes to resolve a
# constant predicate or make an IF (passes/cond_to_if.py); functional If / StatelessIf / Case
# become Switch and Merge before the import (frontend/functions.py).
UNMAPPED_CONTROL_FLOW = ("Enter", "Exit", "NextIteration", "LoopCond")
_PASSTHROUGH = {"Identity": "Identity", "Snapshot": "Snapshot", "CheckNumerics": "CheckNumerics",
                "StopGradient": "StopGradient", "PreventGradient": "PreventGradient",
                "EnsureShape": "EnsureShape", "PlaceholderWithDefault": "PlaceholderWithDefault"}


@tf_op(*_PASSTHROUGH)
def passthrough(ctx: NodeContext) -> None:
    ctx.emit(_PASSTHROUGH[ctx.node.op], [ctx.input(0)])


@tf_op("Switch", "RefSwitch")
def switch(ctx: NodeContext) -> None:
    # Outputs: (value if pred is false, value if pred is true).
    ctx.emit("Switch", [ctx.input(0), ctx.input(1)], outputs=[ctx.output(0), ctx.output(1)])


@tf_op("Merge", "RefMerge")
def merge(ctx: NodeContext) -> None:
    # Outputs: (the value of whichever input is alive, that input's index).
    ctx.emit("Merge", ctx.inputs, outputs=[ctx.output(0), ctx.output(1)])


@tf_op("RandomUniform", "RandomStandardNormal", "TruncatedNormal")
def random(ctx: NodeContext) -> None:
    ctx.emit(ctx.node.op, [ctx.input(0)], {"dtype": ctx.dtype_attr("dtype", "float32"),
                                           "seed": ctx.attr("seed", 0), "seed2": ctx.attr("seed2", 0)})
