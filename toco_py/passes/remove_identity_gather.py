"""GATHER of every index of its axis, in order -> removed: it reads its whole input
(tf.TensorArray.stack gathers 0..size-1 of the array; TF's converter drops it too). The
indices are constants, or, for an array of run-time size (one a loop grew), the RANGE from 0
to its size, by 1, that TensorArray.stack builds from the array's shape."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from .base import Pass


def _reads_all(graph: Graph, x: str, axis: int, indices: str) -> bool:
    """Whether `indices` are 0..size-1 of axis `axis` of x."""
    shape = graph.tensors[x].shape
    values = graph.const_value(indices)
    if values is not None:
        return values.ndim == 1 and shape is not None and shape[axis] >= 0 and \
            np.array_equal(values, np.arange(shape[axis]))
    return _is_range_of_size(graph, indices, x, axis)


def _is_range_of_size(graph: Graph, indices: str, x: str, axis: int) -> bool:
    """RANGE(0, GATHER(SHAPE(x), axis), 1)."""
    ranged = graph.producer(indices)
    if ranged is None or ranged.type != "RANGE":
        return False
    start, delta = graph.const_value(ranged.inputs[0]), graph.const_value(ranged.inputs[2])
    if start is None or delta is None or np.ravel(start).tolist() != [0] or np.ravel(delta).tolist() != [1]:
        return False
    size = graph.producer(ranged.inputs[1])
    if size is None or size.type != "GATHER" or size.attrs.get("axis", 0) != 0:
        return False
    which, shape = graph.const_value(size.inputs[1]), graph.producer(size.inputs[0])
    return which is not None and np.ravel(which).tolist() == [axis] and np.ndim(which) == 0 and \
        shape is not None and shape.type == "SHAPE" and shape.inputs[0] == x


def remove_identity_gather(graph: Graph, op: Op) -> bool:
    if op.type != "GATHER" or op.attrs.get("batch_dims", 0) != 0:
        return False
    shape = graph.tensors[op.inputs[0]].shape
    if shape is None or graph.tensors[op.inputs[1]].shape is None or len(graph.tensors[op.inputs[1]].shape) != 1:
        return False
    axis = op.attrs.get("axis", 0) % max(len(shape), 1)
    if not _reads_all(graph, op.inputs[0], axis, op.inputs[1]) or not graph.can_bypass(op):
        return False
    graph.bypass(op)
    return True


PASS = Pass("remove_identity_gather", remove_identity_gather)
