"""FusedBatchNorm in inference -> MUL by scale/sqrt(var+eps) and ADD of the shifted offset,
with constant factors. The fusions then fold both into a preceding conv/depthwise/FC; where
none precedes, the MUL and ADD stay.

In training mode (is_training: the batch's own statistics, as the training branch of a
tf.cond(is_training) computes them) -> MEAN over all axes but the channels, the population
variance as the MEAN of SQUARED_DIFFERENCE, then (x - mean) * scale * rsqrt(var + eps) +
offset: nine builtins."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, Tensor
from ..ops.common import ACTIVATION_ATTR
from .base import Pass


def lower_batch_norm(graph: Graph, op: Op) -> bool:
    if op.type != "FusedBatchNorm" or any(graph.consumers(n) or n in graph.outputs for n in op.outputs[1:]):
        return False
    if op.attrs.get("is_training"):
        return _lower_training(graph, op)
    params = [graph.const_value(n) for n in op.inputs[1:5]]
    if any(p is None for p in params):
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


def _lower_training(graph: Graph, op: Op) -> bool:
    x, scale, offset = op.inputs[:3]
    shape, dtype = graph.tensors[x].shape, graph.tensors[x].dtype
    if shape is None or not shape:
        return False
    y = op.outputs[0]
    stats = tuple(1 for _ in shape[:-1]) + (shape[-1],)
    axes = graph.add_const(f"{y}/axes", np.arange(len(shape) - 1, dtype=np.int32))
    epsilon = graph.add_const(f"{y}/epsilon", np.array(op.attrs.get("epsilon", 1e-3), np.float32))
    ops: list[Op] = []

    def step(op_type: str, inputs: list[str], suffix: str, out_shape=stats, attrs=None) -> str:
        out = y if suffix == "" else graph.unique_name(f"{y}/{suffix}")
        if out != y:
            graph.add_tensor(Tensor(out, out_shape, dtype))
        ops.append(Op(op_type, inputs, [out], attrs if attrs is not None else {ACTIVATION_ATTR: "NONE"},
                      op.name))
        return out
    mean = step("MEAN", [x, axes], "mean", attrs={"keep_dims": True})
    squares = step("SQUARED_DIFFERENCE", [x, mean], "squares", shape, attrs={})
    variance = step("MEAN", [squares, axes], "variance", attrs={"keep_dims": True})
    inverse = step("RSQRT", [step("ADD", [variance, epsilon], "variance_eps")], "inverse", attrs={})
    factor = step("MUL", [inverse, scale], "factor")
    centered = step("SUB", [x, mean], "centered", shape)
    step("ADD", [step("MUL", [centered, factor], "scaled", shape), offset], "")
    for name in op.outputs[1:]:
        graph.tensors.pop(name, None)
    graph.set_outputs(op, [y])
    graph.replace_op(op, ops)
    return True


PASS = Pass("lower_batch_norm", lower_batch_norm)
