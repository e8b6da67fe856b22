"""MAXIMUM(x, 0) -> RELU, MINIMUM(RELU(x), 6) -> RELU6, and MAXIMUM(MINIMUM(x, 1), -1) or
MINIMUM(MAXIMUM(x, -1), 1) -> RELU_N1_TO_1, so that they can fuse into their producer."""
from __future__ import annotations

from ..ir import Graph, Op
from .base import Pass
from .patterns import private, producer_of, split_const

_OPPOSITE = {"MAXIMUM": "MINIMUM", "MINIMUM": "MAXIMUM"}


def _inner(graph: Graph, op: Op, x: str, type_: str, bound: float | None = None):
    """The op producing x, if it is of type_ (with scalar constant `bound`) and only op reads x."""
    inner = producer_of(graph, x, type_)
    if inner is None or not private(graph, x, op):
        return None
    if bound is not None:
        split = split_const(graph, inner)
        if split is None or split[1] != bound:
            return None
    return inner


def _replacement(graph: Graph, op: Op, x: str, bound: float):
    """(new op type, its input, the inner op it absorbs or None)."""
    if op.type == "MAXIMUM" and bound == 0.0:
        return "RELU", x, None
    if op.type == "MINIMUM" and bound == 6.0:
        relu = _inner(graph, op, x, "RELU")
        return ("RELU6", relu.inputs[0], relu) if relu else None
    if (op.type, bound) in (("MAXIMUM", -1.0), ("MINIMUM", 1.0)):
        inner = _inner(graph, op, x, _OPPOSITE[op.type], -bound)
        return ("RELU_N1_TO_1", split_const(graph, inner)[0], inner) if inner else None
    return None


def minmax_to_relu(graph: Graph, op: Op) -> bool:
    if op.type not in _OPPOSITE:
        return False
    split = split_const(graph, op)
    out = graph.tensors[op.outputs[0]]
    # LiteRT's RELU kernels take float32 and quantized types, not int32 or int64.
    if split is None or graph.tensors[split[0]].shape != out.shape or out.dtype != "float32":
        return False
    found = _replacement(graph, op, *split)
    if found is None:
        return False
    new_type, source, absorbed = found
    graph.replace_op(op, [Op(new_type, [source], op.outputs, {}, op.name)])
    if absorbed is not None:
        graph.remove_op(absorbed)
    return True


PASS = Pass("minmax_to_relu", minmax_to_relu)
