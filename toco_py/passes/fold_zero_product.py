"""x * 0 -> a zero constant of the product's shape (as TensorFlow's converter does; it
assumes x is finite). Recurrent cells started from a zero state lose a whole step of work."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, const_tensor
from .base import Pass


def fold_zero_product(graph: Graph, op: Op) -> bool:
    if op.type != "MUL" or op.outputs[0] in graph.outputs:
        return False
    out = graph.tensors[op.outputs[0]]
    if not out.static_shape or out.size > (1 << 20):
        return False
    for name in op.inputs:
        value = graph.const_value(name)
        if value is not None and value.size and not np.any(value):
            graph.tensors[op.outputs[0]] = const_tensor(op.outputs[0], np.zeros(out.shape, out.dtype))
            graph.remove_op(op)
            return True
    return False


PASS = Pass("fold_zero_product", fold_zero_product)
