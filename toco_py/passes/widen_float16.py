"""float16 weights, a DEQUANTIZE of a float16 constant as TF's float16 quantization writes them,
become the float32 constants they stand for, so that a float16 model can be quantized, pruned
or clustered from its float values (float16 widens to float32 exactly). Without this, the
quantizers saw MediaPipe's pose landmarker's conv filters as activations, computed by the
DEQUANTIZEs, and gave them asymmetric int8 params that LiteRT refuses for a filter."""
from __future__ import annotations

import numpy as np

from ..ir import Graph


def widen_float16(graph: Graph) -> int:
    """Each DEQUANTIZE of a float16 constant becomes the float32 constant it makes (stored
    sparse as the float16 one was); returns how many."""
    widened = 0
    for op in list(graph.ops):
        if op.type != "DEQUANTIZE" or op.outputs[0] in graph.outputs:
            continue
        src, out = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
        if src.data is None or src.dtype != "float16":
            continue
        out.data, out.sparsity = src.data.astype(np.float32), src.sparsity
        graph.remove_op(op)
        widened += 1
    if widened:
        graph.remove_dead()
    return widened
