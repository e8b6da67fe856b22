/* What int8 SOFTMAX (softmax_s8.c) and LOG_SOFTMAX (log_softmax_s8.c) share, in gemmlowp
 * fixed point as toco_py/ops/int8/softmax.py (and the math of fixedpoint.py) computes it:
 * input differences to the row maximum scaled to Q5.26, exp() in Q0.31, sums in Q12.19.
 * Static inline, so each file takes only what it uses. */
#ifndef TOCO_SOFTMAX_S8_H
#define TOCO_SOFTMAX_S8_H

#include "toco_kernels.h"
#include "fixedpoint_s8.h"

#define DIFF_INTEGER_BITS 5   /* exp() inputs are Q5.26 */
#define SUM_INTEGER_BITS 12   /* the sum of exps is Q12.19: up to 4096 terms of 1 */
#define ONE_Q0 INT32_MAX      /* FixedPoint<int32, 0>::One(), saturated */

/* gemmlowp's RoundingHalfSum: (a + b) / 2, rounded away from zero. */
static inline int32_t rounding_half_sum(int32_t a, int32_t b)
{
    int64_t total = (int64_t)a + b;
    return (int32_t)((total + (total >= 0 ? 1 : -1)) / 2);
}

/* exp(a) for a in [-1/4, 0) in Q0.31: a Taylor expansion around -1/8. */
static inline int32_t exp_on_quarter_interval(int32_t a)
{
    const int32_t constant_term = 1895147668; /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    int32_t x = tk_wrap32((int64_t)a + (1 << 28));
    int32_t x2 = tk_srdhm(x, x), x3 = tk_srdhm(x2, x), x4 = tk_srdhm(x2, x2);
    int32_t x4_over_4 = tk_rdbpot(x4, 2);
    int32_t sum = tk_wrap32((int64_t)x4_over_4 + x3);
    int32_t poly = tk_rdbpot(tk_wrap32((int64_t)tk_srdhm(sum, constant_1_over_3) + x2), 1);
    int32_t x_plus_poly = tk_wrap32((int64_t)x + poly);
    return tk_wrap32((int64_t)constant_term + tk_srdhm(constant_term, x_plus_poly));
}

/* exp(a) for a <= 0 in Q5.26, result in Q0.31: the exponent's bits past the first
 * quarter multiply in exp(-2^k) one by one (gemmlowp's barrel shifter). */
static inline int32_t exp_on_negative_values(int32_t a)
{
    static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308,
                                      39332535, 720401, 242}; /* exp(-2^k), k = -2 .. 4 */
    const int fractional_bits = 31 - DIFF_INTEGER_BITS;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    int32_t a_mod_quarter_minus_one_quarter =
        (int32_t)((uint32_t)a & (uint32_t)(one_quarter - 1)) - one_quarter;
    int32_t result = exp_on_quarter_interval(
        tk_saturating_shl(a_mod_quarter_minus_one_quarter, DIFF_INTEGER_BITS));
    uint32_t remainder = (uint32_t)a_mod_quarter_minus_one_quarter - (uint32_t)a;
    int k;
    for (k = 0; k < 7; ++k) {
        if (remainder & ((uint32_t)1 << (fractional_bits - 2 + k))) {
            result = tk_srdhm(result, barrel[k]);
        }
    }
    return a == 0 ? ONE_Q0 : result;
}

/* 1 / (1 + a) for a in Q0.31, by Newton-Raphson in Q2.29; the result in Q0.31. */
static inline int32_t one_over_one_plus_x(int32_t a)
{
    int32_t half_denominator = rounding_half_sum(a, ONE_Q0);
    int32_t x = tk_wrap32(1515870810 + (int64_t)tk_srdhm(half_denominator, -1010580540));
    int i;
    for (i = 0; i < 3; ++i) {
        int32_t residual = tk_wrap32((int64_t)(1 << 29) - tk_srdhm(half_denominator, x));
        x = tk_wrap32((int64_t)x + tk_saturating_shl(tk_srdhm(x, residual), 2));
    }
    return tk_saturating_shl(x, 1);
}

/* exp of the differences 0, -1, ..., -255 (the only ones an int8 row has), in Q0.31, each
 * worked out the first time a row asks for it: a row of ten classes needs ten, not 256
 * (about 150 instructions each on a Cortex-M4). */
struct exps {
    int32_t table[256];
    uint32_t known[8]; /* a bit per difference */
    int32_t multiplier, left_shift, diff_min;
};

static inline void exps_start(struct exps *e, int32_t multiplier, int32_t left_shift, int32_t diff_min)
{
    int i;
    for (i = 0; i < 8; ++i) {
        e->known[i] = 0u;
    }
    e->multiplier = multiplier;
    e->left_shift = left_shift;
    e->diff_min = diff_min;
}

/* The exp of the difference -d, d in [0, 255]. */
static inline int32_t exp_of(struct exps *e, int32_t d)
{
    uint32_t bit = 1u << (d & 31);
    if (!(e->known[d >> 5] & bit)) {
        e->table[d] = -d >= e->diff_min ? exp_on_negative_values(tk_mbqm(-d, e->multiplier, e->left_shift)) : 0;
        e->known[d >> 5] |= bit;
    }
    return e->table[d];
}

static inline int32_t row_max(const int8_t *x, int32_t depth)
{
    int32_t i, best = -128;
    for (i = 0; i < depth; ++i) {
        best = x[i] > best ? x[i] : best;
    }
    return best;
}

/* The row's sum of exps in Q12.19 (an int32 sum, wrapping as in C++). */
static inline int32_t row_sum(const int8_t *x, int32_t depth, int32_t max, struct exps *exps)
{
    uint32_t sum = 0;
    int32_t i;
    for (i = 0; i < depth; ++i) {
        if (x[i] - max >= exps->diff_min) {
            sum += (uint32_t)tk_rdbpot(exp_of(exps, max - x[i]), SUM_INTEGER_BITS);
        }
    }
    return tk_wrap32(sum);
}

#endif /* TOCO_SOFTMAX_S8_H */
