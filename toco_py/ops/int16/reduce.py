"""16x8 reductions, bit-exact with LiteRT's reference kernels (tflite/kernels/reduce.cc of
google-ai-edge/LiteRT at f674577, measured on the installed ai-edge-litert).

LiteRT runs MEAN, SUM, REDUCE_MAX, REDUCE_MIN and REDUCE_PROD on quantized int16 with the
arithmetic of their int8 kernels (QuantizedMeanOrSum, the raw extremes, QuantizedReduceProd
with its per-step rescaling), clamped to int16; every one needs zero points of 0 (PrepareSimple,
PrepareMeanOrSum, PrepareProd). ARG_MAX and ARG_MIN take no int16 input ("only float32, int
types and bool"), so they have no 16x8 kernel.

LiteRT's reference SUM reads quantized int16 data as uint8 bytes, as it does int8 (the
reference branch of its QuantizedMeanOrSum passes GetTensorData<uint8_t> whatever the type;
MEAN does not go through it): SUM here is the reference arithmetic, which the optimized kernel
matches to one step (tests/test_int16_movement.py).
"""
from __future__ import annotations

import numpy as np

from ...ir import Graph, Op
from ..int8.litert import require_zero_points
from ..int8.reduce import mean_quantized, reduce_prod_quantized, sum_quantized
from ..registry import REGISTRY, register_int16


def _symmetric_extreme(op_type: str):
    int8_kernel = REGISTRY[op_type].int8_kernel

    def kernel(op: Op, graph: Graph, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
        require_zero_points(op, graph, [op.inputs[0], op.outputs[0]])
        return int8_kernel(op, graph, x, axis)
    return kernel


def reduce_prod_int16(op: Op, graph: Graph, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
    require_zero_points(op, graph, [op.inputs[0], op.outputs[0]])
    return reduce_prod_quantized(op, graph, x, axis, "int16")


# Their int8 kernels handle int16 (and check its zero points).
register_int16("MEAN", mean_quantized)
register_int16("SUM", sum_quantized)
register_int16("REDUCE_MAX", _symmetric_extreme("REDUCE_MAX"))
register_int16("REDUCE_MIN", _symmetric_extreme("REDUCE_MIN"))
register_int16("REDUCE_PROD", reduce_prod_int16)
