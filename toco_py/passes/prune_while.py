"""A WHILE's loop variables that nothing needs are dropped, and a body output that is its
input unchanged is that input (no copy), as TF's converter does. TF2's tf.while_loop adds a
loop counter and maximum_iterations as loop variables, and captured tensors come in as
loop variables the body passes through: most loops carry several nothing reads.

A loop variable is needed when the cond reads it, the graph reads the WHILE's output of it,
or the body computes a needed loop variable from it. Left alone: a WHILE whose subgraphs
another op runs too (dropping one's variables would break the other's)."""
from __future__ import annotations

from ..ir import Graph, Op
from ..ops.converter_only import PASSTHROUGH
from ..tflite.options import SUBGRAPH_ATTRS
from .base import Pass


def _indices(op: Op) -> set[int]:
    """The subgraphs op runs."""
    return {op.attrs[key] for key in SUBGRAPH_ATTRS.get(op.type, ())}


def shared_subgraphs(graph: Graph, op: Op) -> bool:
    """Whether another op of the model runs (or the entry point is) one of op's subgraphs."""
    mine = _indices(op)
    return 0 in mine or any(other is not op and mine & _indices(other)
                            for sub in graph.subgraphs for other in sub.ops)


def _forward_inputs(body: Graph) -> bool:
    """Each body output that is its loop variable's input through pass-through ops becomes
    that input."""
    changed = False
    for k, out in enumerate(body.outputs):
        source = out
        while (producer := body.producer(source)) is not None and producer.type in PASSTHROUGH:
            source = producer.inputs[0]
        if source == body.inputs[k] and out != source:
            body.outputs[k] = source
            changed = True
    if changed:
        body.remove_dead()
    return changed


def _inputs_read(sub: Graph, names: list[str]) -> set[int]:
    """The positions of the subgraph's inputs that `names` are computed from."""
    positions = {name: i for i, name in enumerate(sub.inputs)}
    found, stack, seen = set(), list(names), set()
    while stack:
        name = stack.pop()
        if not name or name in seen:
            continue
        seen.add(name)
        if name in positions:
            found.add(positions[name])
        producer = sub.producer(name)
        if producer is not None:
            stack.extend(producer.inputs)
    return found


def _needed(graph: Graph, op: Op, cond: Graph, body: Graph) -> set[int]:
    needed = _inputs_read(cond, cond.outputs) | {
        k for k, out in enumerate(op.outputs) if out in graph.outputs or graph.consumers(out)}
    while True:
        more = needed | _inputs_read(body, [body.outputs[k] for k in needed])
        if more == needed:
            return needed
        needed = more


def prune_while(graph: Graph, op: Op) -> bool:
    if op.type != "WHILE" or shared_subgraphs(graph, op):
        return False
    cond = graph.subgraphs[op.attrs["cond_subgraph_index"]]
    body = graph.subgraphs[op.attrs["body_subgraph_index"]]
    changed = _forward_inputs(body)
    keep = sorted(_needed(graph, op, cond, body))
    if not keep or len(keep) == len(op.inputs):
        return changed
    for sub in (cond, body):
        sub.inputs = [sub.inputs[k] for k in keep]
    body.outputs = [body.outputs[k] for k in keep]
    for sub in (cond, body):
        sub.remove_dead()
    dropped = [name for k, pair in enumerate(zip(op.inputs, op.outputs)) if k not in keep for name in pair]
    graph.replace_op(op, [Op("WHILE", [op.inputs[k] for k in keep], [op.outputs[k] for k in keep],
                             dict(op.attrs), op.name)])
    graph.drop_unused(dropped)
    return True


PASS = Pass("prune_while", prune_while)
