"""FULLY_CONNECTED of a concatenation (on the feature axis) that includes an all-zero
constant -> FULLY_CONNECTED of the other parts with the matching weight columns dropped.
A recurrent cell's first step concatenates its input with a zero state. Only done when
the weights are the FC's own: slicing weights shared with other steps would add bytes."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from .base import Pass


def _zero_segments(graph: Graph, concat: Op) -> list[bool] | None:
    zeros = []
    for name in concat.inputs:
        value = graph.const_value(name)
        zeros.append(value is not None and value.size > 0 and not np.any(value))
    return zeros if any(zeros) and not all(zeros) else None


def fold_zero_concat_into_fc(graph: Graph, op: Op) -> bool:
    if op.type != "CONCATENATION" or op.attrs.get("fused_activation_function", "NONE") != "NONE":
        return False
    out = graph.tensors[op.outputs[0]]
    if out.shape is None or len(out.shape) != 2 or op.attrs.get("axis") not in (1, -1):
        return False
    readers = graph.consumers(op.outputs[0])
    if op.outputs[0] in graph.outputs or not readers or any(
            r.type != "FULLY_CONNECTED" or r.inputs[0] != op.outputs[0] or r.inputs[1:2] == op.outputs[:1]
            or graph.const_value(r.inputs[1]) is None for r in readers):
        return False
    if any(len(graph.consumers(r.inputs[1])) > 1 for r in readers):
        return False
    zeros = _zero_segments(graph, op)
    if zeros is None:
        return False
    widths = [graph.tensors[n].shape[1] for n in op.inputs]
    keep = np.concatenate([np.full(w, not z) for w, z in zip(widths, zeros)])
    kept_inputs = [n for n, z in zip(op.inputs, zeros) if not z]
    if len(kept_inputs) == 1:
        source = kept_inputs[0]
        graph.remove_op(op)
    else:
        op.inputs = kept_inputs
        source = op.outputs[0]
        out.shape = (out.shape[0], int(keep.sum()))
    for fc in readers:
        weights = graph.const_value(fc.inputs[1])
        fc.inputs = [source, graph.add_const(f"{fc.outputs[0]}/weights", weights[:, keep])] + fc.inputs[2:]
    return True


PASS = Pass("fold_zero_concat_into_fc", fold_zero_concat_into_fc)
