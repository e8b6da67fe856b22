"""A pass-through op that could not be bypassed (it copies a graph input or constant to a
graph output, or aliases another output) -> RESHAPE to the same shape, TFLite's copy."""
from __future__ import annotations

from ..ir import Graph, Op
from ..ops.converter_only import PASSTHROUGH
from .base import Pass, reshape_to_output_shape


def materialize_identity(graph: Graph, op: Op) -> bool:
    if op.type not in PASSTHROUGH:
        return False
    return reshape_to_output_shape(graph, op)


PASS = Pass("materialize_identity", materialize_identity)
