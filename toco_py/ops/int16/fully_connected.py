"""16x8 FULLY_CONNECTED and BATCH_MATMUL, as LiteRT's reference kernels compute them.

FULLY_CONNECTED (reference_integer_ops::FullyConnected / FullyConnectedPerChannel with the
scales): the int8 kernel's sums in 64 bits plus the int64 bias, then requantized in double,
not by a fixed-point multiplier: round(double(sum) * (double(input scale) * double(filter
scale) / double(output scale))) for per-tensor and per-channel filters alike, cast to int32
and clamped to the fused activation's int16 range.

BATCH_MATMUL (reference_ops::BatchMatMul with int64 sums; int16 x int16, or int16 x int8
for constant weights): the sums requantized by the 64-bit MultiplyByQuantizedMultiplier,
the multiplier from GetQuantizedConvolutionMultipler (a float product of the input scales),
clamped to int16's range (no fused activation).

Every int16 tensor has zero point 0 (LiteRT checks it in Prepare) and the int8 weights are
symmetric, so no offset is subtracted anywhere.
"""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ...ir import Graph, Op
from ..fixed_point import double_to_int32, round_half_away_array, scale_int64
from ..fully_connected import batch_matmul
from ..int8.common import activation_range, fc_multipliers, params
from ..int8.fully_connected import fc_output, fc_sums
from ..int8.litert import per_tensor, require_dtype, require_zero_points
from ..registry import register_int16


def _check_fc(op: Op, graph: Graph, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """LiteRT's preconditions; returns the filter scales, one per output channel."""
    require_dtype(op, graph, op.inputs[0], ("int16",))
    require_dtype(op, graph, op.outputs[0], ("int16",))
    require_dtype(op, graph, op.inputs[1], ("int8",))
    require_zero_points(op, graph, [op.inputs[0], op.outputs[0]])
    w_params = params(graph, op.inputs[1])
    if np.any(np.asarray(w_params.zero_point) != 0):
        raise ConversionError(f"{op!r}: int8 weights must be symmetric (zero point 0)")
    channels = w.shape[0]
    scales = np.asarray(w_params.scale, np.float32).ravel()
    if scales.size not in (1, channels):
        raise ConversionError(f"{op!r}: the weights have {scales.size} scales for {channels} "
                              "output channels")
    # Without the quantized_bias_type option (our writer never stores it) LiteRT reads the
    # bias as int64 whatever its type: an int32 bias gives garbage (measured).
    if b is not None and (b.dtype != np.int64 or b.size != channels):
        raise ConversionError(f"{op!r}: the bias must be {channels} int64 values with int16 "
                              f"activations, not {b.size} {b.dtype}")
    return np.broadcast_to(scales, (channels,))


def fully_connected_int16(op: Op, graph: Graph, x: np.ndarray, w: np.ndarray,
                          b: np.ndarray | None = None):
    w_scales = _check_fc(op, graph, w, b)
    in_scale, _ = per_tensor(op, graph, op.inputs[0])
    out_scale, _ = per_tensor(op, graph, op.outputs[0])
    effective = float(in_scale) * w_scales.astype(np.float64) / float(out_scale)
    scaled = double_to_int32(round_half_away_array(fc_sums(op, graph, x, w, b).astype(np.float64)
                                                   * effective))
    lo, hi = activation_range(op, float(out_scale), 0, "int16")
    return fc_output(op, np.clip(scaled, lo, hi).astype(np.int16), x, w)


def batch_matmul_int16(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    require_dtype(op, graph, op.inputs[0], ("int16",))
    require_dtype(op, graph, op.inputs[1], ("int16", "int8"))
    require_dtype(op, graph, op.outputs[0], ("int16",))
    require_zero_points(op, graph, [op.inputs[0], op.inputs[1], op.outputs[0]])
    acc = batch_matmul(op, a.astype(np.int64), b.astype(np.int64))
    mult, shift = fc_multipliers(graph, op.inputs[0], op.inputs[1], op.outputs[0])
    return np.clip(scale_int64(acc, mult, shift), -(1 << 15), (1 << 15) - 1).astype(np.int16)


register_int16("FULLY_CONNECTED", fully_connected_int16)
register_int16("BATCH_MATMUL", batch_matmul_int16)
