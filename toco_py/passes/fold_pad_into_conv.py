"""An explicit PAD before a VALID CONV_2D / DEPTHWISE_CONV_2D / MAX_POOL_2D that pads exactly
what SAME padding would -> the op with SAME padding on the unpadded input.

SAME means zeros to a convolution: any zero PAD folds. To a max pool it means cells that never
win: a pad value of -inf (or float32's lowest) folds, and so does a zero pad of an input that
is never negative (a RELU's), whose windows each hold a real value >= 0. AVERAGE_POOL_2D's SAME
leaves padding out of the count, which no PAD before it does: never folded.

Each reader folds on its own: a PAD read by several convolutions (NASNet's reduction cells
pad once for two depthwise convolutions) goes when the last of them stops reading it."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops.common import FUSED_ACTIVATIONS, RELU_OPS, activation_of, same_padding
from ..ops.pool import pool_filter
from .base import Pass
from .patterns import producer_of

CONVOLUTIONS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def _never_negative(graph: Graph, name: str) -> bool:
    producer = graph.producer(name)
    if producer is None:
        return False
    low = RELU_OPS[producer.type][0] if producer.type in RELU_OPS else FUSED_ACTIVATIONS[activation_of(producer)][0]
    return low is not None and low >= 0


def _pad_value_folds(graph: Graph, op: Op, pad: Op) -> bool:
    value = graph.const_value(pad.inputs[2]) if pad.type == "PADV2" else np.zeros(1, np.float32)
    if value is None or value.size != 1:
        return False
    value = float(np.ravel(value)[0])
    if op.type in CONVOLUTIONS:
        return value == 0
    return value <= float(np.finfo(np.float32).min) or (value == 0 and _never_negative(graph, pad.inputs[0]))


def _window(graph: Graph, op: Op) -> tuple[int, int] | None:
    if op.type in CONVOLUTIONS:
        filt = graph.tensors[op.inputs[1]].shape
        return None if filt is None else (filt[1], filt[2])
    return pool_filter(op)


def fold_pad_into_conv(graph: Graph, op: Op) -> bool:
    if op.type not in (*CONVOLUTIONS, "MAX_POOL_2D") or op.attrs.get("padding") != "VALID":
        return False
    pad = producer_of(graph, op.inputs[0], "PAD", "PADV2")
    if pad is None:
        return False
    pads = graph.const_value(pad.inputs[1])
    x = graph.tensors[pad.inputs[0]]
    window = _window(graph, op)
    if pads is None or window is None or not x.static_shape or not _pad_value_folds(graph, op, pad):
        return False
    pads = np.asarray(pads).reshape(-1, 2)
    if pads.shape[0] != 4 or np.any(pads[0] != 0) or np.any(pads[3] != 0):
        return False
    a = op.attrs
    want_h = same_padding(x.shape[1], window[0], a.get("stride_h", 1), a.get("dilation_h_factor", 1), "SAME")
    want_w = same_padding(x.shape[2], window[1], a.get("stride_w", 1), a.get("dilation_w_factor", 1), "SAME")
    if tuple(pads[1]) != want_h or tuple(pads[2]) != want_w:
        return False
    padded = op.inputs[0]
    graph.set_input(op, 0, pad.inputs[0])
    op.attrs["padding"] = "SAME"
    if not graph.consumers(padded) and padded not in graph.outputs:
        graph.remove_op(pad)
        graph.drop_unused(pad.inputs[1:] + pad.outputs)
    return True


PASS = Pass("fold_pad_into_conv", fold_pad_into_conv)
