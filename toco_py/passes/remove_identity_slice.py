"""STRIDED_SLICE or SLICE that reads its whole input, in order -> removed (tf.signal.frame
slices its signal to the frame grid's length, which is often the whole signal; TF's
converter drops such a slice too)."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Graph, Op
from ..ops.slicing import slice_bounds, strided_slice_plan
from .base import Pass


def _reads_everything(op: Op, shape: tuple[int, ...], spec: list[np.ndarray]) -> bool:
    try:
        if op.type == "SLICE":
            return all(b == 0 and s == dim for (b, s), dim in zip(slice_bounds(op, shape, *spec), shape))
        effective, plan = strided_slice_plan(op, shape, *(np.ravel(v).astype(np.int64) for v in spec))
    except ConversionError:  # a malformed slice: the shape checks report it
        return False
    return tuple(effective) == shape and all(kept and r == range(dim)
                                             for (r, kept), dim in zip(plan, effective))


def remove_identity_slice(graph: Graph, op: Op) -> bool:
    if op.type not in ("STRIDED_SLICE", "SLICE"):
        return False
    x = graph.tensors[op.inputs[0]]
    spec = [graph.const_value(n) for n in op.inputs[1:]]
    if not x.static_shape or any(v is None for v in spec):
        return False
    if not _reads_everything(op, x.shape, spec) or not graph.can_bypass(op):
        return False
    graph.bypass(op)
    return True


PASS = Pass("remove_identity_slice", remove_identity_slice)
