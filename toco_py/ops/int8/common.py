"""What int8 kernels share: tensor params, activation clamping ranges, multipliers computed
exactly as LiteRT computes them (float vs double products matter for bit-exactness)."""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ...ir import Graph, Op, QuantParams
from ..common import Bounds, activation_bounds
from ..fixed_point import quantize_multiplier, quantize_multipliers, round_half_away


def params(graph: Graph, name: str) -> QuantParams:
    t = graph.tensors[name]
    if t.quant is None:
        raise ConversionError(f"tensor {name!r} ({t.dtype}) has no quantization parameters")
    return t.quant


def dtype_range(dtype: str) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def quantize_value(scale: float, zero: int, real: float) -> int:
    """TFLite's Quantize(): zero + round(real / scale), the division in float32."""
    return zero + round_half_away(float(np.float32(real) / np.float32(scale)))


def quantized_bounds(bounds: Bounds, scale: float, zero: int,
                     dtype: str = "int8") -> tuple[int, int]:
    """CalculateActivationRangeQuantized: real bounds as a clamp of the quantized values."""
    qmin, qmax = dtype_range(dtype)
    lo, hi = bounds
    return (qmin if lo is None else max(qmin, quantize_value(scale, zero, lo)),
            qmax if hi is None else min(qmax, quantize_value(scale, zero, hi)))


def activation_range(op: Op, scale: float, zero: int, dtype: str = "int8") -> tuple[int, int]:
    """The op's fused activation as a clamp of its quantized output."""
    return quantized_bounds(activation_bounds(op), scale, zero, dtype)


def fc_multipliers(graph: Graph, x: str, w: str, out: str) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel (multiplier, shift) for FULLY_CONNECTED: in_scale * w_scale / out_scale.
    Per-channel filters use a double product (PopulateConvolutionQuantizationParams); a
    per-tensor filter multiplies the two scales in float first (GetQuantizedConvolutionMultipler)."""
    in_scale = np.float32(params(graph, x).scale.ravel()[0])
    out_scale = np.float32(params(graph, out).scale.ravel()[0])
    w_scales = np.asarray(params(graph, w).scale, np.float32).ravel()
    if w_scales.size == 1:
        real = float(np.float32(in_scale * w_scales[0])) / float(out_scale)
        m, s = quantize_multiplier(real)
        return np.array([m], np.int64), np.array([s], np.int64)
    reals = float(in_scale) * w_scales.astype(np.float64) / float(out_scale)
    return quantize_multipliers(reals)
