"""float16 quantization: float32 weights stored as float16, each behind a DEQUANTIZE op that
restores float32 when the runtime prepares the model (half the weight bytes, float compute)."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, Tensor
from .dynamic import WEIGHT_OPS

MIN_ELEMENTS = 1024  # smaller constants (biases, scalars) are not worth a DEQUANTIZE op


def _worth_it(graph: Graph, name: str, op: Op, index: int) -> bool:
    t = graph.tensors[name]
    if not t.is_const or t.dtype != "float32":
        return False
    return (op.type in WEIGHT_OPS and index == WEIGHT_OPS[op.type][0]) or t.size >= MIN_ELEMENTS


def quantize_float16(graph: Graph) -> int:
    """Returns how many constants were converted."""
    converted: dict[str, str] = {}
    for op in list(graph.ops):
        for i, name in enumerate(op.inputs):
            if not name or name in converted.values() or not _worth_it(graph, name, op, i):
                continue
            if name not in converted:
                t = graph.tensors[name]
                half = graph.add_const(f"{name}/float16", t.data.astype(np.float16))
                restored = graph.unique_name(f"{name}/dequantized")
                graph.add_tensor(Tensor(restored, t.shape, "float32"))
                graph.ops.insert(0, Op("DEQUANTIZE", [half], [restored], {}, name))
                converted[name] = restored
            op.inputs[i] = converted[name]
    graph.invalidate()
    graph.remove_dead()
    return len(converted)
