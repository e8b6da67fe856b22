"""MUL or DIV by a constant per-channel vector after CONV_2D, DEPTHWISE_CONV_2D or
FULLY_CONNECTED -> scaled weights and bias."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from .affine import absorb, bias_value, channel_axis, match_affine_const
from .base import Pass


def fuse_mul_into_affine(graph: Graph, op: Op) -> bool:
    if op.type not in ("MUL", "DIV"):
        return False
    # c / conv(x) is not a scale: only MUL takes the constant on either side.
    match = match_affine_const(graph, op, const_first_ok=op.type == "MUL")
    if match is None:
        return False
    producer, scale = match
    weights = graph.const_value(producer.inputs[1])
    bias = bias_value(graph, producer)
    if weights is None or bias is None:
        return False
    if op.type == "DIV":
        scale = (1.0 / scale.astype(np.float64)).astype(np.float32)
    along = [1] * weights.ndim
    along[channel_axis(producer)] = -1
    scaled = weights * scale.reshape(along)
    old = producer.inputs[1:]
    graph.set_inputs(producer, [producer.inputs[0],
                                graph.add_const(f"{op.outputs[0]}/weights", scaled.astype(np.float32)),
                                graph.add_const(f"{op.outputs[0]}/bias", (bias * scale).astype(np.float32))])
    absorb(graph, producer, op)
    graph.drop_unused(old + op.inputs)
    return True


PASS = Pass("fuse_mul_into_affine", fuse_mul_into_affine)
