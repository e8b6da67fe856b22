"""RESHAPE of a RESHAPE -> one RESHAPE of the original input."""
from __future__ import annotations

from ..ir import Graph, Op
from .base import Pass, single_consumer


def merge_reshapes(graph: Graph, op: Op) -> bool:
    if op.type != "RESHAPE":
        return False
    inner = graph.producer(op.inputs[0])
    if inner is None or inner.type != "RESHAPE" or not single_consumer(graph, op.inputs[0], op):
        return False
    if not graph.tensors[op.outputs[0]].static_shape:
        return False
    op.inputs = [inner.inputs[0]] + op.inputs[1:]
    graph.remove_op(inner)
    return True


PASS = Pass("merge_reshapes", merge_reshapes)
