"""TRANSPOSE -> element-wise ops -> TRANSPOSE -> the element-wise ops on the untransposed
data, then one TRANSPOSE of the two permutations combined, none when they cancel (TF's
converter moves transposes through element-wise ops and merges them the same way).

Matched at the second TRANSPOSE: above it, a region of element-wise ops (each output read only
inside the region) whose non-constant inputs are all TRANSPOSEs by one permutation. An
element-wise op commutes with a transpose of all its operands (a fused activation is
element-wise too), so the region computes the same on the untransposed inputs, with each
constant transposed back (broadcasting is kept: a constant of lower rank gets leading 1s
first)."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops import has_trait
from .base import Pass
from .patterns import private


def _elementwise(op: Op) -> bool:
    return len(op.outputs) == 1 and (has_trait(op.type, "elementwise") or has_trait(op.type, "broadcasting"))


def _perm(graph: Graph, op: Op | None) -> tuple[int, ...] | None:
    if op is None or op.type != "TRANSPOSE":
        return None
    perm = graph.const_value(op.inputs[1])
    return None if perm is None else tuple(int(p) for p in np.ravel(perm))


def _region(graph: Graph, tensor: str, reader: Op, rank: int, ops: list[Op], leaves: dict) -> bool:
    """Collects the element-wise ops computing `tensor` (each once, inputs first) down to the
    TRANSPOSEs of rank `rank` feeding them (leaves: output -> TRANSPOSE). False if anything
    else feeds the region."""
    producer = graph.producer(tensor)
    perm = _perm(graph, producer)
    if perm is not None and len(perm) == rank:
        leaves[tensor] = producer
        return True
    if producer is None or not _elementwise(producer) or not private(graph, tensor, reader):
        return False
    if any(producer is op for op in ops):
        return True
    for name in producer.inputs:
        value = graph.const_value(name)
        if value is not None:
            if value.ndim > rank:
                return False
        elif not _region(graph, name, producer, rank, ops, leaves):
            return False
    ops.append(producer)
    return True


def _transposed(value: np.ndarray, perm: np.ndarray) -> np.ndarray:
    if value.ndim == 0:
        return value
    return value.reshape((1,) * (perm.size - value.ndim) + value.shape).transpose(perm)


def _only_read_in(graph: Graph, tensor: str, ops: list[Op]) -> bool:
    return tensor not in graph.outputs and all(any(u is o for o in ops) for u in graph.consumers(tensor))


def sink_transpose(graph: Graph, op: Op) -> bool:
    last = _perm(graph, op)
    if last is None:
        return False
    ops: list[Op] = []
    leaves: dict[str, Op] = {}
    if not _region(graph, op.inputs[0], op, len(last), ops, leaves) or not ops or not leaves:
        return False
    perms = {_perm(graph, t) for t in leaves.values()}
    if len(perms) != 1:
        return False
    first = np.array(perms.pop())
    back, combined = np.argsort(first), first[np.array(last)]
    cancel = np.array_equal(combined, np.arange(combined.size))
    # Without cancelling, a gain only when the first TRANSPOSEs all go.
    if not cancel and not all(_only_read_in(graph, t, ops) for t in leaves):
        return False
    root = ops[-1]
    for inner in ops:
        inputs = []
        for name in inner.inputs:
            value = graph.const_value(name)
            if name in leaves:
                name = leaves[name].inputs[0]
            elif value is not None:
                name = graph.add_const(f"{inner.outputs[0]}/transposed", _transposed(value, back))
            inputs.append(name)
        old = [n for n in inner.inputs if n not in inputs]
        graph.set_inputs(inner, inputs)
        graph.drop_unused(old)
        out = graph.tensors[inner.outputs[0]]
        if out.shape is not None:
            out.shape = tuple(out.shape[p] for p in back)
    if cancel:
        graph.remove_op(op)
        graph.tensors.pop(root.outputs[0])
        graph.set_outputs(root, [op.outputs[0]])
        graph.drop_unused(op.inputs[1:])
    else:
        old = op.inputs[1]
        graph.set_input(op, 1, graph.add_const(f"{op.outputs[0]}/perm", combined.astype(np.int32)))
        graph.drop_unused([old])
    for transpose in {id(t): t for t in leaves.values()}.values():
        if not graph.consumers(transpose.outputs[0]) and transpose.outputs[0] not in graph.outputs:
            graph.remove_op(transpose)
            graph.drop_unused(transpose.inputs[1:] + transpose.outputs)
    return True


PASS = Pass("sink_transpose", sink_transpose)
