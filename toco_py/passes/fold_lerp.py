"""u * h + (1 - u) * c -> c + u * (h - c): a GRU's new state, mixed from the old one and the
candidate by the update gate (TF1's GRUCell, Keras's GRU), in three ops instead of four, one
fewer per step. The same function (the rounding differs within the float policy). LiteRT
has no builtin GRU op (its UNIDIRECTIONAL_SEQUENCE_GRU is a custom op that its op resolvers
do not register, and TFLM has none), so a GRU stays this op sequence."""
from __future__ import annotations

from ..ir import Graph, Op, Tensor
from .base import Pass
from .patterns import private, producer_of, scalar_const


def _one_minus(graph: Graph, name: str) -> str | None:
    """u when `name` is SUB(1, u)."""
    sub = producer_of(graph, name, "SUB")
    if sub is None or scalar_const(graph, sub.inputs[0]) != 1.0 or graph.const_value(sub.inputs[0]).size != 1:
        return None
    return sub.inputs[1]


def _terms(graph: Graph, add: Op) -> tuple[Op, Op, str, str, str] | None:
    """(the two products, u, h, c) of ADD(MUL(u, h), MUL(SUB(1, u), c)), either order."""
    products = [producer_of(graph, n, "MUL") for n in add.inputs]
    if None in products or products[0] is products[1]:
        return None
    for mixed, kept in (products, products[::-1]):
        for k in (0, 1):
            u = _one_minus(graph, mixed.inputs[k])
            if u is not None and u in kept.inputs and sorted(kept.inputs) != [u, u]:
                h = kept.inputs[1] if kept.inputs[0] == u else kept.inputs[0]
                return mixed, kept, u, h, mixed.inputs[1 - k]
    return None


def fold_lerp(graph: Graph, op: Op) -> bool:
    if op.type != "ADD":
        return False
    found = _terms(graph, op)
    if found is None:
        return False
    mixed, kept, u, h, c = found
    shapes = [graph.tensors[n].shape for n in (u, h, c, op.outputs[0])]
    if any(s is None for s in shapes) or len(set(shapes)) != 1 \
            or not private(graph, mixed.outputs[0], op) or not private(graph, kept.outputs[0], op):
        return False
    dtype = graph.tensors[op.outputs[0]].dtype
    if dtype != "float32":
        return False
    sub = graph.producer(mixed.inputs[0] if mixed.inputs[1] == c else mixed.inputs[1])
    diff, scaled = (graph.unique_name(f"{op.outputs[0]}/{part}") for part in ("diff", "scaled"))
    for name in (diff, scaled):
        graph.add_tensor(Tensor(name, shapes[0], dtype))
    graph.replace_op(op, [Op("SUB", [h, c], [diff], {"fused_activation_function": "NONE"}, op.name),
                          Op("MUL", [u, diff], [scaled], {"fused_activation_function": "NONE"}, op.name),
                          Op("ADD", [c, scaled], op.outputs, dict(op.attrs), op.name)])
    for dead in (mixed, kept, sub):
        if dead.alive and not any(graph.consumers(n) or n in graph.outputs for n in dead.outputs):
            graph.remove_op(dead)
    return True


PASS = Pass("fold_lerp", fold_lerp)
