"""FakeQuant on an activation -> dropped, its range kept on the tensor for the quantizer.
(FakeQuant on constant weights is folded instead, so the weights carry its rounding.)"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops.converter_only import fake_quant_range
from .base import Pass


def _range(graph: Graph, op: Op) -> tuple[float, float] | None:
    if len(op.inputs) == 1:
        lo, hi = op.attrs["min"], op.attrs["max"]
    else:
        lo, hi = graph.const_value(op.inputs[1]), graph.const_value(op.inputs[2])
        if lo is None or hi is None:
            return None
    nudged_lo, nudged_hi, _ = fake_quant_range(op, lo, hi)
    return float(np.min(nudged_lo)), float(np.max(nudged_hi))


def drop_fake_quant(graph: Graph, op: Op) -> bool:
    if op.type != "FakeQuant" or graph.tensors[op.inputs[0]].is_const:
        return False
    producer = graph.producer(op.inputs[0])
    if producer is not None and all(not n or graph.tensors[n].is_const for n in producer.inputs):
        return False  # constant folding will reach it first
    bounds = _range(graph, op)
    if bounds is None or not graph.can_bypass(op):
        return False
    out = op.outputs[0]
    graph.bypass(op)
    survivor = out if out in graph.tensors else op.inputs[0]
    graph.tensors[survivor].min_max = bounds
    return True


PASS = Pass("drop_fake_quant", drop_fake_quant)
