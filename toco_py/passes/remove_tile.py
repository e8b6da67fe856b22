"""TILE that does nothing (all multiples 1), or whose only readers are broadcasting
elementwise ops that would broadcast the untiled tensor to the same result -> removed."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Graph, Op
from ..ops import has_trait
from ..ops.common import broadcast_shapes
from .base import Pass


def _broadcast_does_the_work(graph: Graph, tile: Op) -> bool:
    src, tiled = tile.inputs[0], tile.outputs[0]
    users = graph.consumers(tiled)
    if not users or tiled in graph.outputs:
        return False
    for user in users:
        if not has_trait(user.type, "broadcasting"):
            return False
        shapes = [graph.tensors[src if n == tiled else n].shape for n in user.inputs]
        if any(s is None for s in shapes):
            return False
        try:
            if broadcast_shapes(user, *shapes) != graph.tensors[user.outputs[0]].shape:
                return False
        except ConversionError:
            return False
    return True


def remove_tile(graph: Graph, op: Op) -> bool:
    if op.type != "TILE":
        return False
    multiples = graph.const_value(op.inputs[1])
    src = graph.tensors[op.inputs[0]]
    trivial = multiples is not None and np.all(multiples == 1)
    if not (trivial or (src.static_shape and _broadcast_does_the_work(graph, op))):
        return False
    if not graph.can_bypass(op):
        return False
    graph.bypass(op)
    return True


PASS = Pass("remove_tile", remove_tile)
