"""RELU / RELU6 / RELU_N1_TO_1 after an op that accepts a fused activation -> that option."""
from __future__ import annotations

from ..ir import Graph, Op
from ..ops import types_with
from ..ops.common import FUSABLE_RELUS, set_activation
from .affine import absorb
from .base import Pass
from .patterns import private, producer_of


def fuse_activation(graph: Graph, op: Op) -> bool:
    if op.type not in FUSABLE_RELUS:
        return False
    src = op.inputs[0]
    producer = producer_of(graph, src, *types_with("fused_activation"))
    if producer is None or not private(graph, src, op):
        return False
    set_activation(producer, op.type)  # each of these ops has a fused form of its name
    absorb(graph, producer, op)
    return True


PASS = Pass("fuse_activation", fuse_activation)
