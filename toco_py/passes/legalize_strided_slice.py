"""TensorFlow's StridedSlice -> STRIDED_SLICE, with its ellipsis written out as full-range
entries when the input's rank and the slice's begin/end/strides are known (as TF's converter
does): an ellipsis covering no axis, which LiteRT's kernel cannot take, then converts, and
the op keeps a lower version. Otherwise the op is retyped as it is."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops.slicing import ellipsis_width
from .base import Pass

_MASKS = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")


def _bits(mask: int, count: int) -> list[bool]:
    return [bool((mask >> i) & 1) for i in range(count)]


def _expanded(graph: Graph, op: Op) -> tuple[list[np.ndarray], dict] | None:
    """(begin, end, strides) and masks with the ellipsis replaced by full-range entries."""
    x = graph.tensors[op.inputs[0]]
    spec = [graph.const_value(name) for name in op.inputs[1:4]]
    if x.shape is None or any(v is None or v.ndim != 1 for v in spec) or len({v.size for v in spec}) != 1:
        return None
    count = spec[0].size
    bits = {m: _bits(op.attrs.get(m, 0), count) for m in _MASKS}
    n_new = sum(1 for i in range(count) if bits["new_axis_mask"][i] and not bits["ellipsis_mask"][i])
    entries, masks = [], {m: [] for m in _MASKS}
    for i in range(count):
        if bits["ellipsis_mask"][i]:
            full = {"begin_mask": True, "end_mask": True}
            for _ in range(ellipsis_width(op, len(x.shape), count, n_new)):
                entries.append((0, 0, 1))
                for m in _MASKS:
                    masks[m].append(full.get(m, False))
            continue
        entries.append(tuple(int(v[i]) for v in spec))
        for m in _MASKS:
            masks[m].append(bits[m][i])
    values = [np.array([e[k] for e in entries], np.int32) for k in range(3)]
    return values, {m: sum(1 << i for i, b in enumerate(masks[m]) if b) for m in _MASKS}


def legalize_strided_slice(graph: Graph, op: Op) -> bool:
    if op.type != "StridedSlice":
        return False
    expanded = _expanded(graph, op) if op.attrs.get("ellipsis_mask") else None
    if expanded is not None:
        values, masks = expanded
        names = [graph.add_const(f"{op.outputs[0]}/{what}", v)
                 for what, v in zip(("begin", "end", "strides"), values)]
        graph.replace_op(op, [Op("STRIDED_SLICE", [op.inputs[0], *names], list(op.outputs),
                                 op.attrs | masks, op.name)])
        return True
    # As it is: STRIDED_SLICE's shape rule refuses an ellipsis LiteRT cannot take.
    graph.replace_op(op, [Op("STRIDED_SLICE", list(op.inputs), list(op.outputs), dict(op.attrs), op.name)])
    return True


PASS = Pass("legalize_strided_slice", legalize_strided_slice)
