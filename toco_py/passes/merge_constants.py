"""Identical constants (same type, shape and bytes) -> one tensor. Recurrent cells unrolled
over time read the same weights at every step; one tensor then carries one set of
quantization parameters and one table entry, not one per step."""
from __future__ import annotations

from ..content_key import content_key, same_content
from ..ir import Graph, Op
from .base import Pass


def _canonical(graph: Graph) -> dict:
    """(type, content key) -> the first constants seen with it, cached on the graph (an entry
    counts only while its tensor is still a constant of the same contents)."""
    cache = getattr(graph, "_constant_contents", None)
    if cache is None:
        cache = graph._constant_contents = {}
    return cache


def merge_constants(graph: Graph, op: Op) -> bool:
    changed = False
    cache = _canonical(graph)
    for i, name in enumerate(op.inputs):
        t = graph.tensors.get(name) if name else None
        if t is None or not t.is_const or name in graph.outputs or t.quant is not None:
            continue
        content = content_key(t.data)
        if content is None:
            continue  # strings: no bytes to compare
        key = (t.dtype, content)
        bucket = cache.setdefault(key, [])
        bucket[:] = [n for n in bucket if n in graph.tensors and graph.tensors[n].is_const
                     and graph.tensors[n].dtype == t.dtype]
        first = next((n for n in bucket if n == name or same_content(graph.tensors[n].data, t.data)), None)
        if first is None:
            bucket.append(name)
        elif first != name:
            graph.set_input(op, i, first)
            changed = True
    return changed


PASS = Pass("merge_constants", merge_constants)
