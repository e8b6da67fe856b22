/* int8 SOFTMAX and LOG_SOFTMAX over the last axis, in gemmlowp fixed point as
 * toco_py/ops/int8/softmax.py (and the math of fixedpoint.py) computes them: input
 * differences to the row maximum scaled to Q5.26, exp() in Q0.31, sums in Q12.19. */
#include "toco_kernels.h"
#include "fixedpoint_s8.h"

#define DIFF_INTEGER_BITS 5   /* exp() inputs are Q5.26 */
#define SUM_INTEGER_BITS 12   /* the sum of exps is Q12.19: up to 4096 terms of 1 */
#define ONE_Q0 INT32_MAX      /* FixedPoint<int32, 0>::One(), saturated */

/* gemmlowp's RoundingHalfSum: (a + b) / 2, rounded away from zero. */
static int32_t rounding_half_sum(int32_t a, int32_t b)
{
    int64_t total = (int64_t)a + b;
    return (int32_t)((total + (total >= 0 ? 1 : -1)) / 2);
}

/* exp(a) for a in [-1/4, 0) in Q0.31: a Taylor expansion around -1/8. */
static int32_t exp_on_quarter_interval(int32_t a)
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
static int32_t exp_on_negative_values(int32_t a)
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
static int32_t one_over_one_plus_x(int32_t a)
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

/* GetReciprocal of a Q12.19 sum: 1/sum in [0.5, 1) as Q0.31, and the bits it was moved by. */
static int32_t reciprocal(int32_t sum, int *num_bits_over_unit)
{
    int headroom_plus_one = tk_clz32((uint32_t)sum);
    uint32_t shifted = headroom_plus_one >= 32 ? 0u : (uint32_t)sum << headroom_plus_one;
    *num_bits_over_unit = SUM_INTEGER_BITS - headroom_plus_one;
    return one_over_one_plus_x(tk_wrap32((int64_t)shifted - ((int64_t)1 << 31)));
}

/* exp of every difference 0, -1, ..., -255 (the only ones an int8 row has), in Q0.31. */
static void exp_table(int32_t *table, int32_t multiplier, int32_t left_shift, int32_t diff_min)
{
    int32_t d;
    for (d = 0; d < 256; ++d) {
        table[d] = -d >= diff_min ? exp_on_negative_values(tk_mbqm(-d, multiplier, left_shift)) : 0;
    }
}

static int32_t row_max(const int8_t *x, int32_t depth)
{
    int32_t i, best = -128;
    for (i = 0; i < depth; ++i) {
        best = x[i] > best ? x[i] : best;
    }
    return best;
}

/* The row's sum of exps in Q12.19 (an int32 sum, wrapping as in C++). */
static int32_t row_sum(const int8_t *x, int32_t depth, int32_t max, const int32_t *exps,
                       int32_t diff_min)
{
    uint32_t sum = 0;
    int32_t i;
    for (i = 0; i < depth; ++i) {
        if (x[i] - max >= diff_min) {
            sum += (uint32_t)tk_rdbpot(exps[max - x[i]], SUM_INTEGER_BITS);
        }
    }
    return tk_wrap32(sum);
}

int tk_softmax_s8(const int8_t *input, int8_t *output, int32_t outer, int32_t depth,
                  int32_t input_beta_multiplier, int32_t left_shift, int32_t diff_min)
{
    int32_t exps[256], row, i;
    exp_table(exps, input_beta_multiplier, left_shift, diff_min);
    for (row = 0; row < outer; ++row) {
        const int8_t *x = input + row * depth;
        int32_t max = row_max(x, depth);
        int num_bits_over_unit;
        int32_t scale = reciprocal(row_sum(x, depth, max, exps, diff_min), &num_bits_over_unit);
        /* To 8 output bits; past 31 (sums of 2^9 and more, where LiteRT's reference
         * kernel aborts) the shift is applied to the 64-bit value as the numpy kernel. */
        int exponent = num_bits_over_unit + 31 - 8;
        for (i = 0; i < depth; ++i) {
            int32_t out = -128;
            if (x[i] - max >= diff_min) {
                int32_t unsat = tk_rdbpot(tk_srdhm(scale, exps[max - x[i]]), exponent);
                out = tk_clamp_s32(unsat - 128, -128, 127);
            }
            output[row * depth + i] = (int8_t)out;
        }
    }
    return TK_OK;
}

/* ---- LOG_SOFTMAX ---------------------------------------------------------------------- */

/* log(x) for a Q12.19 x >= 1, in Q5.26: common.h's log_x_for_x_greater_than_or_equal_to_1,
 * computed in Q6.25 (LOG_ACCUM_BITS integer bits). */
#define LOG_ACCUM_BITS (DIFF_INTEGER_BITS + 1)
#define SQRT_HALF 1518500250
#define SQRT_SQRT_HALF 1805811301

static int32_t saturate32(int64_t x)
{
    return (int32_t)(x > INT32_MAX ? INT32_MAX : (x < INT32_MIN ? INT32_MIN : x));
}

