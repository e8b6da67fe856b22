"""int8 FULLY_CONNECTED (reference_integer_ops::FullyConnected, per-tensor and per-channel) and
BATCH_MATMUL (reference_ops::BatchMatMul: both operands per tensor, with zero points)."""
from __future__ import annotations

import numpy as np

from ...ir import Graph, Op
from ..fixed_point import scale_double_rounding, scale_single_rounding
from ..fully_connected import batch_matmul
from ..registry import register_int8
from .common import activation_range, fc_multipliers
from .litert import per_tensor


def fully_connected_int8(op: Op, graph: Graph, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None):
    _, x_zero = per_tensor(op, graph, op.inputs[0])
    out_scale, out_zero = per_tensor(op, graph, op.outputs[0])
    k = w.shape[1]
    rows = x.reshape(-1, k).astype(np.int64) - x_zero
    acc = rows @ w.astype(np.int64).T
    if b is not None:
        acc = acc + b.astype(np.int64)
    mult, shift = fc_multipliers(graph, op.inputs[0], op.inputs[1], op.outputs[0])
    # LiteRT's FULLY_CONNECTED rounds once (measured: tests/test_int8_rounding.py).
    out = scale_single_rounding(acc, mult, shift) + out_zero
    lo, hi = activation_range(op, out_scale, out_zero)
    out = np.clip(out, lo, hi).astype(np.int8)
    if op.attrs.get("keep_num_dims"):
        out = out.reshape(x.shape[:-1] + (w.shape[0],))
    return out


def batch_matmul_int8(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _, a_zero = per_tensor(op, graph, op.inputs[0])
    _, b_zero = per_tensor(op, graph, op.inputs[1])
    _, out_zero = per_tensor(op, graph, op.outputs[0])
    # The float kernel on the zero-point-free integers: exact in int64.
    acc = batch_matmul(op, a.astype(np.int64) - a_zero, b.astype(np.int64) - b_zero)
    mult, shift = fc_multipliers(graph, op.inputs[0], op.inputs[1], op.outputs[0])
    # Two roundings (MultiplyByQuantizedMultiplier), unlike FULLY_CONNECTED: measured, single
    # rounding differs by one on a few elements (tests/test_int8_batch_matmul.py). No fused
    # activation: the clamp is int8's whole range.
    return np.clip(scale_double_rounding(acc, mult, shift) + out_zero, -128, 127).astype(np.int8)


register_int8("FULLY_CONNECTED", fully_connected_int8)
register_int8("BATCH_MATMUL", batch_matmul_int8)
