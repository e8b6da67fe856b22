"""TRANSPOSE with the identity permutation -> removed."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from .base import Pass


def remove_identity_transpose(graph: Graph, op: Op) -> bool:
    if op.type != "TRANSPOSE":
        return False
    perm = graph.const_value(op.inputs[1])
    if perm is None or not np.array_equal(np.ravel(perm), np.arange(perm.size)):
        return False
    if not graph.can_bypass(op):
        return False
    graph.bypass(op)
    return True


PASS = Pass("remove_identity_transpose", remove_identity_transpose)
