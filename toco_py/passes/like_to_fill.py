"""OnesLike (no TFLite builtin) of a tensor with a static shape that constant folding left
alone (a graph output) -> FILL with constant dims."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from .base import Pass

_VALUE = {"OnesLike": 1}


def like_to_fill(graph: Graph, op: Op) -> bool:
    if op.type not in _VALUE:
        return False
    out = graph.tensors[op.outputs[0]]
    if not out.static_shape:
        return False
    dims = graph.add_const(f"{op.outputs[0]}/dims", np.array(out.shape, np.int32))
    value = graph.add_const(f"{op.outputs[0]}/value", np.array(_VALUE[op.type], dtype=out.dtype))
    graph.replace_op(op, [Op("FILL", [dims, value], op.outputs, {}, op.name)])
    return True


PASS = Pass("like_to_fill", like_to_fill)
