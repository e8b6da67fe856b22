"""ADD/SUB of a constant per-channel vector after CONV_2D, DEPTHWISE_CONV_2D or
FULLY_CONNECTED -> that op's bias."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from .base import Pass, single_consumer

BIAS_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def _channel_vector(value: np.ndarray, channels: int) -> np.ndarray | None:
    """The constant as a [channels] vector, if it broadcasts along the last axis only."""
    if value.size == 1:
        return np.full(channels, value.reshape(()), dtype=value.dtype)
    if value.size == channels and value.shape[-1] == channels:
        return value.reshape(channels)
    return None


def fuse_bias_add(graph: Graph, op: Op) -> bool:
    if op.type not in ("ADD", "SUB") or op.attrs.get("fused_activation_function", "NONE") != "NONE":
        return False
    for data_index in (0, 1):
        if op.type == "SUB" and data_index == 1:
            break  # c - conv(x) is not a bias
        data, const = op.inputs[data_index], op.inputs[1 - data_index]
        producer = graph.producer(data)
        value = graph.const_value(const)
        if (producer is None or producer.type not in BIAS_OPS or value is None
                or producer.attrs.get("fused_activation_function", "NONE") != "NONE"
                or not single_consumer(graph, data, op)):
            continue
        out = graph.tensors[op.outputs[0]]
        if graph.tensors[data].shape != out.shape or value.dtype != np.float32:
            continue  # the add would broadcast the output to a bigger shape
        filt = graph.tensors[producer.inputs[1]]
        channels = filt.shape[-1] if producer.type == "DEPTHWISE_CONV_2D" else filt.shape[0]
        vector = _channel_vector(value, channels)
        old_bias = producer.inputs[2] if len(producer.inputs) > 2 else ""
        old_value = graph.const_value(old_bias) if old_bias else np.zeros(channels, np.float32)
        if vector is None or old_value is None:
            continue
        new_bias = old_value + (vector if op.type == "ADD" else -vector)
        bias_name = graph.add_const(f"{producer.outputs[0]}/bias", new_bias.astype(np.float32))
        producer.inputs = producer.inputs[:2] + [bias_name]
        graph.remove_op(op)
        graph.tensors.pop(producer.outputs[0])
        producer.outputs = [op.outputs[0]]
        return True
    return False


PASS = Pass("fuse_bias_add", fuse_bias_add)
