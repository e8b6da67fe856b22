"""A hand-written softmax, exp(x - max(x)) / sum(exp(x - max(x))) over the last axis
(or without the max), -> one SOFTMAX."""
from __future__ import annotations

from ..ir import Graph, Op
from .base import Pass
from .patterns import has_activation, private, producer_of, reduces_last_axis


def fuse_softmax(graph: Graph, op: Op) -> bool:
    if op.type != "DIV" or has_activation(op):
        return False
    exp_out, total = op.inputs
    exp = producer_of(graph, exp_out, "EXP")
    summed = producer_of(graph, total, "SUM")
    if exp is None or summed is None or summed.inputs[0] != exp_out or not reduces_last_axis(graph, summed):
        return False
    if not private(graph, exp_out, op, summed) or not private(graph, total, op):
        return False
    x = exp.inputs[0]
    removed = [exp, summed]
    sub = producer_of(graph, x, "SUB")
    if sub is not None:
        peak = producer_of(graph, sub.inputs[1], "REDUCE_MAX")
        if (peak is not None and peak.inputs[0] == sub.inputs[0] and reduces_last_axis(graph, peak)
                and private(graph, x, exp) and private(graph, sub.inputs[1], sub)):
            x = sub.inputs[0]
            removed += [sub, peak]
    if graph.tensors[x].shape != graph.tensors[op.outputs[0]].shape:
        return False
    graph.replace_op(op, [Op("SOFTMAX", [x], op.outputs, {"beta": 1.0}, op.name)])
    for dead in removed:
        graph.remove_op(dead)
    return True


PASS = Pass("fuse_softmax", fuse_softmax)
