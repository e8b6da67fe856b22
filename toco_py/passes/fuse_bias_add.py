"""ADD/SUB of a constant per-channel vector after CONV_2D, DEPTHWISE_CONV_2D or
FULLY_CONNECTED -> that op's bias."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from .affine import absorb, bias_value, match_affine_const
from .base import Pass


def fuse_bias_add(graph: Graph, op: Op) -> bool:
    if op.type not in ("ADD", "SUB"):
        return False
    # c - conv(x) is not a bias: only ADD takes the constant on either side.
    match = match_affine_const(graph, op, const_first_ok=op.type == "ADD")
    if match is None:
        return False
    producer, vector = match
    old = bias_value(graph, producer)
    if old is None:
        return False
    new_bias = old + (vector if op.type == "ADD" else -vector)
    bias_name = graph.add_const(f"{op.outputs[0]}/bias", new_bias.astype(np.float32))
    old = producer.inputs[2:]
    graph.set_inputs(producer, producer.inputs[:2] + [bias_name])
    absorb(graph, producer, op)
    graph.drop_unused(old + op.inputs)
    return True


PASS = Pass("fuse_bias_add", fuse_bias_add)
