"""Choosing quantization parameters (TFLite's int8 scheme)."""
from __future__ import annotations

import numpy as np

from ..ir import QuantParams

QMIN, QMAX = -128, 127


def activation_params(lo: float, hi: float, qmin: int = QMIN, qmax: int = QMAX) -> QuantParams:
    """Asymmetric per-tensor params whose range contains 0, with an exact integer zero point
    (TensorFlow's ChooseQuantizationParams)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-12:
        return QuantParams(np.array([1e-8], np.float32), np.array([0], np.int64))
    scale = (hi - lo) / (qmax - qmin)
    zero_from_min = qmin - lo / scale
    zero_from_max = qmax - hi / scale
    error_min = abs(qmin) + abs(lo / scale)
    error_max = abs(qmax) + abs(hi / scale)
    zero = zero_from_min if error_min < error_max else zero_from_max
    zero = int(np.clip(np.round(zero), qmin, qmax))
    return QuantParams(np.array([scale], np.float32), np.array([zero], np.int64))


def zero_point_0_params(lo: float, hi: float, qmin: int = QMIN, qmax: int = QMAX) -> QuantParams:
    """Per-tensor params with zero point 0 whose range [qmin, qmax] x scale contains [lo, hi]
    (for kernels that write the raw integer 0 as the value 0)."""
    scale = max(max(float(hi), 0.0) / qmax, min(float(lo), 0.0) / qmin, 1e-8)
    return QuantParams(np.array([scale], np.float32), np.array([0], np.int64))


def symmetric_weight_params(weights: np.ndarray, axis: int | None, bits: int = 8) -> QuantParams:
    """Symmetric int8 in [-127, 127] (int16 in [-32767, 32767] with bits=16), zero point 0, per
    channel along `axis` (or per tensor)."""
    w = np.asarray(weights, np.float64)
    if axis is None:
        peak = np.array([np.max(np.abs(w))]) if w.size else np.zeros(1)
    else:
        moved = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
        peak = np.max(np.abs(moved), axis=1) if moved.size else np.zeros(w.shape[axis])
    scale = np.where(peak > 0, peak / narrow_max(bits), 1.0).astype(np.float32)
    return QuantParams(scale, np.zeros(scale.size, np.int64), 0 if axis is None else axis)


def narrow_max(bits: int) -> int:
    return (1 << (bits - 1)) - 1


def quantize_symmetric(weights: np.ndarray, params: QuantParams, bits: int = 8) -> np.ndarray:
    scale = np.asarray(params.scale, np.float64)
    if params.per_channel:
        shape = [1] * weights.ndim
        shape[params.axis] = -1
        scale = scale.reshape(shape)
    top = narrow_max(bits)
    return np.clip(np.round(weights / scale), -top, top).astype(np.int8 if bits == 8 else np.int16)


def bias_params(input_scale: float, weight: QuantParams) -> QuantParams:
    scale = (np.float64(input_scale) * np.asarray(weight.scale, np.float64)).astype(np.float32)
    return QuantParams(scale, np.zeros(scale.size, np.int64), 0)


def quantize_bias(bias: np.ndarray, params: QuantParams, dtype: str = "int32") -> np.ndarray:
    """int32 (int64 for 16x8 kernels) in the symmetric range; rounded in double."""
    q = np.round(np.asarray(bias, np.float64) / np.asarray(params.scale, np.float64))
    # The largest double below 2^(bits-1): the int64 bound 2^63 - 1 has no double.
    top = np.floor(np.nextafter(2.0 ** (np.iinfo(dtype).bits - 1), 0))
    return np.clip(q, -top, top).astype(dtype)
