"""A per-input-channel MUL/DIV or ADD/SUB by a constant vector before CONV_2D,
DEPTHWISE_CONV_2D or FULLY_CONNECTED -> that layer's weights and bias (TOCO's
fuse_binary_into_following_affine; a batch norm after ReLU or before a dense layer).

    layer(x * s) = layer'(x) with w' = w * s along the input channel (zero padding stays
                   zero, so any padding);
    layer(x + t) = layer(x) + sum(w * t) over all but the output axis, which holds only
                   when every window lies inside the input: VALID padding for convolutions.
Left unfused, int8 quantizes the per-feature product on its own scale and loses most of
the signal of small features."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops import has_trait
from .affine import bias_value, channel_axis, channel_vector
from .base import Pass
from .patterns import has_activation, private

SCALES = {"MUL": lambda v: v, "DIV": lambda v: 1.0 / v}
SHIFTS = {"ADD": lambda v: v, "SUB": lambda v: -v}


def _data_and_vector(graph: Graph, op: Op, channels: int) -> tuple[str, np.ndarray] | None:
    """(the data operand, the constant as a float64 [channels] vector): the constant
    broadcasts along the last axis only and the op does not broadcast its data bigger."""
    # c / x and c - x are not a scale or a shift of x: only MUL and ADD take it first.
    for data_index in (0, 1) if op.type in ("MUL", "ADD") else (0,):
        data, const = op.inputs[data_index], op.inputs[1 - data_index]
        value = graph.const_value(const)
        if value is None or value.dtype != np.float32:
            continue
        if graph.tensors[data].shape != graph.tensors[op.outputs[0]].shape:
            continue
        vector = channel_vector(value, channels)
        if vector is not None:
            return data, vector.astype(np.float64)
    return None


def _along_filter(layer: Op, weights: np.ndarray, vector: np.ndarray) -> np.ndarray | None:
    """The input-channel vector laid along the filter's last axis: as is for conv and FC (that
    axis is the input channel), each channel repeated depth-multiplier times for depthwise
    (output channel c reads input channel c // multiplier). None when the filter's input
    axis is not the data's last axis (FULLY_CONNECTED flattening a bigger input, grouped
    convolution)."""
    repeat = weights.shape[-1] // vector.size if layer.type == "DEPTHWISE_CONV_2D" else 1
    if weights.shape[-1] != vector.size * repeat:
        return None
    return np.repeat(vector, repeat)


def fuse_affine_into_following(graph: Graph, op: Op) -> bool:
    if (op.type not in SCALES and op.type not in SHIFTS) or has_activation(op):
        return False
    users = graph.consumers(op.outputs[0])
    if not users or not has_trait(users[0].type, "affine") or not private(graph, op.outputs[0], users[0]):
        return False
    layer = users[0]
    shape = graph.tensors[op.outputs[0]].shape
    if layer.inputs[0] != op.outputs[0] or not shape or shape[-1] <= 0:
        return False
    if op.type in SHIFTS and layer.type != "FULLY_CONNECTED" and layer.attrs.get("padding") != "VALID":
        return False  # SAME pads with zeros the shifted input would not have
    match = _data_and_vector(graph, op, shape[-1])
    weights = graph.const_value(layer.inputs[1])
    if match is None or weights is None or weights.dtype != np.float32:
        return False
    bias = bias_value(graph, layer)  # reads the weights' shape when the layer has no bias
    if bias is None:
        return False
    data, vector = match
    if op.type == "DIV" and not np.all(vector):
        return False  # x / 0 is inf or nan, which scaled weights would not reproduce
    along = _along_filter(layer, weights, vector)
    if along is None:
        return False
    w64 = weights.astype(np.float64)
    if op.type in SCALES:
        new_w, new_b = w64 * SCALES[op.type](along), bias.astype(np.float64)
    else:
        others = tuple(a for a in range(weights.ndim) if a != channel_axis(layer))
        new_w, new_b = w64, bias + (w64 * SHIFTS[op.type](along)).sum(axis=others)
    old = layer.inputs[1:]
    graph.set_inputs(layer, [data,
                             graph.add_const(f"{op.outputs[0]}/weights", new_w.astype(np.float32)),
                             graph.add_const(f"{op.outputs[0]}/bias", new_b.astype(np.float32))])
    graph.remove_op(op)
    graph.drop_unused(old + op.inputs + op.outputs)
    return True


PASS = Pass("fuse_affine_into_following", fuse_affine_into_following)
