"""A WHILE whose body's output shapes the import could not find (sizes known only once the
passes fold constants) is checked once they are: each loop variable keeps its shape and dtype
(ops/control_flow.check_settled). Runs in the last stage, when every subgraph has been
through the stages that settle shapes. Changes nothing."""
from __future__ import annotations

from ..ir import Graph, Op
from ..ops.control_flow import check_settled
from .base import Pass


def check_while_shapes(graph: Graph, op: Op) -> bool:
    if op.type == "WHILE":
        body = graph.subgraphs[op.attrs["body_subgraph_index"]]
        check_settled(f"node {op.name!r} (WHILE)", op.inputs, body)
    return False


PASS = Pass("check_while_shapes", check_while_shapes)