/* x as r * 2^z with r near 1: the two candidate normalisations (by x's headroom, and by
 * x * sqrt(1/2)'s), keeping the smaller r and the larger z (in Q6.25). The generator keeps
 * rows below 4096 elements, so x > 0 and every shift below is in [0, 31]. */
static void log_normalize(int32_t x, int32_t *r, int32_t *z_pow_2_adj)
{
    const int32_t shifted_quarter = tk_multiply_by_pot(1 << 29, -LOG_ACCUM_BITS);
    int z_a_headroom_plus_1 = tk_clz32((uint32_t)x);
    int32_t r_a_tmp = tk_saturating_shl(x, z_a_headroom_plus_1 - 1);
    int32_t r_a = tk_saturating_shl(tk_srdhm(r_a_tmp, SQRT_HALF), 1);
    int32_t z_a = saturate32((int64_t)tk_saturating_shl(SUM_INTEGER_BITS - z_a_headroom_plus_1,
                                                        31 - LOG_ACCUM_BITS) + shifted_quarter);
    int z_b_headroom = tk_clz32((uint32_t)tk_srdhm(x, SQRT_HALF)) - 1;
    int32_t r_b = tk_saturating_shl(x, z_b_headroom);
    int32_t z_b = saturate32((int64_t)tk_saturating_shl(SUM_INTEGER_BITS - z_b_headroom,
                                                        31 - LOG_ACCUM_BITS) - shifted_quarter);
    *r = r_a < r_b ? r_a : r_b;
    *z_pow_2_adj = z_a > z_b ? z_a : z_b;
}

/* log(r) for r near 1 (Q0.31), in Q6.25: a Pade approximant around sqrt(sqrt(1/2)). */
static int32_t log_pade(int32_t r)
{
    const int32_t alpha_n = 117049297, alpha_d = 127690142, alpha_i = 1057819769,
                  alpha_f = 638450708;
    int32_t p = rounding_half_sum(r, SQRT_SQRT_HALF);
    int32_t q = tk_wrap32((int64_t)r - SQRT_SQRT_HALF);
    int32_t common_sq, num, denom_minus_one;
    q = tk_wrap32((int64_t)q + q);
    common_sq = tk_srdhm(q, q);
    num = tk_wrap32((int64_t)tk_srdhm(q, r) + tk_srdhm(tk_srdhm(q, common_sq), alpha_n));
    denom_minus_one = tk_wrap32(
        (int64_t)tk_srdhm(p, tk_wrap32((int64_t)alpha_i + q + tk_srdhm(alpha_d, common_sq)))
        + tk_srdhm(alpha_f, q));
    return tk_srdhm(tk_multiply_by_pot(num, -LOG_ACCUM_BITS), one_over_one_plus_x(denom_minus_one));
}

static int32_t log_q12_to_q5(int32_t x)
{
    const int32_t log_2 = 1488522236;
    int32_t r, z_pow_2_adj, total;
    log_normalize(x, &r, &z_pow_2_adj);
    total = tk_wrap32((int64_t)tk_srdhm(z_pow_2_adj, log_2) + log_pade(r));
    return tk_multiply_by_pot(total, LOG_ACCUM_BITS - DIFF_INTEGER_BITS);
}

int tk_log_softmax_s8(const int8_t *input, int8_t *output, int32_t outer, int32_t depth,
                      int32_t input_multiplier, int32_t left_shift, int32_t diff_min,
                      int32_t reverse_multiplier, int32_t reverse_shift)
{
    const int output_integer_bits = 4; /* Q4 in 1/16 steps, zero point 127 */
    int32_t exps[256], row, i;
    exp_table(exps, input_multiplier, left_shift, diff_min);
    for (row = 0; row < outer; ++row) {
        const int8_t *x = input + row * depth;
        int32_t max = row_max(x, depth);
        int32_t log_sum = log_q12_to_q5(row_sum(x, depth, max, exps, diff_min));
        /* Differences whose log-softmax falls below the smallest Q5.26 value give -128. */
        int32_t shifted_log_sum = tk_wrap32((int64_t)log_sum + INT32_MIN);
        int32_t reverse = tk_mbqm(shifted_log_sum, reverse_multiplier, reverse_shift);
        int32_t adjusted_diff_min = diff_min - 1 > reverse ? diff_min - 1 : reverse;
        for (i = 0; i < depth; ++i) {
            int32_t diff = x[i] - max, out = -128;
            if (diff > adjusted_diff_min) {
                int32_t in_q5 = tk_mbqm(diff, input_multiplier, left_shift);
                int32_t scaled = tk_rdbpot(tk_wrap32((int64_t)in_q5 - log_sum),
                                           31 - DIFF_INTEGER_BITS - output_integer_bits);
                out = tk_clamp_s32(scaled + 127, -128, 127);
            }
            output[row * depth + i] = (int8_t)out;
        }
    }
    return TK_OK;
}
