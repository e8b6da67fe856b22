/* gemmlowp / TFLite fixed-point primitives for the int8 kernels, bit-exact with toco-py's
 * numpy kernels (toco_py/ops/fixed_point.py), which are themselves bit-exact with LiteRT's
 * reference kernels.
 *
 * Every step that LiteRT performs in a 32-bit register wraps as it does there; wrapping is
 * done in uint32_t (never signed overflow), and the conversion back to int32_t is spelled
 * out so that it does not rely on implementation-defined behaviour. Right shifts of
 * negative values are likewise written as explicit floor shifts.
 *
 * Static inline, so each kernel file takes only what it uses (unused ones cost nothing and
 * draw no warning).
 */
#ifndef TOCO_FIXEDPOINT_S8_H
#define TOCO_FIXEDPOINT_S8_H

#include <stdint.h>

/* The int32 that the low 32 bits of x stand for (two's complement). */
static inline int32_t tk_wrap32(int64_t x)
{
    uint32_t u = (uint32_t)x; /* modulo 2^32: well defined for negative x */
    return u <= 0x7FFFFFFFu ? (int32_t)u : (int32_t)(u - 0x80000000u) - INT32_MAX - 1;
}

static inline int16_t tk_wrap16(int64_t x)
{
    uint16_t u = (uint16_t)x;
    return u <= 0x7FFFu ? (int16_t)u : (int16_t)((int32_t)u - 65536);
}

/* The int64 with the bits of u: numpy's int64 wrap-around. */
static inline int64_t tk_s8a_wrap64(uint64_t u)
{
    return u <= (uint64_t)INT64_MAX ? (int64_t)u
                                    : (int64_t)(u - ((uint64_t)1 << 63)) - INT64_MAX - 1;
}

/* floor(x / 2^n), the arithmetic shift numpy's >> performs, for n in [0, 63]. */
static inline int64_t tk_asr64(int64_t x, int n)
{
    return x >= 0 ? x >> n : ~(~x >> n);
}

/* x << n in a 32-bit register: the bits above 32 are lost (0 once n >= 32). */
static inline int32_t tk_shl32(int32_t x, int n)
{
    return n >= 32 ? 0 : tk_wrap32((int64_t)((uint32_t)x << n));
}

/* min(max(x, lo), hi), numpy's clip: hi wins should lo exceed it. x may be any int64 (a
 * value numpy adds in 64 bits, unwrapped). */
static inline int32_t tk_clamp_s32(int64_t x, int32_t lo, int32_t hi)
{
    x = x < lo ? lo : x;
    return (int32_t)(x > hi ? hi : x);
}

/* Leading zero bits of x (32 for 0). */
static inline int tk_clz32(uint32_t x)
{
    int n = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
}

/* SaturatingRoundingDoublingHighMul: the high half of 2ab, rounded. gemmlowp nudges by
 * 2^30 (1 - 2^30 for a negative product) and divides truncating; that is exactly
 * floor((ab + 2^30) / 2^31), which only a = b = INT32_MIN takes past INT32_MAX. */
static inline int32_t tk_srdhm(int32_t a, int32_t b)
{
    int64_t high = tk_asr64((int64_t)a * b + ((int64_t)1 << 30), 31);
    return (int32_t)(high > INT32_MAX ? INT32_MAX : high);
}

/* RoundingDivideByPOT (ties away from zero) with the 64-bit mask of the numpy kernel, so
 * exponents above 31 (the softmax's last shift) work too; from 33 on every int32 gives 0,
 * as there. gemmlowp's remainder-versus-threshold test is exactly
 * floor((x + 2^(e-1) - (x < 0)) / 2^e), one add and one shift. */
static inline int32_t tk_rdbpot(int32_t x, int exponent)
{
    if (exponent <= 0) {
        return x;
    }
    if (exponent > 62) {
        exponent = 62;
    }
    return (int32_t)tk_asr64((int64_t)x + ((int64_t)1 << (exponent - 1)) - (x < 0), exponent);
}

/* MultiplyByQuantizedMultiplier, gemmlowp's two roundings: x * m * 2^(shift - 31). The
 * left part of the shift wraps as the C++ int32 multiplication does. */
static inline int32_t tk_mbqm(int32_t x, int32_t multiplier, int shift)
{
    int left = shift > 0 ? shift : 0;
    return tk_rdbpot(tk_srdhm(tk_shl32(x, left), multiplier), shift > 0 ? 0 : -shift);
}

/* MultiplyByQuantizedMultiplier(int64_t x, ...) of the 16x8 kernels' 64-bit sums
 * (fixed_point.scale_int64): the multiplier rounded to Q15 (saturating at INT16_MAX), one
 * rounding shift right by 15 - shift, in [1, 46] (the generator keeps shift in [-31, 14]),
 * the product wrapping as int64 and the result as int32. */
