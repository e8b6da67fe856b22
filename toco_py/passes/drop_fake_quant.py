"""FakeQuant (or QuantizeAndDequantize) on an activation -> dropped, its range kept on the tensor for the quantizer.

Runs for --quantize int8 (the ranges then set the int8 parameters) and under
--drop_fake_quant; otherwise emulate_fake_quant keeps the rounding in the float model.
(FakeQuant on constant weights is folded instead, so the weights carry its rounding.)"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops.fake_quant import FAKE_QUANT_TYPES, check_bounds, check_qdq_bounds, fake_quant_bounds, fake_quant_grid
from .base import Pass, forward


def constant_bounds(graph: Graph, op: Op) -> tuple[np.ndarray, np.ndarray] | None:
    """The op's (min, max), checked, or None while they are not constants."""
    rest = [graph.tensors[n] for n in op.inputs[1:3]]
    if any(not t.is_const for t in rest):
        return None
    lo, hi = fake_quant_bounds(op, *rest)
    (check_bounds if op.type == "FakeQuant" else check_qdq_bounds)(op, lo, hi)
    return lo, hi


def nudged_range(graph: Graph, op: Op) -> tuple[float, float] | None:
    """The span of the values the op can output (over all channels), or None."""
    bounds = constant_bounds(graph, op)
    if bounds is None:
        return None
    nudged_min, nudged_max, *_ = fake_quant_grid(op, *bounds)
    zeros = (bounds[0] == 0) & (bounds[1] == 0)  # channels TensorFlow sets to 0
    return (float(np.min(np.where(zeros, 0, nudged_min))),
            float(np.max(np.where(zeros, 0, nudged_max))))


def waits_for_folding(graph: Graph, op: Op) -> bool:
    """A FakeQuant of a constant, or of an op that constant folding will reach first."""
    if graph.tensors[op.inputs[0]].is_const:
        return True
    producer = graph.producer(op.inputs[0])
    return producer is not None and all(not n or graph.tensors[n].is_const for n in producer.inputs)


def drop_fake_quant(graph: Graph, op: Op) -> bool:
    if op.type not in FAKE_QUANT_TYPES or waits_for_folding(graph, op):
        return False
    bounds = nudged_range(graph, op)
    if bounds is None:
        return False
    out, source = op.outputs[0], op.inputs[0]
    only_reader = graph.consumers(source) == [op]
    # Removed, or (a graph output that cannot take over its input's name, as when several
    # fake-quants of one tensor are outputs) an Identity that finalize turns into a copy.
    forward(graph, op)
    # The range goes to whichever of the two remains. Both do when a copy (of a graph input
    # to a graph output) was left: it moves int8 data with its input's params, so an input
    # read by nothing else takes the range too (its QUANTIZE clamps, as TensorFlow's does);
    # else the copy would carry the calibrated range.
    for name in (out, source):
        if name in graph.tensors:
            graph.tensors[name].min_max = bounds
            if not only_reader:
                break
    return True


PASS = Pass("drop_fake_quant", drop_fake_quant)
