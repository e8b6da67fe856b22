"""float16 quantization: every float32 constant stored as float16 behind a DEQUANTIZE op that
restores float32 (LiteRT runs a DEQUANTIZE of a constant once, when it prepares the model):
half the weight bytes, float compute."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, Tensor


def quantize_float16(graph: Graph) -> int:
    """Returns how many constants were converted."""
    converted: dict[str, str] = {}
    for op in list(graph.ops):
        for i, name in enumerate(op.inputs):
            t = graph.tensors.get(name) if name else None
            if t is None or not t.is_const or t.dtype != "float32":
                continue
            if name not in converted:
                half = graph.add_const(f"{name}/float16", t.data.astype(np.float16))
                graph.tensors[half].sparsity = t.sparsity  # stored sparse, if it was
                restored = graph.unique_name(f"{name}/dequantized")
                graph.add_tensor(Tensor(restored, t.shape, "float32"))
                graph.ops.insert(0, Op("DEQUANTIZE", [half], [restored], {}, name))
                converted[name] = restored
            op.inputs[i] = converted[name]
    graph.invalidate()
    graph.remove_dead()
    graph.checkpoint("the float16 quantizer")
    return len(converted)
