"""SQUEEZE and EXPAND_DIMS with a known output shape -> RESHAPE (one op type for the
runtime, and consecutive reshapes can then merge)."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from .base import Pass


def squeeze_to_reshape(graph: Graph, op: Op) -> bool:
    if op.type not in ("SQUEEZE", "EXPAND_DIMS"):
        return False
    out = graph.tensors[op.outputs[0]]
    if not out.static_shape:
        return False
    shape = graph.add_const(f"{op.outputs[0]}/shape", np.array(out.shape, np.int32))
    graph.replace_op(op, [Op("RESHAPE", [op.inputs[0], shape], op.outputs, {}, op.name)])
    return True


PASS = Pass("squeeze_to_reshape", squeeze_to_reshape)
