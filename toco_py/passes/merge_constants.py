"""Identical constants (same type, shape and bytes) -> one tensor. Recurrent cells unrolled
over time read the same weights at every step; one tensor then carries one set of
quantization parameters and one table entry, not one per step."""
from __future__ import annotations

import hashlib

from ..ir import Graph, Op
from .base import Pass


def _digest(graph: Graph, name: str) -> tuple:
    t = graph.tensors[name]
    return t.dtype, tuple(t.data.shape), hashlib.sha1(t.data.tobytes()).digest()


def _canonical(graph: Graph) -> dict:
    """digest -> first constant with it, cached on the graph for the sweep (rebuilt when the
    cached tensor is gone or changed)."""
    cache = getattr(graph, "_constant_digests", None)
    if cache is None:
        cache = graph._constant_digests = {}
    return cache


def merge_constants(graph: Graph, op: Op) -> bool:
    changed = False
    cache = _canonical(graph)
    for i, name in enumerate(op.inputs):
        t = graph.tensors.get(name) if name else None
        if t is None or not t.is_const or name in graph.outputs or t.quant is not None:
            continue
        key = _digest(graph, name)
        first = cache.get(key)
        if first is None or first not in graph.tensors or not graph.tensors[first].is_const \
                or _digest(graph, first) != key:
            cache[key] = name
            continue
        if first != name:
            op.inputs[i] = first
            changed = True
    return changed


PASS = Pass("merge_constants", merge_constants)
