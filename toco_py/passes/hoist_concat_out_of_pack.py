"""PACK of CONCATENATIONs along the last axis, which only PACKs read -> CONCATENATION of the
PACKs of their k-th inputs: k + 1 ops instead of one per packed value (once every PACK
reading them is rewritten so, the CONCATENATIONs go). A bidirectional
RNN's per-step outputs (forward and backward joined, then stacked) become the two
directions' whole sequences joined, which fold_pack_of_unpack then reads off the fused ops."""
from __future__ import annotations

from ..ir import Graph, Op, Tensor
from .base import Pass
from .patterns import has_activation


def _joined(graph: Graph, values: list[str]) -> list[Op] | None:
    """The CONCATENATIONs of the same arity along the last axis that make `values`, read by
    PACKs only; else None."""
    concats = [graph.producer(v) for v in values]
    if any(c is None or c.type != "CONCATENATION" or has_activation(c) for c in concats):
        return None
    arity = len(concats[0].inputs)
    for c in concats:
        shape = graph.tensors[c.outputs[0]].shape
        if shape is None or len(c.inputs) != arity or c.attrs.get("axis", 0) % len(shape) != len(shape) - 1 \
                or any(u.type != "PACK" for u in graph.consumers(c.outputs[0])) or c.outputs[0] in graph.outputs:
            return None
    return concats


def hoist_concat_out_of_pack(graph: Graph, op: Op) -> bool:
    if op.type != "PACK" or len(op.inputs) < 2:
        return False
    concats = _joined(graph, op.inputs)
    out_shape = graph.tensors[op.outputs[0]].shape
    if concats is None or out_shape is None:
        return False
    axis = op.attrs.get("axis", 0) % len(out_shape)
    packs = []
    for k in range(len(concats[0].inputs)):
        parts = [c.inputs[k] for c in concats]
        part_shape = graph.tensors[parts[0]].shape
        if part_shape is None or any(graph.tensors[p].shape != part_shape for p in parts):
            return False
        name = graph.unique_name(f"{op.outputs[0]}/part{k}")
        graph.add_tensor(Tensor(name, (*part_shape[:axis], len(parts), *part_shape[axis:]),
                                graph.tensors[parts[0]].dtype))
        packs.append(Op("PACK", parts, [name], {"values_count": len(parts), "axis": axis}, op.name))
    joined = Op("CONCATENATION", [p.outputs[0] for p in packs], op.outputs,
                {"axis": len(out_shape) - 1, "fused_activation_function": "NONE"}, op.name)
    graph.replace_op(op, [*packs, joined])
    for c in {id(c): c for c in concats}.values():
        if not graph.consumers(c.outputs[0]):
            graph.remove_op(c)
    return True


PASS = Pass("hoist_concat_out_of_pack", hoist_concat_out_of_pack)
