"""Removes RESHAPE ops that do nothing: the same shape out as in, or a reshape whose only
reader is a FULLY_CONNECTED that flattens its input to [-1, K] anyway."""
from __future__ import annotations

from ..ir import Graph, Op
from .base import Pass
from .patterns import private


def _feeds_flattening_fc(graph: Graph, op: Op) -> bool:
    out = op.outputs[0]
    users = graph.consumers(out)
    if len(users) != 1 or not private(graph, out, users[0]):
        return False
    fc = users[0]
    return (fc.type == "FULLY_CONNECTED" and fc.inputs[0] == out and fc.inputs.count(out) == 1
            and not fc.attrs.get("keep_num_dims"))


def remove_identity_reshape(graph: Graph, op: Op) -> bool:
    if op.type != "RESHAPE":
        return False
    src, dst = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    if not (src.static_shape and dst.static_shape):
        return False
    if src.shape != dst.shape and not _feeds_flattening_fc(graph, op):
        return False
    if not graph.can_bypass(op):
        return False
    graph.bypass(op)
    return True


PASS = Pass("remove_identity_reshape", remove_identity_reshape)
