"""RESHAPE of a RESHAPE -> one RESHAPE of the original input."""
from __future__ import annotations

from ..ir import Graph, Op
from .base import Pass
from .patterns import private, producer_of


def merge_reshapes(graph: Graph, op: Op) -> bool:
    if op.type != "RESHAPE":
        return False
    inner = producer_of(graph, op.inputs[0], "RESHAPE")
    if inner is None or not private(graph, op.inputs[0], op):
        return False
    if not graph.tensors[op.outputs[0]].static_shape:
        return False
    graph.set_input(op, 0, inner.inputs[0])
    graph.remove_op(inner)
    return True


PASS = Pass("merge_reshapes", merge_reshapes)
