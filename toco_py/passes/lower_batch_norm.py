"""FusedBatchNorm in inference -> MUL by scale/sqrt(var+eps) and ADD of the shifted offset,
with constant factors. The fusions then fold both into a preceding conv/depthwise/FC; where
none precedes, the MUL and ADD stay."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, Tensor
from ..ops.common import ACTIVATION_ATTR
from .base import Pass


def lower_batch_norm(graph: Graph, op: Op) -> bool:
    if op.type != "FusedBatchNorm" or op.attrs.get("is_training"):
        return False
    params = [graph.const_value(n) for n in op.inputs[1:5]]
    if any(p is None for p in params) or any(graph.consumers(n) or n in graph.outputs for n in op.outputs[1:]):
        return False
    scale, offset, mean, variance = (p.astype(np.float64) for p in params)
    factor = scale / np.sqrt(variance + op.attrs.get("epsilon", 1e-3))
    shift = offset - mean * factor
    x, y = op.inputs[0], op.outputs[0]
    scaled = graph.unique_name(f"{y}/scaled")
    graph.add_tensor(Tensor(scaled, graph.tensors[y].shape, graph.tensors[y].dtype))
    mul = Op("MUL", [x, graph.add_const(f"{y}/factor", factor.astype(np.float32))], [scaled],
             {ACTIVATION_ATTR: "NONE"}, op.name)
    add = Op("ADD", [scaled, graph.add_const(f"{y}/shift", shift.astype(np.float32))], [y],
             {ACTIVATION_ATTR: "NONE"}, op.name)
    for name in op.outputs[1:]:
        graph.tensors.pop(name, None)
    graph.set_outputs(op, [y])
    graph.replace_op(op, [mul, add])
    return True


PASS = Pass("lower_batch_norm", lower_batch_norm)
