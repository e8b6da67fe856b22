"""tf.math.l2_normalize over the last axis, x * rsqrt(max(sum(x^2), eps)), -> L2_NORMALIZATION.
TFLite's kernel divides by max(norm, 1e-6), i.e. clamps the sum of squares at 1e-12, so only
patterns whose epsilon (on the sum) is at most 1e-12 fuse; TensorFlow's default is 1e-12."""
from __future__ import annotations

from ..ir import Graph, Op
from ..ops.common import ACTIVATION_ATTR
from .base import Pass
from .patterns import (
    has_activation,
    private,
    producer_of,
    reduces_last_axis,
    split_const,
)

MAX_EPSILON = 1e-12


def fuse_l2_normalization(graph: Graph, op: Op) -> bool:
    if op.type != "MUL" or has_activation(op):
        return False
    for x, inv in (op.inputs, op.inputs[::-1]):
        rsqrt = producer_of(graph, inv, "RSQRT")
        if rsqrt is None:
            continue
        clamp = producer_of(graph, rsqrt.inputs[0], "MAXIMUM")
        split = split_const(graph, clamp) if clamp else None
        if split is None or split[1] > MAX_EPSILON:
            continue
        total = producer_of(graph, split[0], "SUM")
        if total is None or not reduces_last_axis(graph, total):
            continue
        square = producer_of(graph, total.inputs[0], "SQUARE")
        if square is None or square.inputs[0] != x:
            continue
        chain = [(inv, rsqrt, op), (rsqrt.inputs[0], clamp, rsqrt), (split[0], total, clamp),
                 (total.inputs[0], square, total)]
        if not all(private(graph, t, reader) for t, _, reader in chain):
            continue
        graph.replace_op(op, [Op("L2_NORMALIZATION", [x], op.outputs,
                                 {ACTIVATION_ATTR: "NONE"}, op.name)])
        for _, dead, _ in chain:
            graph.remove_op(dead)
        return True
    return False


PASS = Pass("fuse_l2_normalization", fuse_l2_normalization)
