"""Gives CONV_2D and DEPTHWISE_CONV_2D a zero bias when they have none: LiteRT's kernels
require the bias tensor for these two ops (FULLY_CONNECTED accepts none)."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from .affine import output_channels
from .base import Pass


def materialize_conv_bias(graph: Graph, op: Op) -> bool:
    if op.type not in ("CONV_2D", "DEPTHWISE_CONV_2D") or (len(op.inputs) > 2 and op.inputs[2]):
        return False
    filt = graph.tensors[op.inputs[1]]
    if filt.shape is None:
        return False
    bias = graph.add_const(f"{op.outputs[0]}/bias", np.zeros(output_channels(graph, op), np.float32))
    graph.set_inputs(op, op.inputs[:2] + [bias])
    return True


PASS = Pass("materialize_conv_bias", materialize_conv_bias)