static inline int32_t tk_mbqm64(int64_t x, int32_t multiplier, int shift)
{
    int64_t reduced = ((int64_t)multiplier + (1 << 15)) >> 16; /* multiplier >= 0 */
    int total = 15 - shift;
    uint64_t product = (uint64_t)x * (uint64_t)(reduced > INT16_MAX ? INT16_MAX : reduced);
    return tk_wrap32(tk_asr64(tk_s8a_wrap64(product + ((uint64_t)1 << (total - 1))), total));
}

/* SaturatingRoundingDoublingHighMul on int16 (fixed_point.srdhm16): the high half of 2ab
 * rounded, C's truncating division as gemmlowp's; only a = b = INT16_MIN saturates. */
static inline int32_t tk_srdhm16(int32_t a, int32_t b)
{
    int32_t product = a * b; /* |a * b| <= 2^30 */
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    return tk_wrap16((product + (product >= 0 ? 1 << 14 : 1 - (1 << 14))) / (1 << 15));
}

/* RoundingDivideByPOT<int16_t> (fixed_point.rdbpot16): its mask is built in int16, so from
 * an exponent of 16 on it keeps every bit. x is an int16 value. */
static inline int32_t tk_rdbpot16(int32_t x, int exponent)
{
    int32_t mask = exponent >= 16 ? -1 : (int32_t)tk_wrap16(((int64_t)1 << exponent) - 1);
    /* x & mask and mask >> 1 as numpy computes them on int64: a mask of -1 keeps x whole. */
    int32_t remainder = mask < 0 ? x : (int32_t)((uint32_t)x & (uint32_t)mask);
    int32_t threshold = (mask < 0 ? -1 : mask >> 1) + (x < 0);
    return (int32_t)(tk_asr64(x, exponent > 63 ? 63 : exponent) + (remainder > threshold));
}

/* MultiplyByQuantizedMultiplierSmallerThanOneExp. SUB (output multiplier above one) and
 * the comparisons (input scale above one) reach it with a positive shift, a negative
 * exponent in C++: LiteRT's x86-64 build then masks the shift counts, which this
 * reproduces (see fixedpoint.py). The generator keeps shift below 32. */
static inline int32_t tk_mbqm_stoe(int32_t x, int32_t multiplier, int shift)
{
    int32_t high = tk_srdhm(x, multiplier);
    if (shift <= 0) {
        return tk_rdbpot(high, -shift);
    }
    return (int32_t)(tk_asr64(high, 32 - shift) + (high >= 0));
}

/* SaturatingRoundingMultiplyByPOT for an exponent in [0, 31]. */
static inline int32_t tk_saturating_shl(int32_t x, int exponent)
{
    int32_t threshold;
    if (exponent == 0) {
        return x;
    }
    threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return tk_shl32(x, exponent);
}

/* SaturatingRoundingMultiplyByPOT<exponent> of either sign (gemmlowp's Rescale). */
static inline int32_t tk_multiply_by_pot(int32_t x, int exponent)
{
    return exponent >= 0 ? tk_saturating_shl(x, exponent) : tk_rdbpot(x, -exponent);
}

/* GetInvSqrtQuantizedMultiplierExp(input, reverse_shift = -1): 1 / sqrt(input) as a
 * multiplier and shift, by Newton-Raphson in Q3.28; input <= 1 gives (INT32_MAX, 0). */
static inline void tk_inv_sqrt_multiplier(int32_t input, int32_t *multiplier, int *shift)
{
    const int32_t half_three = (1 << 28) + (1 << 27); /* 1.5 in Q3.28 */
    int32_t value = input, half_input, y;
    int s = 11, pairs, i;
    if (input <= 1) {
        *multiplier = INT32_MAX;
        *shift = 0;
        return;
    }
    while (value >= (1 << 29)) {
        value /= 4;
        ++s;
    }
    /* Normalise by pairs of bits so that the square root's exponent stays whole. */
    pairs = (tk_clz32((uint32_t)value) - 1) / 2 - 1;
    s -= pairs;
    value <<= 2 * pairs;
    half_input = tk_rdbpot(value >> 1, 1);
    y = 1 << 28; /* one in Q3.28 */
    for (i = 0; i < 5; ++i) {
        int32_t y3 = tk_saturating_shl(tk_srdhm(tk_srdhm(y, y), y), 6);
        int32_t step = tk_wrap32((int64_t)tk_srdhm(half_three, y) - tk_srdhm(half_input, y3));
        y = tk_saturating_shl(step, 3);
    }
    y = tk_srdhm(y, 1518500250); /* times sqrt(2) / 2 */
    if (s < 0) {
        y = tk_shl32(y, -s);
        s = 0;
    }
    *multiplier = y;
    *shift = -s;
}

#endif /* TOCO_FIXEDPOINT_S8_H */
