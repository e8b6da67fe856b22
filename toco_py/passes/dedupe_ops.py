"""Common subexpressions: an op identical to an earlier one (same type, inputs and attrs)
is removed and its readers use the earlier op's outputs."""
from __future__ import annotations

import hashlib

from ..ir import Graph, Op
from ..ops import REGISTRY
from .base import Pass

# Ops whose repeated evaluation differs (random draws) are never merged.
_NEVER = ("RandomUniform", "RandomStandardNormal", "TruncatedNormal", "CUSTOM")


_SMALL = 1 << 16  # constants up to this many bytes compare by value


def _input_key(graph: Graph, name: str):
    t = graph.tensors.get(name)
    if t is None or not t.is_const or t.data.nbytes > _SMALL:
        return name
    return t.dtype, t.data.shape, hashlib.sha256(t.data.tobytes()).hexdigest()


def _key(graph: Graph, op: Op):
    return (op.type, tuple(_input_key(graph, n) for n in op.inputs), repr(sorted(op.attrs.items())))


def dedupe_ops(graph: Graph, op: Op) -> bool:
    if op.type in _NEVER or op.type not in REGISTRY or not op.inputs:
        return False
    # A twin reads the same first non-constant input (or, for all-constant inputs, is of the
    # same type anywhere, which only happens before folding).
    anchor = next((n for n in op.inputs if n and not graph.tensors[n].is_const), None)
    if anchor is None:
        return False
    key = _key(graph, op)
    twin = next((o for o in graph.consumers(anchor) if o is not op and len(o.outputs) == len(op.outputs)
                 and _key(graph, o) == key), None)
    if twin is None or any(out in graph.outputs for out in op.outputs):
        return False
    if graph.ops.index(twin) > graph.ops.index(op):
        return False  # keep the earlier one; the later is removed when visited
    graph.remove_op(op)
    for mine, theirs in zip(op.outputs, twin.outputs):
        graph.replace_uses(mine, theirs)
        graph.tensors.pop(mine, None)
    return True


PASS = Pass("dedupe_ops", dedupe_ops)
