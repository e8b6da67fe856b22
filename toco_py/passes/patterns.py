"""Small helpers for matching op patterns backwards from an op."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops.common import activation_of


def has_activation(op: Op) -> bool:
    """The op applies a fused activation function to its result."""
    return activation_of(op) != "NONE"


def producer_of(graph: Graph, name: str, *types: str) -> Op | None:
    """The op writing the tensor, if it is of one of the types (any, when none are given)
    and has no fused activation."""
    op = graph.producer(name)
    if op is None or (types and op.type not in types):
        return None
    if has_activation(op):
        return None
    return op


def scalar_const(graph: Graph, name: str) -> float | None:
    value = graph.const_value(name)
    if value is None or value.size == 0 or not np.all(value == np.ravel(value)[0]):
        return None
    return float(np.ravel(value)[0])


def split_const(graph: Graph, op: Op) -> tuple[str, float] | None:
    """For a binary op with one scalar-constant operand: (the other operand, the constant)."""
    for i in (0, 1):
        c = scalar_const(graph, op.inputs[i])
        if c is not None:
            return op.inputs[1 - i], c
    return None


def reduces_last_axis(graph: Graph, op: Op) -> bool:
    """A reduction over exactly the last axis, keeping dims."""
    axes = graph.const_value(op.inputs[1])
    shape = graph.tensors[op.inputs[0]].shape
    if axes is None or shape is None or not op.attrs.get("keep_dims"):
        return False
    return {int(a) % len(shape) for a in np.ravel(axes)} == {len(shape) - 1}


def private(graph: Graph, tensor: str, *readers: Op) -> bool:
    """Only the given ops read the tensor, and it is not a graph output (with one reader
    that does read it: the tensor's single consumer)."""
    users = graph.consumers(tensor)
    return tensor not in graph.outputs and all(any(u is r for r in readers) for u in users)
