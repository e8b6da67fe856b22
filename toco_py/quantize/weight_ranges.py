"""Per-channel weight ranges chosen by the quantization error they cause: per output channel,
the clip (a fraction of max|w|) whose symmetric int8 quantization of that channel's weights
has the least squared error. Weights are known exactly, so every candidate is scored on all of
them; max|w| itself is a candidate and wins ties, so no channel gets worse than min/max."""
from __future__ import annotations

import numpy as np

from ..ir import QuantParams
from ..ops.quantize_ops import dequantize
from .params import quantize_symmetric, symmetric_weight_params

# Clips tried, as fractions of max|w|: 1% apart down to a half (a channel's MSE optimum sits
# near its max for the bell-shaped weights of trained layers, well below it only for outliers).
FRACTIONS = np.linspace(1.0, 0.5, 51)


def weight_params(weights: np.ndarray, axis: int | None, method: str = "minmax", bits: int = 8,
                  shared: bool = False) -> QuantParams:
    """Symmetric params for the weights (per channel along axis), by min/max or by MSE.
    shared: one scale for the whole tensor, repeated for each channel along axis (weights
    clustered as a whole: their K values then stay K integers)."""
    if shared:
        whole = weight_params(weights, None, method, bits)
        channels = np.shape(weights)[axis]
        return QuantParams(np.repeat(whole.scale, channels), np.zeros(channels, np.int64), axis)
    peak = symmetric_weight_params(weights, axis, bits)
    if method == "minmax":
        return peak
    return QuantParams(_mse_scales(np.asarray(weights, np.float32), peak, bits), peak.zero_point, peak.axis)


def _mse_scales(weights: np.ndarray, peak: QuantParams, bits: int) -> np.ndarray:
    best_scale = peak.scale.copy()
    best_error = _channel_errors(weights, peak, bits)
    for fraction in FRACTIONS[1:]:
        candidate = QuantParams((peak.scale * np.float32(fraction)).astype(np.float32), peak.zero_point, peak.axis)
        error = _channel_errors(weights, candidate, bits)
        better = error < best_error
        best_scale[better], best_error[better] = candidate.scale[better], error[better]
    return best_scale


def rounding_error(weights: np.ndarray, params: QuantParams, rounded: np.ndarray | None = None,
                   bits: int = 8) -> np.ndarray:
    """W_q - W: the quantized weights (rounded to nearest unless given) read back, less the
    weights (float64)."""
    q = quantize_symmetric(weights, params, bits) if rounded is None else rounded
    return (dequantize(q, params.scale, params.zero_point, params.axis).astype(np.float64)
            - np.asarray(weights, np.float64))


def _channel_errors(weights: np.ndarray, params: QuantParams, bits: int) -> np.ndarray:
    """Squared quantization error per channel, with the quantizer's own rounding."""
    squared = rounding_error(weights, params, bits=bits) ** 2
    if not params.per_channel:
        return np.array([squared.sum()])
    return np.moveaxis(squared, params.axis, 0).reshape(squared.shape[params.axis], -1).sum(1)
