"""An explicit zero PAD before a VALID CONV_2D / DEPTHWISE_CONV_2D that pads exactly what
SAME padding would -> the conv with SAME padding on the unpadded input."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops.common import same_padding
from .base import Pass
from .patterns import private, producer_of


def fold_pad_into_conv(graph: Graph, op: Op) -> bool:
    if op.type not in ("CONV_2D", "DEPTHWISE_CONV_2D") or op.attrs.get("padding") != "VALID":
        return False
    pad = producer_of(graph, op.inputs[0], "PAD", "PADV2")
    if pad is None or not private(graph, op.inputs[0], op):
        return False
    pads = graph.const_value(pad.inputs[1])
    value = graph.const_value(pad.inputs[2]) if pad.type == "PADV2" else np.zeros(1)
    x = graph.tensors[pad.inputs[0]]
    filt = graph.tensors[op.inputs[1]]
    if pads is None or value is None or np.any(value != 0) or not x.static_shape or filt.shape is None:
        return False
    pads = np.asarray(pads).reshape(-1, 2)
    if pads.shape[0] != 4 or np.any(pads[0] != 0) or np.any(pads[3] != 0):
        return False
    a = op.attrs
    want_h = same_padding(x.shape[1], filt.shape[1], a.get("stride_h", 1), a.get("dilation_h_factor", 1), "SAME")
    want_w = same_padding(x.shape[2], filt.shape[2], a.get("stride_w", 1), a.get("dilation_w_factor", 1), "SAME")
    if tuple(pads[1]) != want_h or tuple(pads[2]) != want_w:
        return False
    graph.set_input(op, 0, pad.inputs[0])
    op.attrs["padding"] = "SAME"
    graph.remove_op(pad)
    return True


PASS = Pass("fold_pad_into_conv", fold_pad_into_conv)
