/* int8 LOG_SOFTMAX over the last axis (toco_py/ops/int8/softmax.py): the differences to
 * the row maximum minus the log of the row's sum of exps (softmax_s8.h), to Q4 steps. */
#include "softmax_s8.h"

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
    struct exps exps;
    int32_t row, i;
    exps_start(&exps, input_multiplier, left_shift, diff_min);
    for (row = 0; row < outer; ++row) {
        const int8_t *x = input + row * depth;
        int32_t max = row_max(x, depth);
        int32_t log_sum = log_q12_to_q5(row_sum(x, depth, max, &exps));
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
