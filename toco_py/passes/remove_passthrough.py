"""Drops ops that forward their input unchanged at inference (Identity, CheckNumerics,
StopGradient, Snapshot, PlaceholderWithDefault that is not an input, ...)."""
from __future__ import annotations

from ..ir import Graph, Op
from ..ops.converter_only import PASSTHROUGH
from .base import Pass


def remove_passthrough(graph: Graph, op: Op) -> bool:
    if op.type not in PASSTHROUGH or not graph.can_bypass(op):
        return False
    graph.bypass(op)
    return True


PASS = Pass("remove_passthrough", remove_passthrough)
