"""x + 0, x - 0, x * 1 and x / 1 -> x (dropout's 1/keep_prob scale, padding-free offsets)."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from .base import Pass
from .patterns import has_activation

# op type -> (identity element, which operand may hold it)
_IDENTITY = {"ADD": (0.0, (0, 1)), "SUB": (0.0, (1,)), "MUL": (1.0, (0, 1)), "DIV": (1.0, (1,))}


def remove_trivial_arithmetic(graph: Graph, op: Op) -> bool:
    rule = _IDENTITY.get(op.type)
    if rule is None or has_activation(op):
        return False
    neutral, positions = rule
    out_shape = graph.tensors[op.outputs[0]].shape
    for const_index in positions:
        value = graph.const_value(op.inputs[const_index])
        data_index = 1 - const_index
        data = graph.tensors[op.inputs[data_index]]
        if value is None or value.size == 0 or not np.all(value == neutral):
            continue
        if data.shape != out_shape or data.dtype != graph.tensors[op.outputs[0]].dtype:
            continue  # the constant broadcasts the data to a bigger shape: not a no-op
        if graph.can_bypass(op, input_index=data_index):
            graph.bypass(op, input_index=data_index)
            return True
    return False


PASS = Pass("remove_trivial_arithmetic", remove_trivial_arithmetic)
