"""x * relu6(x + 3) / 6, in the orders Keras and hand-written models spell it, -> HARD_SWISH."""
from __future__ import annotations

import math

from ..ir import Graph, Op
from ..ops.common import activation_of
from .base import Pass
from .patterns import has_activation, private, producer_of, scalar_const, split_const

_MAX_DEPTH = 3


def _factors(graph: Graph, name: str, root: Op, depth: int = 0):
    """Flattens a private MUL/DIV tree into (tensor factors, constant multiplier, ops)."""
    op = graph.producer(name)
    if (depth and (op is None or op.type not in ("MUL", "DIV") or not private(graph, name, root)
                   or has_activation(op))) \
            or depth > _MAX_DEPTH:
        return [name], 1.0, []
    factors, multiplier, ops = [], 1.0, [op]
    for i, operand in enumerate(op.inputs):
        c = scalar_const(graph, operand)
        if c is not None:
            multiplier *= c if (op.type == "MUL" or i == 0) else 1.0 / c if c else math.inf
            continue
        if op.type == "DIV" and i == 1:
            return [name], 1.0, []  # x / y(x) is not a product
        sub, m, sub_ops = _factors(graph, operand, op, depth + 1)
        factors += sub
        multiplier *= m
        ops += sub_ops
    return factors, multiplier, ops


def _relu6_of_x_plus_3(graph: Graph, name: str):
    """(x, ops) when `name` is relu6(x + 3), as two ops or as ADD with fused RELU6."""
    op = graph.producer(name)
    ops = []
    if op is not None and op.type == "RELU6":
        ops.append(op)
        inner = op.inputs[0]
        op = producer_of(graph, inner)
        if op is None or not private(graph, inner, ops[0]):
            return None
    elif op is None or activation_of(op) != "RELU6":
        return None
    if op.type != "ADD":
        return None
    split = split_const(graph, op)
    if split is None or split[1] != 3.0:
        return None
    return split[0], ops + [op]


def fuse_hard_swish(graph: Graph, op: Op) -> bool:
    if op.type not in ("MUL", "DIV") or has_activation(op):
        return False
    factors, multiplier, ops = _factors(graph, op.outputs[0], op)
    if len(factors) != 2 or not math.isclose(multiplier, 1 / 6, rel_tol=1e-6):
        return False
    for x, gate in (factors, factors[::-1]):
        match = _relu6_of_x_plus_3(graph, gate)
        if match is None or match[0] != x or not private(graph, gate, *ops):
            continue
        graph.replace_op(op, [Op("HARD_SWISH", [x], op.outputs, {}, op.name)])
        for dead in ops[1:] + match[1]:
            graph.remove_op(dead)
        return True
    return False


PASS = Pass("fuse_hard_swish", fuse_hard_swish)
