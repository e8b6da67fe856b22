"""16x8 ops that only move data: LiteRT copies (picks, pads with) the raw int16 values, as its
int8 kernels do, so each registers its int8 kernel (ops/int8/movement.py, scatter.py,
dynamic.py), which checks the params rules LiteRT shares between the two types.

Which ones LiteRT runs on int16 (the type checks of tflite/kernels/*.cc of
google-ai-edge/LiteRT at f674577, each measured on the installed ai-edge-litert):
RESHAPE, SQUEEZE, EXPAND_DIMS, TRANSPOSE, CONCATENATION, PACK, UNPACK, SPLIT, SPLIT_V,
SLICE, STRIDED_SLICE, GATHER, GATHER_ND, TILE, BROADCAST_TO, REVERSE_V2, PAD, PADV2,
MIRROR_PAD, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, RESIZE_NEAREST_NEIGHBOR, SELECT, SELECT_V2,
FILL, MATRIX_DIAG, MATRIX_SET_DIAG, DYNAMIC_UPDATE_SLICE, TOPK_V2 and UNIQUE.
Not: DEPTH_TO_SPACE and SPACE_TO_DEPTH (float32, uint8, int8, int32 and int64 only),
SCATTER_ND ("Updates of type 'INT16' are not supported"), SPARSE_TO_DENSE (int32, int64,
int8, uint8 and float32 values) and ARG_MAX / ARG_MIN ("only float32, int types and bool").

On top of the int8 rules, int16 needs zero points of 0 where LiteRT's Prepare says so:
EXPAND_DIMS, MIRROR_PAD, BATCH_TO_SPACE_ND, SPACE_TO_BATCH_ND, FILL (its value) and
CONCATENATION (checked by its int8 kernel, which handles every quantized type).
"""
from __future__ import annotations

from ...ir import Graph, Op
from ..int8.litert import require_zero_points
from ..int8.movement import data_inputs
from ..registry import REGISTRY, register_int16

COPIES = ("RESHAPE", "SQUEEZE", "TRANSPOSE", "CONCATENATION", "PACK", "UNPACK", "SPLIT",
          "SPLIT_V", "SLICE", "STRIDED_SLICE", "GATHER", "GATHER_ND", "TILE", "BROADCAST_TO",
          "REVERSE_V2", "PAD", "PADV2", "RESIZE_NEAREST_NEIGHBOR", "SELECT", "SELECT_V2",
          "MATRIX_DIAG", "MATRIX_SET_DIAG", "DYNAMIC_UPDATE_SLICE", "TOPK_V2", "UNIQUE")
SYMMETRIC = ("EXPAND_DIMS", "MIRROR_PAD", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "FILL")


def _symmetric(int8_kernel):
    """The int8 kernel, once every int16 data input and output has a zero point of 0."""
    def kernel(op: Op, graph: Graph, *arrays):
        require_zero_points(op, graph, data_inputs(op) + op.outputs)
        return int8_kernel(op, graph, *arrays)
    return kernel


for _name in COPIES:
    register_int16(_name, REGISTRY[_name].int8_kernel)
for _name in SYMMETRIC:
    register_int16(_name, _symmetric(REGISTRY[_name].int8_kernel))
