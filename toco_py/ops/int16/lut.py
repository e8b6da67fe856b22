"""LiteRT's int16 lookup tables (kernels/internal/common.h): LUTPopulate<int16_t> samples a
function at 513 points over the input range, and LUTLookup interpolates between them with the
input's low 7 bits. GELU, EXP, LOG, RSQRT and SOFTMAX's exp and 1/(1+x) use them.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import fixed_point as fx

LUT_STEPS = 512  # 9 index bits; entry 512 only gives the last slope
INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


def _round(x: np.ndarray) -> np.ndarray:
    """TfLiteRound in x's float type: half away from zero, added in double so that the
    addition of 0.5 cannot round first."""
    return fx.round_half_away_array(x.astype(np.float64)).astype(x.dtype)


def lut_populate(in_scale: float, in_zero: int, out_scale: float, out_zero: int,
                 transform: Callable, float_type=np.float32) -> np.ndarray:
    """detail::LUTPopulateInt16<FloatT>: each entry is the sampled value minus half the error
    that interpolating at the midpoint would make, all in FloatT (float32, or float64 for
    SOFTMAX's tables). transform maps one FloatT value to one."""
    t = float_type
    input_min = t(in_scale) * t(INT16_MIN - in_zero)
    input_max = t(in_scale) * t(INT16_MAX - in_zero)
    output_min = t(out_scale) * t(INT16_MIN - out_zero)
    output_max = t(out_scale) * t(INT16_MAX - out_zero)
    step = (input_max - input_min) / t(LUT_STEPS)
    half_step = step / t(2)
    scaling_inv = t(1 << 16) / (output_max - output_min)
    at = input_min + np.arange(LUT_STEPS + 1).astype(t) * step  # input_min + i * step

    def apply(points: np.ndarray) -> np.ndarray:
        return np.array([transform(v) for v in points], t)

    val = apply(at[:-1])
    val_midpoint = apply(at[:-1] + half_step)
    val_next = apply(at[1:])
    # IEEE arithmetic as in C++: a transform that overflows (EXP) gives inf, and inf - inf NaN.
    with np.errstate(over="ignore", invalid="ignore"):
        sample = _round(val * scaling_inv)
        midpoint_interp = _round((val_next * scaling_inv + sample) / t(2))
        bias = _round((midpoint_interp - _round(val_midpoint * scaling_inv)) / t(2))
        last = _round(apply(np.array([input_max], t)) * scaling_inv)
        table = np.clip(np.concatenate([sample - bias, last]), t(INT16_MIN), t(INT16_MAX))
    # std::min/max pass a NaN through, and static_cast<int16_t> makes it 0 (x86 and ARM alike):
    # an overflowing EXP then reads 0 from its table, in LiteRT as here.
    return np.where(np.isnan(table), 0, table).astype(np.int64)


def lut_lookup(lut: np.ndarray, x) -> np.ndarray:
    """LUTLookup(int16_t, lut): the entry the top 9 bits pick, plus the slope to the next one
    (wrapped to int16, as LiteRT stores it) times the low 7 bits, rounded."""
    x = np.asarray(x, np.int64)
    index = 256 + (x >> 7)
    base = lut[index]
    slope = fx.wrap16(lut[index + 1] - base)
    return fx.wrap16(base + ((slope * (x & 0x7F) + 64) >> 7))
