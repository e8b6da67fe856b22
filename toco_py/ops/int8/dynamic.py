"""int8 UNIQUE (ops/dynamic.py): LiteRT's kernel compares and copies the raw integers, so the
float kernel on them is bit-exact; the values keep the input's params ("moves_data"), and
reals that quantize to one integer become one value, as in LiteRT."""
from __future__ import annotations

import numpy as np

from ...ir import Graph, Op
from ..quantize_ops import QUANTIZED_TYPES
from ..registry import REGISTRY, register_int8
from .litert import require_dtype


def unique_quantized(op: Op, graph: Graph, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dtype = require_dtype(op, graph, op.inputs[0], QUANTIZED_TYPES)
    require_dtype(op, graph, op.outputs[0], (dtype,))
    return REGISTRY["UNIQUE"].kernel(op, x)


register_int8("UNIQUE", unique_quantized)
