"""What a pass is: a named rewrite tried at one op that reports whether it changed anything."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import InternalError, TocoError
from ..ir import Graph, Op
from ..naming import node_name


@dataclass(frozen=True)
class Pass:
    name: str
    # Checks every precondition first and mutates only when all hold (never half-applies).
    rewrite: Callable[[Graph, Op], bool]

    def run(self, graph: Graph, op: Op) -> bool:
        """The rewrite at op. What it checks about the graph raises a TocoError; anything
        else it raises is a bug of ours, reported as one (see errors.py)."""
        try:
            return self.rewrite(graph, op)
        except (TocoError, MemoryError):
            raise
        except Exception as err:
            raise InternalError(f"pass {self.name} on node {node_name(op)!r}") from err


def forward(graph: Graph, op: Op, input_index: int = 0) -> None:
    """Makes op's output the value of one of its inputs: by removing the op where possible,
    else (an input copied straight to an output) by an Identity that finalize turns into a copy."""
    if graph.can_bypass(op, input_index):
        graph.bypass(op, input_index)
    else:
        graph.replace_op(op, [Op("Identity", [op.inputs[input_index]], op.outputs[:1], {}, op.name)])


def reshape_to_output_shape(graph: Graph, op: Op) -> bool:
    """Replaces op by a RESHAPE of its first input to op's output shape, if that is static."""
    out = graph.tensors[op.outputs[0]]
    if not out.static_shape:
        return False
    shape = graph.add_const(f"{op.outputs[0]}/shape", np.array(out.shape, np.int32))
    graph.replace_op(op, [Op("RESHAPE", [op.inputs[0], shape], op.outputs[:1], {}, op.name)])
    return True
