"""tf.cond on a constant predicate: a Switch whose predicate is constant forwards its data to
the branch taken, and every op of the branch not taken is removed (TF1 control flow, as
batch-norm and dropout layers build it around an is_training flag)."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Graph, Op
from .base import Pass, forward


def kill_branch(graph: Graph, tensor: str) -> None:
    """Removes every op that depends on `tensor`; a Merge only loses that input, unless it
    was its last (a cond nested in the branch not taken: the whole Merge is dead)."""
    dead = [tensor]
    while dead:
        name = dead.pop()
        if name in graph.outputs:
            raise ConversionError(
                f"output {name!r} is only computed in a tf.cond branch that the constant "
                "predicate never takes; choose another --output_arrays")
        for user in list(graph.consumers(name)):
            if user.type == "Merge" and any(n != name for n in user.inputs):
                positions = user.attrs.setdefault("input_positions", list(range(len(user.inputs))))
                keep = [i for i, n in enumerate(user.inputs) if n != name]
                graph.set_inputs(user, [user.inputs[i] for i in keep])
                user.attrs["input_positions"] = [positions[i] for i in keep]
            else:
                graph.remove_op(user)
                dead.extend(user.outputs)
        graph.tensors.pop(name, None)


def resolve_switch(graph: Graph, op: Op) -> bool:
    if op.type != "Switch":
        return False
    pred = graph.const_value(op.inputs[1])
    if pred is None:
        return False
    if np.size(pred) != 1:
        raise ConversionError(f"{op!r}: its predicate has {np.size(pred)} values, not one bool; "
                              "the graph is malformed")
    taken = 1 if bool(np.ravel(pred)[0]) else 0
    live = op.outputs[taken]
    kill_branch(graph, op.outputs[1 - taken])
    graph.set_outputs(op, [live])
    forward(graph, op)
    return True


PASS = Pass("resolve_switch", resolve_switch)
