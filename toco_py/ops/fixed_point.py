"""TFLite's fixed-point arithmetic (gemmlowp's and its int32 helpers), vectorised over int64
arrays holding int32 (or int16) values: the one home of the integer arithmetic the int8
kernels, the quantizer and the C lowerings share.

Every step that C++ performs in a 32-bit register is wrapped back into that range, so
overflow behaves as it does in LiteRT's release build (two's-complement wrap) rather than
growing silently. Names follow gemmlowp (fixedpoint.h) and tflite/kernels/internal/common.h
so each function can be checked against its source line by line. A FixedPoint<int32, I>
value is its raw integer with 31 - I fractional bits.

QuantizeMultiplier turns a real multiplier into (int32 multiplier, shift); the scale_*
functions apply it. TFLite knows two roundings for that: gemmlowp's (a saturating rounding
doubling high multiply, then a rounding right shift: two roundings) and TFLITE_SINGLE_ROUNDING
(one rounding 64-bit shift). The installed LiteRT uses gemmlowp's in most kernels and a
single rounding in FULLY_CONNECTED: each int8 kernel names the one it uses, as measured on
inputs where the two disagree (tests/test_int8_rounding.py and the per-family int8 tests).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ConversionError

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


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


def scale_int64(x, multiplier, shift) -> np.ndarray:
    """MultiplyByQuantizedMultiplier(int64_t x, ...), the requantization of the 16x8 kernels'
    64-bit accumulators: the multiplier rounded to Q15 (saturating at 0x7FFF), one rounding
    64-bit shift, the result cast to int32. The same in both of TFLite's rounding builds. The
    int64 product wraps (numpy's int64 arrays wrap as the C++ does) where x exceeds the 2^47
    LiteRT assumes, so even such accumulators give LiteRT's results."""
    reduced = np.minimum((i64(multiplier) + (1 << 15)) >> 16, INT16_MAX)
    total_shift = 15 - i64(shift)
    return wrap32((i64(x) * reduced + (np.int64(1) << (total_shift - 1))) >> total_shift)


def double_to_int32(x) -> np.ndarray:
    """static_cast<int32_t> of a double as x86-64 computes it (cvttsd2si): truncation, and
    INT32_MIN for anything outside int32's range."""
    x = np.asarray(x, np.float64)
    inside = (x > INT32_MIN - 1.0) & (x < INT32_MAX + 1.0)
    return np.where(inside, np.trunc(np.where(inside, x, 0.0)), INT32_MIN).astype(np.int64)


def wrap16(x) -> np.ndarray:
    return ((i64(x) + (1 << 15)) & 0xFFFF) - (1 << 15)


# ----- multipliers, computed as quantization_util.cc computes them -----
# (MultiplyByQuantizedMultiplier is gemmlowp's two roundings in the kernels that call
# scale_double_rounding, measured on MUL by tests/test_int8_elementwise.py.)


def multiplier_smaller_than_one(real: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: LiteRT aborts the process (TFLITE_CHECK) outside
    [0, 1), so such parameters are refused here with a message instead."""
    if not 0.0 <= real < 1.0:
        raise ConversionError(f"{what}: real multiplier {real!r} is outside [0, 1); LiteRT aborts on it")
    return quantize_multiplier(real)


def multiplier_greater_than_one(real: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplierGreaterThanOne: LiteRT aborts unless real > 1."""
    if not real > 1.0:
        raise ConversionError(f"{what}: real multiplier {real!r} is not above 1; LiteRT aborts on it")
    return quantize_multiplier(real)


def multiplier_either_side(real: float, what: str, one_above: bool) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp below 1, QuantizeMultiplierGreaterThanOne above;
    1 itself goes above when one_above (comparisons.cc) and below otherwise (sub.cc)."""
    if (not real < 1.0) if one_above else real > 1.0:
        return multiplier_greater_than_one(real, what)
    return multiplier_smaller_than_one(real, what)


def mbqm_smaller_than_one_exp(x, multiplier: int, shift: int) -> np.ndarray:
    """MultiplyByQuantizedMultiplierSmallerThanOneExp: RoundingDivideByPOT(high multiply, -shift).
    SUB (output multiplier above one) and the comparisons (input scale above one) call it with
    a positive shift, so the exponent is negative: undefined in C++. LiteRT's x86-64 build
    then masks the shift counts (to 6 bits in the 64-bit mask, 5 bits in the int32 shift);
    measured on SUB, whose results are then meaningless but reproducible."""
    high = srdhm(x, multiplier)
    if shift <= 0:
        return rdbpot(high, -shift)
    return (high >> (32 - shift)) + (high >= 0)


def downscale_to_int16_multiplier(multiplier: int) -> int:
    """DownScaleInt32ToInt16Multiplier: round the Q31 multiplier to Q15, saturating."""
    if multiplier >= INT32_MAX - (1 << 15):
        return INT16_MAX
    return (multiplier + (1 << 15)) >> 16


def clz32(x) -> np.ndarray:
    """Leading zeros of the value seen as uint32 (32 for zero)."""
    u = i64(x) & 0xFFFFFFFF
    # Bit length by exact comparisons (a float log2 can misjudge values near powers of two).
    bits = sum((u >= (1 << k)).astype(np.int64) for k in range(32))
    return 32 - np.asarray(bits, np.int64)


# ----- gemmlowp primitives -----


def srdhm16(a, b) -> np.ndarray:
    a, b = i64(a), i64(b)
    product = a * b
    nudge = np.where(product >= 0, 1 << 14, 1 - (1 << 14))
    high = wrap16(trunc_div(product + nudge, 1 << 15))
    return np.where((a == INT16_MIN) & (b == INT16_MIN), INT16_MAX, high)


def rdbpot16(x, exponent: int) -> np.ndarray:
    """RoundingDivideByPOT<int16_t>: the mask is built in int16, so it truncates for
    exponents of 16 and more (as the template does)."""
    x = i64(x)
    mask = int(wrap16((1 << exponent) - 1))
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_pot(x, exponent: int) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOT<exponent> (either sign)."""
    return saturating_shift_left_param(x, exponent) if exponent >= 0 else rdbpot(x, -exponent)


def rescale(x, src_bits: int, dst_bits: int) -> np.ndarray:
    """Rescale<dst>(FixedPoint<int32, src>)."""
    return multiply_by_pot(x, src_bits - dst_bits)


def rounding_half_sum(a, b) -> np.ndarray:
    total = i64(a) + i64(b)
    return trunc_div(total + np.where(total >= 0, 1, -1), 2)


def saturating_add(a, b) -> np.ndarray:
    return np.clip(i64(a) + i64(b), INT32_MIN, INT32_MAX)


def one(integer_bits: int) -> int:
    """FixedPoint::One(): saturated for 0 integer bits."""
    return INT32_MAX if integer_bits == 0 else 1 << (31 - integer_bits)


# ----- gemmlowp math functions -----

def _exp_on_interval_between_negative_one_quarter_and_0_excl(a) -> np.ndarray:
    constant_term = 1895147668  # exp(-1/8) in Q0.31
    constant_1_over_3 = 715827883
    x = wrap32(i64(a) + (1 << 28))  # Taylor expansion around -1/8
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rdbpot(x4, 2)
    poly = rdbpot(wrap32(srdhm(wrap32(x4_over_4 + x3), constant_1_over_3) + x2), 1)
    return wrap32(constant_term + srdhm(constant_term, wrap32(x + poly)))


# exp(-2^k) in Q0.31 for the barrel shifter, k = -2 .. 4.
_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
               (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a, integer_bits: int) -> np.ndarray:
    """exp(a) for a <= 0, a in Q(integer_bits); the result in Q0.31."""
    a = i64(a)
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0))
    remainder = wrap32(a_mod_quarter_minus_one_quarter - a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = 1 << (fractional_bits + exponent)
            result = np.where(remainder & bit, srdhm(result, multiplier), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)
    return np.where(a == 0, one(0), result)


def one_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """1 / (1 + a) for a in Q0.31, by Newton-Raphson in Q2.29; result Q0.31."""
    half_denominator = rounding_half_sum(a, one(0))
    x = wrap32(1515870810 + srdhm(half_denominator, -1010580540))  # 48/17 - 32/17 * d
    for _ in range(3):
        one_minus_half_denominator_times_x = wrap32(one(2) - srdhm(half_denominator, x))
        x = wrap32(x + rescale(srdhm(x, one_minus_half_denominator_times_x), 4, 2))
    return rescale(x, 1, 0)  # ExactMulByPot<-1> turns Q2 into Q1 with the same raw value


def get_reciprocal(x, x_integer_digits: int) -> tuple[np.ndarray, np.ndarray]:
    """GetReciprocal: (1/x as Q0.31 scaled into [0.5, 1), num_bits_over_unit)."""
    headroom_plus_one = clz32(x)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted = ((i64(x) & 0xFFFFFFFF) << headroom_plus_one) & 0xFFFFFFFF
    shifted_sum_minus_one = wrap32(shifted - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit


def saturating_shift_left_param(x, exponent) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOT(Param) for exponents >= 0, one or one per element."""
    x, exponent = i64(x), i64(exponent)
    threshold = (np.int64(1) << (31 - exponent)) - 1
    shifted = wrap32(x << exponent)
    out = np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, shifted))
    return np.where(exponent == 0, x, out)


def log_x_for_x_greater_than_or_equal_to_1(x, input_bits: int, output_bits: int) -> np.ndarray:
    """log(x) for x >= 1 (common.h's log_x_for_x_greater_than_or_equal_to_1_impl)."""
    accum_bits = output_bits + 1
    log_2, sqrt_sqrt_half, sqrt_half = 1488522236, 1805811301, 1518500250
    alpha_n, alpha_d, alpha_i, alpha_f = 117049297, 127690142, 1057819769, 638450708
    shifted_quarter = rescale(536870912, 0, accum_bits)
    z_a = i64(x)
    z_a_headroom_plus_1 = clz32(z_a)
    r_a_tmp = saturating_shift_left_param(z_a, z_a_headroom_plus_1 - 1)
    r_a_raw = saturating_shift_left_param(srdhm(r_a_tmp, sqrt_half), 1)
    z_a_pow_2_adj = saturating_add(
        saturating_shift_left_param(input_bits - z_a_headroom_plus_1, 31 - accum_bits), shifted_quarter)
    z_b = srdhm(z_a, sqrt_half)
    z_b_headroom = clz32(z_b) - 1
    r_b_raw = saturating_shift_left_param(z_a, z_b_headroom)
    z_b_pow_2_adj = np.clip(
        saturating_shift_left_param(input_bits - z_b_headroom, 31 - accum_bits) - shifted_quarter,
        INT32_MIN, INT32_MAX)
    r = np.minimum(r_a_raw, r_b_raw)
    z_pow_2_adj = np.maximum(z_a_pow_2_adj, z_b_pow_2_adj)
    p = rounding_half_sum(r, sqrt_sqrt_half)
    q = wrap32(r - sqrt_sqrt_half)
    q = wrap32(q + q)
    common_sq = srdhm(q, q)
    num = wrap32(srdhm(q, r) + srdhm(srdhm(q, common_sq), alpha_n))
    denom_minus_one_0 = wrap32(
        srdhm(p, wrap32(alpha_i + q + srdhm(alpha_d, common_sq))) + srdhm(alpha_f, q))
    recip_denom = one_over_one_plus_x_for_x_in_0_1(denom_minus_one_0)
    num_scaled = rescale(num, 0, accum_bits)
    total = wrap32(srdhm(z_pow_2_adj, log_2) + srdhm(num_scaled, recip_denom))
    return rescale(total, accum_bits, output_bits)


def inv_sqrt_multiplier(x) -> tuple[np.ndarray, np.ndarray]:
    """GetInvSqrtQuantizedMultiplierExp(x, reverse_shift=-1): 1/sqrt(x) as (multiplier, shift)
    with a Newton-Raphson iteration in Q3.28; x <= 1 gives (INT32_MAX, 0)."""
    x = i64(x)
    small = x <= 1
    value = np.where(small, 2, x)
    shift = np.full(value.shape, 11, np.int64)
    while np.any(value >= 1 << 29):
        big = value >= 1 << 29
        value = np.where(big, value // 4, value)
        shift = shift + big
    left_shift_bit_pairs = (clz32(value) - 1) // 2 - 1
    shift = shift - left_shift_bit_pairs
    value = value << (2 * left_shift_bit_pairs)
    fixedpoint_input = value >> 1
    half_input = rdbpot(fixedpoint_input, 1)
    half_three = (1 << 28) + (1 << 27)
    y = np.full(value.shape, one(3), np.int64)
    for _ in range(5):
        y3 = rescale(srdhm(srdhm(y, y), y), 9, 3)
        y = rescale(wrap32(srdhm(half_three, y) - srdhm(half_input, y3)), 6, 3)
    y = srdhm(y, 1518500250)  # times sqrt(2)/2
    negative = shift < 0
    y = np.where(negative, wrap32(y << np.where(negative, -shift, 0)), y)
    shift = np.where(negative, 0, shift)
    return np.where(small, INT32_MAX, y), np.where(small, 0, -shift)


# ----- gemmlowp's math functions on FixedPoint<int16_t, I> (the integer LSTM's gates) -----
# The same templates as above instantiated for int16: products are SaturatingRoundingDoubling-
# HighMul<int16>, sums wrap in int16 (but exp's last sum saturates: AddSaturatingIf16Bit), and
# every constant is its int32 value rounded to 16 bits (RescaleConstantInitializer).


def constant16(value32: int) -> int:
    return int(rdbpot(value32, 16))


def one16(integer_bits: int) -> int:
    return INT16_MAX if integer_bits == 0 else 1 << (15 - integer_bits)


def multiply_by_pot16(x, exponent: int) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOT<exponent> on int16 values."""
    x = i64(x)
    if exponent <= 0:
        return rdbpot16(x, -exponent) if exponent else x
    threshold = (1 << (15 - exponent)) - 1
    return np.where(x > threshold, INT16_MAX, np.where(x < -threshold, INT16_MIN, wrap16(x << exponent)))


def _exp_on_interval_16(a) -> np.ndarray:
    constant_term, constant_1_over_3 = constant16(1895147668), constant16(715827883)
    x = wrap16(i64(a) + (1 << 12))
    x2 = srdhm16(x, x)
    x3 = srdhm16(x2, x)
    x4 = srdhm16(x2, x2)
    x4_over_4 = rdbpot16(x4, 2)
    poly = rdbpot16(wrap16(srdhm16(wrap16(x4_over_4 + x3), constant_1_over_3) + x2), 1)
    return np.clip(constant_term + srdhm16(constant_term, wrap16(x + poly)), INT16_MIN, INT16_MAX)


def exp_on_negative_values16(a, integer_bits: int) -> np.ndarray:
    """exp(a) for a <= 0 in Q(integer_bits) int16; the result in Q0.15."""
    a = i64(a)
    fractional_bits = 15 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_one_quarter = wrap16((a & (one_quarter - 1)) - one_quarter)
    result = _exp_on_interval_16(multiply_by_pot16(a_mod_quarter_minus_one_quarter, integer_bits))
    remainder = wrap16(a_mod_quarter_minus_one_quarter - a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = 1 << (fractional_bits + exponent)
            result = np.where(remainder & bit, srdhm16(result, constant16(multiplier)), result)
    if integer_bits > 5:
        result = np.where(a < constant16(-(1 << (36 - integer_bits))), 0, result)
    return np.where(a == 0, INT16_MAX, result)


def _newton_reciprocal16(a) -> np.ndarray:
    """x ~ 2 / (1 + a) in Q2.13 for a in Q0.15 (one_over_one_plus_x_for_x_in_0_1's loop)."""
    half_denominator = rounding_half_sum(a, INT16_MAX)
    x = wrap16(constant16(1515870810) + srdhm16(half_denominator, constant16(-1010580540)))
    for _ in range(3):
        one_minus = wrap16(one16(2) - srdhm16(half_denominator, x))
        x = wrap16(x + multiply_by_pot16(srdhm16(x, one_minus), 2))
    return x


def logistic16(a, integer_bits: int) -> np.ndarray:
    """gemmlowp::logistic of Q(integer_bits) int16 values; the result in Q0.15."""
    a = i64(a)
    abs_input = np.where(a > 0, a, wrap16(-a))
    x = _newton_reciprocal16(exp_on_negative_values16(wrap16(-abs_input), integer_bits))
    positive = multiply_by_pot16(x, 1)  # Rescale<0>(ExactMulByPot<-1>(x))
    negative = wrap16(INT16_MAX - positive)
    return np.where(a == 0, constant16(1 << 30), np.where(a > 0, positive, negative))


def tanh16(a, integer_bits: int) -> np.ndarray:
    """gemmlowp::tanh of Q(integer_bits) int16 values; the result in Q0.15."""
    a = i64(a)
    n = np.where(a < 0, a, wrap16(-a))
    # neg_tanh_on_negative_values: (1 - e) / (1 + e), e = exp(2n) (ExactMulByPot<1>).
    x = _newton_reciprocal16(exp_on_negative_values16(n, integer_bits + 1))
    t = multiply_by_pot16(wrap16(x - one16(2)), 2)
    return np.where(a == 0, 0, np.where(a < 0, wrap16(-t), t))
