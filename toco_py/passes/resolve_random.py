"""Comparisons and floors of random values whose outcome does not depend on the draw become
constants: dropout with keep probability 1 compares uniform [0, 1) noise against 0
(`noise >= rate`) or floors `keep_prob + noise`, which is always true / always 1."""
from __future__ import annotations

import math

import numpy as np

from ..ir import Graph, Op, const_tensor
from .base import Pass
from .patterns import has_activation, scalar_const

_SOURCES = {"RandomUniform": (0.0, 1.0, True)}  # low, high, high excluded
_MAX_DEPTH = 8


def value_interval(graph: Graph, name: str, depth: int = 0):
    """(low, high, high_open) bounding every element of the tensor, or None if unknown."""
    t = graph.tensors.get(name)
    if t is None or depth > _MAX_DEPTH:
        return None
    if t.is_const:
        return (float(np.min(t.data)), float(np.max(t.data)), False) if t.data.size else None
    op = graph.producer(name)
    if op is None:
        return None
    if op.type in _SOURCES:
        return _SOURCES[op.type]
    if op.type in ("ADD", "SUB", "MUL") and not has_activation(op):
        a, b = (value_interval(graph, n, depth + 1) for n in op.inputs)
        if a is None or b is None:
            return None
        if op.type == "ADD":
            return a[0] + b[0], a[1] + b[1], a[2] or b[2]
        if op.type == "SUB":
            return a[0] - b[1], a[1] - b[0], a[2]
        c = scalar_const(graph, op.inputs[1]) if b[0] == b[1] else scalar_const(graph, op.inputs[0])
        other = a if b[0] == b[1] else b
        if c is None:
            return None
        if c >= 0:
            return other[0] * c, other[1] * c, other[2] and c > 0
        return other[1] * c, other[0] * c, False
    return None


def _all_below(a, b) -> bool:
    """Every element of interval a is smaller than every element of b."""
    return a[1] < b[0] or (a[1] == b[0] and a[2])


def _all_at_least(a, b) -> bool:
    return a[0] >= b[1]


def _decide(op_type: str, a, b) -> bool | None:
    """The comparison's value if it is the same for every element, else None."""
    if op_type in ("GREATER_EQUAL", "LESS"):
        ge = True if _all_at_least(a, b) else False if _all_below(a, b) else None
        return ge if ge is None or op_type == "GREATER_EQUAL" else not ge
    gt = True if _all_below(b, a) else False if _all_at_least(b, a) else None
    return gt if gt is None or op_type == "GREATER" else not gt


def _floor_value(a) -> float | None:
    lo, hi, high_open = a
    top = math.ceil(hi) - 1 if high_open and hi == math.floor(hi) else math.floor(hi)
    return float(math.floor(lo)) if math.floor(lo) == top else None


def resolve_random(graph: Graph, op: Op) -> bool:
    if op.type not in ("GREATER_EQUAL", "GREATER", "LESS", "LESS_EQUAL", "FLOOR"):
        return False
    out = graph.tensors[op.outputs[0]]
    if not out.static_shape or op.outputs[0] in graph.outputs:
        return False
    intervals = [value_interval(graph, n) for n in op.inputs]
    if any(i is None for i in intervals) or all(graph.tensors[n].is_const for n in op.inputs):
        return False
    value = _floor_value(intervals[0]) if op.type == "FLOOR" else _decide(op.type, *intervals)
    if value is None:
        return False
    graph.tensors[op.outputs[0]] = const_tensor(op.outputs[0], np.full(out.shape, value, dtype=out.dtype))
    graph.remove_op(op)
    return True


PASS = Pass("resolve_random", resolve_random)
