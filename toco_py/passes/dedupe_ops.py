"""Common subexpressions: an op identical to an earlier one (same type, inputs and attrs)
is removed and its readers use the earlier op's outputs."""
from __future__ import annotations

from ..content_key import content_key, same_content
from ..ir import Graph, Op
from ..ops import REGISTRY
from .base import Pass

# Ops whose repeated evaluation differs (random draws) are never merged.
_NEVER = ("RandomUniform", "RandomStandardNormal", "TruncatedNormal", "CUSTOM")


_SMALL = 1 << 16  # constants up to this many bytes compare by value


def _small_const(graph: Graph, name: str):
    t = graph.tensors.get(name)
    if t is None or not t.is_const or t.data.nbytes > _SMALL or t.data.dtype.hasobject:
        return None
    return t


def _input_key(graph: Graph, name: str):
    t = _small_const(graph, name)
    return name if t is None else (t.dtype, content_key(t.data))


def _same_inputs(graph: Graph, a: Op, b: Op) -> bool:
    """Inputs with equal keys are the same tensor or small constants of the same contents
    (a checksum match confirmed byte for byte)."""
    for x, y in zip(a.inputs, b.inputs):
        if x != y and not same_content(graph.tensors[x].data, graph.tensors[y].data):
            return False
    return True


def _key(graph: Graph, op: Op):
    return (op.type, len(op.outputs), tuple(_input_key(graph, n) for n in op.inputs),
            repr(sorted(op.attrs.items())))


def dedupe_ops(graph: Graph, op: Op) -> bool:
    if op.type in _NEVER or op.type not in REGISTRY or not op.inputs:
        return False
    # A twin reads the same first non-constant input (or, for all-constant inputs, is of the
    # same type anywhere, which only happens before folding).
    anchor = next((n for n in op.inputs if n and not graph.tensors[n].is_const), None)
    if anchor is None or any(out in graph.outputs for out in op.outputs):
        return False
    # The twin kept is the earliest: readers come in graph order, so only those before op
    # count (a later one is removed when visited). Keys are computed once, for op, and for
    # readers of its type and arity only.
    key = twin = None
    for o in graph.consumers(anchor):
        if o is op:
            break
        if o.type != op.type or len(o.outputs) != len(op.outputs) or len(o.inputs) != len(op.inputs):
            continue
        if key is None:
            key = _key(graph, op)
        if _key(graph, o) == key and _same_inputs(graph, o, op):
            twin = o
            break
    if twin is None:
        return False
    graph.remove_op(op)
    for mine, theirs in zip(op.outputs, twin.outputs):
        graph.replace_uses(mine, theirs)
        graph.tensors.pop(mine, None)
    return True


PASS = Pass("dedupe_ops", dedupe_ops)
