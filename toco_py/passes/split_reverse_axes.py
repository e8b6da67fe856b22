"""REVERSE_V2 over axes that are not one contiguous run -> one REVERSE_V2 per run (LiteRT's
kernel fails at invoke with "Non-contiguous `axes` not supported"; measured on (1, 3) and
(0, 2) of a 4-D tensor). Reversals along different axes commute, so the chain is exact."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, Tensor
from .base import Pass


def contiguous_runs(axes: list[int]) -> list[list[int]]:
    """Sorted distinct axes grouped into runs of consecutive numbers."""
    runs: list[list[int]] = []
    for a in sorted(set(axes)):
        if runs and runs[-1][-1] == a - 1:
            runs[-1].append(a)
        else:
            runs.append([a])
    return runs


def split_reverse_axes(graph: Graph, op: Op) -> bool:
    if op.type != "REVERSE_V2":
        return False
    x, axes = graph.tensors[op.inputs[0]], graph.const_value(op.inputs[1])
    if x.shape is None or axes is None:
        return False
    rank = len(x.shape)
    runs = contiguous_runs([int(a) % rank for a in np.ravel(axes)])
    if len(runs) < 2:
        return False
    ops, source = [], op.inputs[0]
    for i, run in enumerate(runs):
        last = i == len(runs) - 1
        out = op.outputs[0] if last else graph.unique_name(f"{op.outputs[0]}/reverse{i}")
        if not last:
            graph.add_tensor(Tensor(out, x.shape, x.dtype))
        run_axes = graph.add_const(f"{op.outputs[0]}/axes{i}", np.array(run, np.int32))
        ops.append(Op("REVERSE_V2", [source, run_axes], [out], {}, op.name))
        source = out
    graph.replace_op(op, ops)
    return True


PASS = Pass("split_reverse_axes", split_reverse_axes)
