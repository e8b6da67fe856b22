"""PACK of a tensor's UNPACK outputs along the same axis -> the tensor itself, in order, or its
REVERSE_V2, in reverse order. The fused LSTMs leave these: a static_rnn's steps unstacked
from the sequence and stacked again, the backward half of a bidirectional pair reading them
back to front (hoist_concat_out_of_pack brings its outputs here too)."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from .base import Pass


def _source(graph: Graph, values: list[str], axis: int) -> tuple[Op, list[int]] | None:
    """(the UNPACK along `axis` all values come from, their indices), or None."""
    unpack = graph.producer(values[0])
    if unpack is None or unpack.type != "UNPACK" or len(unpack.outputs) != len(values):
        return None
    shape = graph.tensors[unpack.inputs[0]].shape
    if shape is None or unpack.attrs.get("axis", 0) % len(shape) != axis % len(shape):
        return None
    if any(graph.producer(v) is not unpack for v in values):
        return None
    return unpack, [unpack.outputs.index(v) for v in values]


def fold_pack_of_unpack(graph: Graph, op: Op) -> bool:
    if op.type != "PACK" or len(set(op.inputs)) != len(op.inputs):
        return False
    out_shape = graph.tensors[op.outputs[0]].shape
    if out_shape is None:
        return False
    axis = op.attrs.get("axis", 0) % len(out_shape)
    found = _source(graph, op.inputs, axis)
    if found is None:
        return False
    unpack, order = found
    whole = unpack.inputs[0]
    if order == list(range(len(order))):
        if op.outputs[0] in graph.outputs:  # (the graph output keeps its name: a copy)
            shape = graph.add_const(f"{op.outputs[0]}/shape", np.array(out_shape, np.int32))
            graph.replace_op(op, [Op("RESHAPE", [whole, shape], op.outputs, {"new_shape": list(out_shape)}, op.name)])
        else:
            graph.replace_uses(op.outputs[0], whole)
            graph.remove_op(op)
        return True
    if order != list(reversed(range(len(order)))):
        return False
    axes = graph.add_const(f"{op.outputs[0]}/axis", np.array([axis], np.int32))
    graph.replace_op(op, [Op("REVERSE_V2", [whole, axes], op.outputs, {}, op.name)])
    return True


PASS = Pass("fold_pack_of_unpack", fold_pack_of_unpack)
