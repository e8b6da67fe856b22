"""Einsum (two operands, known shapes) -> TRANSPOSE and RESHAPE of each operand to
[batch..., rows, depth] / [batch..., depth, cols], one BATCH_MATMUL, and a RESHAPE and
TRANSPOSE to the output's axis order, as TF's converter lowers it. Transposes and reshapes
that change nothing are left out; BATCH_MATMUL's adj_x / adj_y take the place of a
transpose where an operand already has its depth axes first (or last)."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, Tensor
from ..ops.linalg import Contraction, contraction
from .base import Pass

# The most axes LiteRT's BATCH_MATMUL takes.
_MAX_RANK = 5


def _orders(labels: str, prefix: str, outer: str, depth: str, outer_first: bool) -> tuple[str, bool]:
    """(the operand's axis order for the matmul, adjoint?): the order it has when that is one
    BATCH_MATMUL reads, else the plain one."""
    plain = prefix + (outer + depth if outer_first else depth + outer)
    adjoint = prefix + (depth + outer if outer_first else outer + depth)
    return (adjoint, True) if labels == adjoint and labels != plain else (plain, False)


class _Emitter:
    def __init__(self, graph: Graph, op: Op) -> None:
        self.graph, self.op, self.ops = graph, op, []

    def emit(self, type_: str, inputs: list[str], attrs: dict | None = None) -> str:
        name = self.graph.unique_name(f"{self.op.outputs[0]}/{type_.lower()}")
        self.graph.add_tensor(Tensor(name))
        self.ops.append(Op(type_, inputs, [name], attrs or {}, self.op.name))
        return name

    def transpose(self, x: str, labels: str, order: str) -> str:
        if labels == order:
            return x
        perm = self.graph.add_const(f"{self.op.outputs[0]}/perm", np.array([labels.index(c) for c in order], np.int32))
        return self.emit("TRANSPOSE", [x, perm])

    def reshape(self, x: str, shape: list[int], current: list[int]) -> str:
        if shape == current:
            return x
        target = self.graph.add_const(f"{self.op.outputs[0]}/shape", np.array(shape, np.int32))
        return self.emit("RESHAPE", [x, target])


def _size(c: Contraction, labels: str) -> int:
    return int(np.prod([c.sizes[label] for label in labels]))


def lower_einsum(graph: Graph, op: Op) -> bool:
    if op.type != "Einsum":
        return False
    sa, sb = (graph.tensors[name].shape for name in op.inputs)
    if sa is None or sb is None or not all(d >= 0 for d in sa + sb):
        return False
    c = contraction(op, sa, sb)
    # The first free axes of a stay axes of their own, over which BATCH_MATMUL broadcasts b
    # (numpy's rule, right-aligned: b gets a size-1 axis for each when it has batch axes).
    lead = c.free_a[:-1] if len(c.batch) + len(c.free_a) + 1 <= _MAX_RANK else ""
    rows = c.free_a[len(lead):]
    order_a, adj_x = _orders(c.a, c.batch + lead, rows, c.contracted, outer_first=True)
    order_b, adj_y = _orders(c.b, c.batch, c.free_b, c.contracted, outer_first=False)
    batch = [c.sizes[label] for label in c.batch]
    lead_sizes = [c.sizes[label] for label in lead]
    e = _Emitter(graph, op)
    x = e.transpose(op.inputs[0], c.a, order_a)
    x = e.reshape(x, batch + lead_sizes + ([_size(c, c.contracted), _size(c, rows)] if adj_x else
                                           [_size(c, rows), _size(c, c.contracted)]),
                  [c.sizes[label] for label in order_a])
    y = e.transpose(op.inputs[1], c.b, order_b)
    y = e.reshape(y, batch + [1] * (len(lead) if batch else 0) + (
        [_size(c, c.free_b), _size(c, c.contracted)] if adj_y else [_size(c, c.contracted), _size(c, c.free_b)]),
        [c.sizes[label] for label in order_b])
    product = c.batch + c.free_a + c.free_b
    z = e.emit("BATCH_MATMUL", [x, y], {"adj_x": adj_x, "adj_y": adj_y})
    z = e.reshape(z, [c.sizes[label] for label in product],
                  batch + lead_sizes + [_size(c, rows), _size(c, c.free_b)])
    z = e.transpose(z, product, c.out)
    # The last op writes the Einsum's own output.
    e.ops[-1].outputs = [op.outputs[0]]
    graph.tensors.pop(z)
    graph.replace_op(op, e.ops)
    return True


PASS = Pass("lower_einsum", lower_einsum)
