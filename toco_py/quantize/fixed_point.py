"""TFLite's fixed-point requantization, vectorised: QuantizeMultiplier turns a real multiplier
into (int32 multiplier, shift); MultiplyByQuantizedMultiplier applies it to int32 values.

TFLite has two roundings: the gemmlowp one (SaturatingRoundingDoublingHighMul, then a
rounding right shift: two roundings) and TFLITE_SINGLE_ROUNDING (one 64-bit rounding shift).
Which one a LiteRT build uses is measured against the installed runtime by
tests/test_int8_rounding.py: ai-edge-litert's reference kernels use single rounding.
"""
from __future__ import annotations

import math

import numpy as np

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
SINGLE_ROUNDING = True


def quantize_multiplier(real: float) -> tuple[int, int]:
    """real ~= multiplier * 2^(shift - 31), multiplier in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real)
    q = _round_half_away(fraction * (1 << 31))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if SINGLE_ROUNDING and shift > 30:
        return (1 << 31) - 1, 30
    return int(q), int(shift)


def quantize_multipliers(reals) -> tuple[np.ndarray, np.ndarray]:
    pairs = [quantize_multiplier(float(r)) for r in np.ravel(reals)]
    return (np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.int64))


def _round_half_away(x: float) -> int:
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def saturating_rounding_doubling_high_mul(a: np.ndarray, b) -> np.ndarray:
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    product = a * b
    nudge = np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    total = product + nudge
    # C++ integer division truncates toward zero.
    high = np.where(total >= 0, total >> 31, -((-total) >> 31))
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, high)


def rounding_divide_by_pot(x: np.ndarray, exponent) -> np.ndarray:
    x = np.asarray(x, np.int64)
    exponent = np.asarray(exponent, np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """x * multiplier * 2^(shift-31), rounded as TFLite rounds; multiplier/shift broadcast
    against x (per-channel values along the last axis)."""
    x = np.asarray(x, np.int64)
    multiplier = np.asarray(multiplier, np.int64)
    shift = np.asarray(shift, np.int64)
    if SINGLE_ROUNDING:
        total_shift = 31 - shift
        rounding = np.int64(1) << (total_shift - 1)
        return (x * multiplier + rounding) >> total_shift
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    scaled = np.clip(x << left, INT32_MIN, INT32_MAX)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(scaled, multiplier), right)


def requantize(acc, multiplier, shift, zero_point: int, qmin: int = -128, qmax: int = 127) -> np.ndarray:
    """int32 accumulator -> clamped int8 (or the given range) output."""
    out = multiply_by_quantized_multiplier(acc, multiplier, shift) + zero_point
    return np.clip(out, qmin, qmax)
