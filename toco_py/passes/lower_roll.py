"""Roll with a known input shape -> one GATHER per rolled axis, of the constant indices
(i - shift) mod n: output i along the axis is input (i - shift) mod n. TF's converter makes
SLICE, SLICE, CONCATENATION per axis; one GATHER moves the same data. A roll by whole turns is
the input itself."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, Tensor
from ..ops.sequence import roll_shifts
from .base import Pass, forward


def lower_roll(graph: Graph, op: Op) -> bool:
    if op.type != "Roll":
        return False
    x = graph.tensors[op.inputs[0]]
    if x.shape is None:
        return False
    total = roll_shifts(op, len(x.shape))
    if any(x.shape[a] < 0 for a in total):
        return False
    rolled = {a: shift % x.shape[a] for a, shift in total.items() if x.shape[a] and shift % x.shape[a]}
    if not rolled:
        forward(graph, op)
        return True
    out = op.outputs[0]
    ops, source = [], op.inputs[0]
    for k, (axis, shift) in enumerate(sorted(rolled.items())):
        n = x.shape[axis]
        indices = graph.add_const(f"{out}/indices_{axis}", (np.arange(n, dtype=np.int32) - shift) % n)
        target = out if k == len(rolled) - 1 else graph.unique_name(f"{out}/rolled_{axis}")
        if target != out:
            graph.add_tensor(Tensor(target, x.shape, x.dtype))
        ops.append(Op("GATHER", [source, indices], [target], {"axis": axis, "batch_dims": 0}, op.name))
        source = target
    graph.replace_op(op, ops)
    return True


PASS = Pass("lower_roll", lower_roll)
