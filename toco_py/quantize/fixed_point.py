"""TFLite's fixed-point primitives, vectorised over int64 arrays holding int32 values.

QuantizeMultiplier turns a real multiplier into (int32 multiplier, shift); the scale_*
functions apply it. TFLite knows two roundings for that: gemmlowp's (a saturating rounding
doubling high multiply, then a rounding right shift: two roundings) and TFLITE_SINGLE_ROUNDING
(one rounding 64-bit shift). The installed LiteRT uses gemmlowp's in most kernels and a
single rounding in FULLY_CONNECTED: each int8 kernel names the one it uses, as measured on
inputs where the two disagree (tests/test_int8_rounding.py and the per-family int8 tests).
Every step C++ performs in a 32-bit register wraps as it does there (two's complement).
"""
from __future__ import annotations

import math

import numpy as np

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def i64(x) -> np.ndarray:
    return np.asarray(x, np.int64)


def wrap32(x) -> np.ndarray:
    """Two's-complement wrap into int32: what a C++ int32 addition or cast leaves."""
    return ((i64(x) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def trunc_div(x, d: int) -> np.ndarray:
    """C++ integer division (rounds toward zero)."""
    x = i64(x)
    return np.where(x >= 0, x // d, -((-x) // d))


def round_half_away(x: float) -> int:
    """TfLiteRound / std::round on a double."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def round_half_away_array(x: np.ndarray) -> np.ndarray:
    """std::round element-wise (ties away from zero), in x's own float type."""
    return np.trunc(x + np.copysign(0.5, x))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier: real ~= multiplier * 2^(shift - 31), multiplier in [2^30, 2^31)."""
    real = float(real)
    if real == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real)
    q_fixed = round_half_away(fraction * (1 << 31))
    if q_fixed == 1 << 31:  # rounded up to 1.0
        q_fixed //= 2
        shift += 1
    if shift < -31:  # every bit would be shifted out: flushed to zero
        return 0, 0
    return q_fixed, shift


def quantize_multipliers(reals) -> tuple[np.ndarray, np.ndarray]:
    pairs = [quantize_multiplier(float(r)) for r in np.ravel(reals)]
    return np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.int64)


def srdhm(a, b) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul: the high half of 2ab, rounded to nearest with ties
    away from zero; INT32_MIN * INT32_MIN saturates."""
    a, b = i64(a), i64(b)
    product = a * b
    nudge = np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    high = trunc_div(product + nudge, 1 << 31)
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, high)


def rdbpot(x, exponent) -> np.ndarray:
    """RoundingDivideByPOT: rounding arithmetic right shift, ties away from zero."""
    x, exponent = i64(x), i64(exponent)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def scale_double_rounding(x, multiplier, shift) -> np.ndarray:
    """MultiplyByQuantizedMultiplier, gemmlowp's two roundings; the left part of the shift
    wraps as the C++ int32 multiplication does. multiplier/shift broadcast against x."""
    shift = i64(shift)
    shifted = wrap32(i64(x) << np.maximum(shift, 0))
    return rdbpot(srdhm(shifted, multiplier), np.maximum(-shift, 0))


def scale_single_rounding(x, multiplier, shift) -> np.ndarray:
    """MultiplyByQuantizedMultiplier as TFLITE_SINGLE_ROUNDING builds it: round(x * multiplier
    * 2^(shift - 31)), half up, in one 64-bit step."""
    total_shift = 31 - i64(shift)
    rounding = np.int64(1) << (total_shift - 1)
    return (i64(x) * i64(multiplier) + rounding) >> total_shift
