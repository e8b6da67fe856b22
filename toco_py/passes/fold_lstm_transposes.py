"""A fused LSTM on a TRANSPOSE of its input whose output is read only through TRANSPOSEs or
UNPACKs, the transposes swapping the time and batch axes (a Keras LSTM in a TF1 graph runs
time-major on a batch-major input and transposes its outputs back) -> the LSTM on the input
as it is, time_major flipped, its output read as it is (an UNPACK taking the other axis)."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from .base import Pass, forward
from .patterns import has_activation

SWAP = [1, 0, 2]


def _swaps(graph: Graph, op: Op | None) -> bool:
    perm = graph.const_value(op.inputs[1]) if op is not None and op.type == "TRANSPOSE" else None
    return perm is not None and list(np.ravel(perm)) == SWAP and not has_activation(op)


def fold_lstm_transposes(graph: Graph, op: Op) -> bool:
    if op.type != "UNIDIRECTIONAL_SEQUENCE_LSTM":
        return False
    into, out = graph.producer(op.inputs[0]), op.outputs[0]
    users = graph.consumers(out)
    shape = graph.tensors[out].shape
    if not _swaps(graph, into) or out in graph.outputs or not users or shape is None or any(
            not _swaps(graph, u) and not (u.type == "UNPACK" and u.attrs.get("axis", 0) in (0, 1)) for u in users):
        return False
    graph.set_inputs(op, [into.inputs[0], *op.inputs[1:]])
    op.attrs["time_major"] = not op.attrs.get("time_major", False)
    graph.tensors[out].shape = (shape[1], shape[0], *shape[2:])
    for user in users:
        if user.type == "UNPACK":
            user.attrs["axis"] = 1 - user.attrs.get("axis", 0)
        else:
            forward(graph, user)
    return True


PASS = Pass("fold_lstm_transposes", fold_lstm_transposes)
