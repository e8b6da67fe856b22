"""A pass-through op that could not be bypassed (it copies a graph input or constant to a
graph output, or aliases another output) -> RESHAPE to the same shape, TFLite's copy."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops.converter_only import PASSTHROUGH
from .base import Pass


def materialize_identity(graph: Graph, op: Op) -> bool:
    if op.type not in PASSTHROUGH:
        return False
    out = graph.tensors[op.outputs[0]]
    if not out.static_shape:
        return False
    shape = graph.add_const(f"{op.outputs[0]}/shape", np.array(out.shape, np.int32))
    graph.replace_op(op, [Op("RESHAPE", [op.inputs[0], shape], op.outputs[:1], {}, op.name)])
    return True


PASS = Pass("materialize_identity", materialize_identity)
