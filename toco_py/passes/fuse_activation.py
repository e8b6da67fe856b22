"""RELU / RELU6 / RELU_N1_TO_1 after an op with a fused_activation_function -> that option."""
from __future__ import annotations

from ..ir import Graph, Op
from ..ops import types_with
from .affine import absorb
from .base import Pass
from .patterns import private, producer_of

ACTIVATIONS = {"RELU": "RELU", "RELU6": "RELU6", "RELU_N1_TO_1": "RELU_N1_TO_1"}


def fuse_activation(graph: Graph, op: Op) -> bool:
    if op.type not in ACTIVATIONS:
        return False
    src = op.inputs[0]
    producer = producer_of(graph, src, *types_with("fused_activation"))
    if producer is None or not private(graph, src, op):
        return False
    op.attrs["fused_activation_function"] = ACTIVATIONS[op.type]
    absorb(graph, producer, op)
    return True


PASS = Pass("fuse_activation", fuse_activation)
