"""MatrixBandPart with constant bounds and a known matrix size -> one SELECT_V2 of the input
and zero under a constant mask, broadcast over the batch axes (TF's converter computes the
mask at run time: NEG, GREATER_EQUAL, LOGICAL_AND, ZEROS_LIKE, SELECT_V2). A select, not a
multiply by 0/1: masked NaN and infinity become 0, as in TensorFlow."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops.linalg import band_mask
from .base import Pass


def lower_band_part(graph: Graph, op: Op) -> bool:
    if op.type != "MatrixBandPart":
        return False
    x = graph.tensors[op.inputs[0]]
    lower, upper = graph.const_value(op.inputs[1]), graph.const_value(op.inputs[2])
    if x.shape is None or len(x.shape) < 2 or min(x.shape[-2:]) < 0 or lower is None or upper is None:
        return False
    mask = graph.add_const(f"{op.outputs[0]}/band", band_mask(op, *x.shape[-2:], lower, upper))
    zero = graph.add_const(f"{op.outputs[0]}/zero", np.zeros((), x.dtype))
    graph.replace_op(op, [Op("SELECT_V2", [mask, op.inputs[0], zero], list(op.outputs), {}, op.name)])
    return True


PASS = Pass("lower_band_part", lower_band_part)
