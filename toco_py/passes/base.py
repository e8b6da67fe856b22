"""What a pass is: a named rewrite tried at one op that reports whether it changed anything."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..ir import Graph, Op


@dataclass(frozen=True)
class Pass:
    name: str
    # Checks every precondition first and mutates only when all hold (never half-applies).
    run: Callable[[Graph, Op], bool]


def single_consumer(graph: Graph, tensor: str, consumer: Op) -> bool:
    """True when `consumer` is the only reader of `tensor` and it is not a graph output."""
    users = graph.consumers(tensor)
    return len(users) == 1 and users[0] is consumer and tensor not in graph.outputs


def forward(graph: Graph, op: Op, input_index: int = 0) -> None:
    """Makes op's output the value of one of its inputs: by removing the op where possible,
    else (an input copied straight to an output) by an Identity that finalize turns into a copy."""
    if graph.can_bypass(op, input_index):
        graph.bypass(op, input_index)
    else:
        graph.replace_op(op, [Op("Identity", [op.inputs[input_index]], op.outputs[:1], {}, op.name)])
