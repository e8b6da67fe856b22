"""ConcatV2 (axis as a tensor) -> CONCATENATION (axis as an option) once the axis is constant."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops.common import ACTIVATION_ATTR
from .base import Pass


def legalize_concat(graph: Graph, op: Op) -> bool:
    if op.type != "ConcatV2":
        return False
    axis = graph.const_value(op.inputs[-1])
    if axis is None:
        return False
    graph.replace_op(op, [Op("CONCATENATION", op.inputs[:-1], op.outputs,
                             {"axis": int(np.ravel(axis)[0]), ACTIVATION_ATTR: "NONE"},
                             op.name)])
    return True


PASS = Pass("legalize_concat", legalize_concat)
