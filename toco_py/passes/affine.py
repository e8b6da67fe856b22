"""Shared matching for rewrites that fold a constant binary op into the preceding
CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED (its weights or bias)."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops import REGISTRY, types_with
from ..ops.common import activation_of, set_activation
from .patterns import private, producer_of


def channel_vector(value: np.ndarray, channels: int) -> np.ndarray | None:
    """The constant as a [channels] vector, if it broadcasts along the last axis only."""
    if value.size == 1:
        return np.full(channels, value.reshape(()), dtype=value.dtype)
    if value.size == channels and value.shape[-1] == channels:
        return value.reshape(channels)
    return None


def channel_axis(producer: Op) -> int:
    """The filter axis of the output channels (the one int8 quantizes per channel): the last
    for depthwise, the first for conv and FC."""
    return REGISTRY[producer.type].weight_axis[1]


def output_channels(graph: Graph, producer: Op) -> int:
    return graph.tensors[producer.inputs[1]].shape[channel_axis(producer)]


def match_affine_const(graph: Graph, op: Op, const_first_ok: bool):
    """For a binary op of an affine op's output and a float32 per-channel constant, returns
    (affine producer, constant as a [channels] vector); else None. The op may carry a
    fused activation: absorb() hands it to the producer."""
    for data_index in (0, 1) if const_first_ok else (0,):
        data, const = op.inputs[data_index], op.inputs[1 - data_index]
        producer = producer_of(graph, data, *types_with("affine"))
        value = graph.const_value(const)
        if (producer is None or value is None
                or not graph.tensors[producer.inputs[1]].static_shape  # weights of unknown shape
                or value.dtype != np.float32
                or not private(graph, data, op)
                # the op must not broadcast the output to a bigger shape
                or graph.tensors[data].shape != graph.tensors[op.outputs[0]].shape):
            continue
        vector = channel_vector(value, output_channels(graph, producer))
        if vector is not None:
            return producer, vector
    return None


def bias_value(graph: Graph, producer: Op) -> np.ndarray | None:
    """The producer's constant bias, zeros if it has none, None if it is not constant."""
    bias = producer.inputs[2] if len(producer.inputs) > 2 else ""
    if not bias:
        return np.zeros(output_channels(graph, producer), np.float32)
    return graph.const_value(bias)


def absorb(graph: Graph, producer: Op, op: Op) -> None:
    """Removes `op`; its producer now writes op's output tensor directly (and applies the
    op's fused activation, if any)."""
    activation = activation_of(op)
    if activation != "NONE":
        set_activation(producer, activation)
    graph.remove_op(op)
    graph.tensors.pop(producer.outputs[0])
    graph.set_outputs(producer, [op.outputs[0]] + producer.outputs[1:])
