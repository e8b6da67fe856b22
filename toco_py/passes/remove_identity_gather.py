"""GATHER of every index of its axis, in order -> removed: it reads its whole input
(tf.TensorArray.stack gathers 0..size-1 of the array; TF's converter drops it too)."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from .base import Pass


def remove_identity_gather(graph: Graph, op: Op) -> bool:
    if op.type != "GATHER" or op.attrs.get("batch_dims", 0) != 0:
        return False
    x = graph.tensors[op.inputs[0]]
    indices = graph.const_value(op.inputs[1])
    if indices is None or indices.ndim != 1 or not x.static_shape:
        return False
    axis = op.attrs.get("axis", 0) % max(len(x.shape), 1)
    if not np.array_equal(indices, np.arange(x.shape[axis])) or not graph.can_bypass(op):
        return False
    graph.bypass(op)
    return True


PASS = Pass("remove_identity_gather", remove_identity_gather)
