"""A Merge left with one live input (its other branches removed) forwards that input."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, const_tensor
from .base import Pass, forward


def resolve_merge(graph: Graph, op: Op) -> bool:
    if op.type != "Merge" or len(op.inputs) != 1:
        return False
    value, index = op.outputs[0], op.outputs[1] if len(op.outputs) > 1 else None
    if index is not None:
        # The value_index output becomes the position of the branch that stayed alive.
        position = op.attrs.get("input_positions", [0])[0]
        graph.tensors[index] = const_tensor(index, np.array(position, np.int32))
        graph.set_outputs(op, [value])
    forward(graph, op)
    return True


PASS = Pass("resolve_merge", resolve_merge)
