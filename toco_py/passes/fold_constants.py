"""Evaluates an op whose inputs are all constant (or whose value depends only on a static
shape: SHAPE/RANK/SIZE) with its numpy kernel and replaces it by constants."""
from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np

from ..ir import Graph, Op, const_tensor
from ..ops import REGISTRY, has_trait
from .base import Pass
from .propagate_shapes import check_op

# Folding may not create constants bigger than this (bytes) that are also bigger than the
# constants they replace: weight transposes of any size fold, a 1 GB broadcast does not.
DEFAULT_SIZE_LIMIT = 64 << 20
size_limit = DEFAULT_SIZE_LIMIT


@contextmanager
def limit(nbytes: int | None):
    """Sets the folding size limit for the duration of a conversion; None keeps the current
    one."""
    global size_limit
    saved, size_limit = size_limit, size_limit if nbytes is None else nbytes
    try:
        yield
    finally:
        size_limit = saved


def _inputs_ready(graph: Graph, op: Op) -> bool:
    if has_trait(op.type, "shape_only"):
        return graph.tensors[op.inputs[0]].static_shape or graph.tensors[op.inputs[0]].is_const
    return all(not n or graph.tensors[n].is_const for n in op.inputs)


def _evaluate(graph: Graph, op: Op) -> list[np.ndarray]:
    args = []
    for i, n in enumerate(op.inputs):
        t = graph.tensors[n] if n else None
        if t is not None and t.data is None and has_trait(op.type, "shape_only") and i == 0:
            # Only the shape is read: a zero-stride view stands in for the contents.
            args.append(np.broadcast_to(np.zeros((), t.dtype), t.shape))
        else:
            args.append(None if t is None else t.data)
    result = REGISTRY[op.type].kernel(op, *args)
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _known_bytes(result: list[tuple] | None) -> int:
    """The size of the biggest output of a shape rule's result, else 0."""
    return max([math.prod(shape) * np.dtype(dtype).itemsize for shape, dtype in result or ()
                if all(d >= 0 for d in shape) and dtype in np.sctypeDict] + [0])


def fold_constants(graph: Graph, op: Op) -> bool:
    opdef = REGISTRY.get(op.type)
    if opdef is None or opdef.kernel is None or not opdef.foldable or not op.outputs:
        return False
    if any(graph.tensors[n].variable for n in op.outputs):
        return False  # it sets a variable at each invoke (fuse_lstm's reset of the state)
    if not _inputs_ready(graph, op):
        return False
    in_bytes = max((graph.tensors[n].data.nbytes for n in op.inputs
                    if n and graph.tensors[n].is_const), default=0)
    # The shape rule judges the constant inputs first (a FILL of negative dims is the graph's
    # fault), and before computing: a FILL of corrupt dims may claim gigabytes. A kernel that
    # then fails on inputs its rule accepted is a bug of ours (Pass.run reports it).
    if _known_bytes(check_op(graph, op)) > max(size_limit, in_bytes):
        return False
    values = [np.asarray(v) for v in _evaluate(graph, op)]
    if any(v.nbytes > size_limit and v.nbytes > in_bytes for v in values):
        return False
    # A graph output folds only if the constant is no bigger than what the op reads (its
    # constant inputs, or the shape vector of a shape-only op's input): else the op is smaller.
    reads = 4 * len(graph.tensors[op.inputs[0]].shape) if has_trait(op.type, "shape_only") else in_bytes
    if any(o in graph.outputs and v.nbytes > reads for o, v in zip(op.outputs, values)):
        return False
    for i, (name, value) in enumerate(zip(op.outputs, values)):
        t = graph.tensors[name]
        if t.dtype and t.dtype != value.dtype.name and t.shape is not None:
            values[i] = value.astype(t.dtype)
    for name, value in zip(op.outputs, values):
        t = graph.tensors[name]
        folded = const_tensor(name, value)
        folded.min_max = t.min_max
        graph.tensors[name] = folded
    graph.remove_op(op)
    graph.drop_unused(op.inputs)
    return True


PASS = Pass("fold_constants", fold_constants)
