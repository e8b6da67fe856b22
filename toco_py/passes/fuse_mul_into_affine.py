"""MUL or DIV by a constant per-channel vector after CONV_2D, DEPTHWISE_CONV_2D or
FULLY_CONNECTED -> scaled weights and bias."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from .base import Pass, single_consumer
from .fuse_bias_add import BIAS_OPS, _channel_vector


def fuse_mul_into_affine(graph: Graph, op: Op) -> bool:
    if op.type not in ("MUL", "DIV") or op.attrs.get("fused_activation_function", "NONE") != "NONE":
        return False
    for data_index in (0, 1):
        if op.type == "DIV" and data_index == 1:
            break  # c / conv(x) is not a scale
        data, const = op.inputs[data_index], op.inputs[1 - data_index]
        producer = graph.producer(data)
        value = graph.const_value(const)
        if (producer is None or producer.type not in BIAS_OPS or value is None
                or value.dtype != np.float32
                or producer.attrs.get("fused_activation_function", "NONE") != "NONE"
                or not single_consumer(graph, data, op)
                or graph.tensors[data].shape != graph.tensors[op.outputs[0]].shape):
            continue
        weights = graph.const_value(producer.inputs[1])
        bias = producer.inputs[2] if len(producer.inputs) > 2 else ""
        bias_value = graph.const_value(bias) if bias else None
        if weights is None or (bias and bias_value is None):
            continue
        depthwise = producer.type == "DEPTHWISE_CONV_2D"
        channels = weights.shape[-1] if depthwise else weights.shape[0]
        scale = _channel_vector(value, channels)
        if scale is None:
            continue
        if op.type == "DIV":
            scale = (1.0 / scale.astype(np.float64)).astype(np.float32)
        axis_shape = (1,) * (weights.ndim - 1) + (channels,) if depthwise else (channels,) + (1,) * (weights.ndim - 1)
        new_w = (weights * scale.reshape(axis_shape)).astype(np.float32)
        producer.inputs = list(producer.inputs)
        producer.inputs[1] = graph.add_const(f"{op.outputs[0]}/weights", new_w)
        if bias_value is not None:
            producer.inputs[2] = graph.add_const(f"{op.outputs[0]}/bias", (bias_value * scale).astype(np.float32))
        graph.remove_op(op)
        graph.tensors.pop(producer.outputs[0])
        producer.outputs = [op.outputs[0]]
        return True
    return False


PASS = Pass("fuse_mul_into_affine", fuse_mul_into_affine)
