"""Quantized ops that only move data: the float kernel applied to the raw integers.

Which ones insist on equal input and output params was measured against LiteRT (a model
with different params fails to prepare): EXPAND_DIMS, UNPACK, MIRROR_PAD, PACK,
BATCH_TO_SPACE_ND, SPACE_TO_BATCH_ND, FILL (its value and output) and int8 CONCATENATION do; here they raise
ConversionError naming the op. The others copy the raw integers whatever the output's params
say, and so do these kernels (the quantizer gives such outputs their input's params, so the
copy keeps its meaning).

TOPK_V2 sorts and copies raw integers too (its indices are int32). PAD, PADV2 and
SPACE_TO_BATCH_ND fill with the output zero point (PADV2's constant must then share the
output's params); uint8 CONCATENATION requantizes inputs whose params differ, in float32, as
reference_ops::ConcatenationWithScaling does.
"""
from __future__ import annotations

import numpy as np

from ...ir import Graph, Op
from ..fixed_point import round_half_away_array
from ..quantize_ops import QUANTIZED_TYPES
from ..registry import REGISTRY, register_int8
from .litert import per_tensor, require_dtype, require_same_params, require_zero_points

# Measured: LiteRT refuses these when any input and output params differ.
EQUAL_PARAMS = ("EXPAND_DIMS", "UNPACK", "MIRROR_PAD", "PACK", "BATCH_TO_SPACE_ND", "FILL")
FREE_PARAMS = ("RESHAPE", "SQUEEZE", "TRANSPOSE", "GATHER", "GATHER_ND", "STRIDED_SLICE", "SLICE",
               "SPLIT", "SPLIT_V", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "RESIZE_NEAREST_NEIGHBOR",
               "TILE", "BROADCAST_TO", "REVERSE_V2")
# Measured too: SELECT and SELECT_V2 copy the chosen raw integers whatever the params.
SELECTS = ("SELECT", "SELECT_V2")


def _check_types(op: Op, graph: Graph, data: list[str]) -> str:
    """All data inputs and all outputs of one quantized type."""
    dtype = require_dtype(op, graph, data[0], QUANTIZED_TYPES)
    for name in data[1:] + op.outputs:
        require_dtype(op, graph, name, (dtype,))
    return dtype


# Positions of the data inputs of the ops whose first input is not their only one (SPLIT
# takes its axis first, FILL its shape, SCATTER_ND its indices, SPARSE_TO_DENSE its indices and
# shape, and a SELECT its bool condition).
_DATA_POSITIONS = {"SPLIT": (1,), "FILL": (1,), "SCATTER_ND": (1,), "SPARSE_TO_DENSE": (2, 3),
                   "MATRIX_SET_DIAG": (0, 1), "DYNAMIC_UPDATE_SLICE": (0, 1),
                   "SELECT": (1, 2), "SELECT_V2": (1, 2)}


def data_inputs(op: Op) -> list[str]:
    """The inputs holding quantized data; the others are int32 shapes, axes or indices."""
    if op.type == "PACK":
        return list(op.inputs)
    return [op.inputs[i] for i in _DATA_POSITIONS.get(op.type, (0,))]


def moving_kernel(op_type: str, equal_params: bool):
    float_kernel = REGISTRY[op_type].kernel

    def kernel(op: Op, graph: Graph, *arrays):
        data = data_inputs(op)
        _check_types(op, graph, data)
        if equal_params:
            require_same_params(op, graph, data + op.outputs, "its inputs and outputs")
        return float_kernel(op, *arrays)
    return kernel


def pad_quantized(op: Op, graph: Graph, x: np.ndarray, paddings: np.ndarray,
                  value: np.ndarray | None = None) -> np.ndarray:
    """PAD / PADV2 (EvalInt): padding is the output zero point, or PADV2's constant value,
    which must then share the output's params."""
    dtype = _check_types(op, graph, [op.inputs[0]])
    if value is None:
        _, fill = per_tensor(op, graph, op.outputs[0])
    else:
        require_dtype(op, graph, op.inputs[2], (dtype,))
        require_same_params(op, graph, [op.outputs[0], op.inputs[2]], "its constant value and output")
        fill = np.ravel(value)[0]
    return REGISTRY["PAD"].kernel(op, x, paddings, np.asarray(fill, dtype))


