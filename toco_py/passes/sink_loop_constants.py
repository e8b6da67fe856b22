"""A WHILE's loop variable that is a constant passed through the body unchanged (a weight a
TF1 loop brings in through an Enter, or a TF2 loop captures) -> that constant inside the cond
and the body: their ops then read a constant (a FULLY_CONNECTED's weights fold there, instead
of being transposed at every iteration), and prune_while drops the variable when nothing
else needs it. Left alone: a WHILE whose subgraphs another op runs too."""
from __future__ import annotations

from ..ir import Graph, Op
from .base import Pass
from .prune_while import shared_subgraphs


def _sink(sub: Graph, k: int, value) -> bool:
    """Makes the subgraph's reads of input k read the constant; whether any did."""
    name = sub.inputs[k]
    if not sub.consumers(name) and name not in sub.outputs[:k] + sub.outputs[k + 1:]:
        return False
    kept = list(sub.outputs)
    sub.replace_uses(name, sub.add_const(f"{name}/value", value))
    # Output k stays the input itself: the loop variable is still carried (maybe read after).
    sub.outputs = [name if j == k and out == name else sub.outputs[j] for j, out in enumerate(kept)]
    return True


def sink_loop_constants(graph: Graph, op: Op) -> bool:
    if op.type != "WHILE" or shared_subgraphs(graph, op):
        return False
    cond = graph.subgraphs[op.attrs["cond_subgraph_index"]]
    body = graph.subgraphs[op.attrs["body_subgraph_index"]]
    changed = False
    for k, name in enumerate(op.inputs):
        value = graph.const_value(name)
        if value is None or body.outputs[k] != body.inputs[k]:
            continue
        changed |= _sink(cond, k, value)
        changed |= _sink(body, k, value)
    return changed


PASS = Pass("sink_loop_constants", sink_loop_constants)
