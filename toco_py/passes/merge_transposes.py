"""TRANSPOSE of a TRANSPOSE -> one TRANSPOSE of the original input, by the composed
permutation (which remove_identity_transpose then drops when it is the identity)."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from .base import Pass
from .patterns import private, producer_of


def merge_transposes(graph: Graph, op: Op) -> bool:
    if op.type != "TRANSPOSE":
        return False
    inner = producer_of(graph, op.inputs[0], "TRANSPOSE")
    if inner is None or not private(graph, op.inputs[0], op):
        return False
    outer_perm, inner_perm = graph.const_value(op.inputs[1]), graph.const_value(inner.inputs[1])
    if outer_perm is None or inner_perm is None or outer_perm.size != inner_perm.size:
        return False
    # Output axis i of transpose(t, p) is t's axis p[i]: so y's axis i is x's inner[outer[i]].
    composed = np.ravel(inner_perm)[np.ravel(outer_perm)].astype(np.int32)
    old = op.inputs[1:] + inner.inputs + inner.outputs
    graph.set_inputs(op, [inner.inputs[0], graph.add_const(f"{op.outputs[0]}/perm", composed)])
    graph.remove_op(inner)
    graph.drop_unused(old)
    return True


PASS = Pass("merge_transposes", merge_transposes)