def space_to_batch_quantized(op: Op, graph: Graph, x: np.ndarray, block: np.ndarray,
                             paddings: np.ndarray) -> np.ndarray:
    _check_types(op, graph, [op.inputs[0]])
    require_same_params(op, graph, [op.inputs[0], op.outputs[0]], "its inputs and outputs")
    _, fill = per_tensor(op, graph, op.outputs[0])  # space_to_batch_nd.cc: output_offset
    return REGISTRY["SPACE_TO_BATCH_ND"].kernel(op, x, block, paddings, fill)


def concat_rescaling(op: Op, graph: Graph, name: str) -> tuple[np.float32, np.float32] | None:
    """ConcatenationWithScaling's (scale, bias) of one uint8 input, in float32: scale =
    in_scale * (1 / out_scale), bias = -in_zero * scale; None when the params are the
    output's (the input is copied as is)."""
    in_scale, in_zero = per_tensor(op, graph, name)
    out_scale, out_zero = per_tensor(op, graph, op.outputs[0])
    if (in_scale, in_zero) == (out_scale, out_zero):
        return None
    scale = in_scale * (np.float32(1) / out_scale)
    return scale, np.float32(-in_zero) * scale


def _rescaled_uint8(op: Op, graph: Graph, name: str, x: np.ndarray) -> np.ndarray:
    """One uint8 CONCATENATION input in the output's params: round(q * scale + bias)."""
    rescaling = concat_rescaling(op, graph, name)
    if rescaling is None:
        return x  # copied as is
    scale, bias = rescaling
    _, out_zero = per_tensor(op, graph, op.outputs[0])
    real = x.astype(np.float32) * scale + bias
    rounded = round_half_away_array(real).astype(np.int64)
    return np.clip(rounded + out_zero, 0, 255).astype(np.uint8)


def concatenation_quantized(op: Op, graph: Graph, *xs: np.ndarray) -> np.ndarray:
    dtype = _check_types(op, graph, list(op.inputs))
    if dtype == "uint8":
        xs = tuple(_rescaled_uint8(op, graph, n, x) for n, x in zip(op.inputs, xs))
    elif dtype == "int8":
        # The int8 kernel only copies: LiteRT's Prepare demands one set of params.
        require_same_params(op, graph, list(op.inputs) + op.outputs, "its inputs and output")
    else:
        # int16 copies too; LiteRT checks only that every zero point is 0.
        require_zero_points(op, graph, list(op.inputs) + op.outputs)
    return REGISTRY["CONCATENATION"].kernel(op, *xs)


def top_k_quantized(op: Op, graph: Graph, x: np.ndarray, k: np.ndarray):
    """TOPK_V2 orders the raw integers (a positive scale keeps their order) and copies the k
    largest whatever the output's params say; the indices stay int32."""
    dtype = require_dtype(op, graph, op.inputs[0], QUANTIZED_TYPES)
    require_dtype(op, graph, op.outputs[0], (dtype,))
    return REGISTRY["TOPK_V2"].kernel(op, x, k)


for _name in FREE_PARAMS + EQUAL_PARAMS:
    register_int8(_name, moving_kernel(_name, _name in EQUAL_PARAMS))
for _name in SELECTS:
    register_int8(_name, moving_kernel(_name, False))
register_int8("PAD", pad_quantized)
register_int8("PADV2", pad_quantized)
register_int8("CONCATENATION", concatenation_quantized)
register_int8("SPACE_TO_BATCH_ND", space_to_batch_quantized)
register_int8("TOPK_V2", top_k_quantized)
