"""int8 FULLY_CONNECTED (reference_integer_ops::FullyConnected, per-tensor and per-channel) and
BATCH_MATMUL (reference_ops::BatchMatMul: both operands per tensor, with zero points). The
16x8 kernels (ops/int16/fully_connected.py) share the sums."""
from __future__ import annotations

import numpy as np

from ...ir import Graph, Op
from ..fixed_point import scale_double_rounding, scale_single_rounding
from ..fully_connected import batch_matmul
from ..registry import register_int8
from .common import activation_range, fc_multipliers
from .litert import per_tensor


def fc_sums(op: Op, graph: Graph, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """Per row of x and output channel: the sum of w * (x - zero point), plus the bias; int64
    [rows, O] (the 16x8 kernel's too)."""
    _, x_zero = per_tensor(op, graph, op.inputs[0])
    rows = x.reshape(-1, w.shape[1]).astype(np.int64) - x_zero
    acc = rows @ w.astype(np.int64).T
    return acc if b is None else acc + b.astype(np.int64)


def fc_output(op: Op, out: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The [rows, O] result in the output's shape."""
    return out.reshape(x.shape[:-1] + (w.shape[0],)) if op.attrs.get("keep_num_dims") else out


def fully_connected_int8(op: Op, graph: Graph, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None):
    out_scale, out_zero = per_tensor(op, graph, op.outputs[0])
    acc = fc_sums(op, graph, x, w, b)
    mult, shift = fc_multipliers(graph, op.inputs[0], op.inputs[1], op.outputs[0])
    # LiteRT's FULLY_CONNECTED rounds once (measured: tests/test_int8_rounding.py).
    out = scale_single_rounding(acc, mult, shift) + out_zero
    lo, hi = activation_range(op, out_scale, out_zero)
    return fc_output(op, np.clip(out, lo, hi).astype(np.int8), x, w)


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
