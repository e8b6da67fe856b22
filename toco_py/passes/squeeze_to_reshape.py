"""SQUEEZE and EXPAND_DIMS with a known output shape -> RESHAPE (one op type for the
runtime, and consecutive reshapes can then merge)."""
from __future__ import annotations

from ..ir import Graph, Op
from .base import Pass, reshape_to_output_shape


def squeeze_to_reshape(graph: Graph, op: Op) -> bool:
    if op.type not in ("SQUEEZE", "EXPAND_DIMS"):
        return False
    return reshape_to_output_shape(graph, op)


PASS = Pass("squeeze_to_reshape", squeeze_to_reshape)
