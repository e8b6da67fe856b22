"""SELECT / SELECT_V2 whose condition is a constant, all true or all false -> the branch
chosen (when it already has the output's shape)."""
from __future__ import annotations

from ..ir import Graph, Op
from .base import Pass, forward


def resolve_select(graph: Graph, op: Op) -> bool:
    if op.type not in ("SELECT", "SELECT_V2"):
        return False
    cond = graph.const_value(op.inputs[0])
    if cond is None or cond.size == 0:
        return False
    if cond.all():
        branch = 1
    elif not cond.any():
        branch = 2
    else:
        return False
    if graph.tensors[op.inputs[branch]].shape != graph.tensors[op.outputs[0]].shape:
        return False
    forward(graph, op, branch)
    return True


PASS = Pass("resolve_select", resolve_select)
