/* int8 SOFTMAX over the last axis (toco_py/ops/int8/softmax.py): exps of the differences
 * to the row maximum (softmax_s8.h), times the reciprocal of their sum, to 8 bits. */
#include "softmax_s8.h"

/* GetReciprocal of a Q12.19 sum: 1/sum in [0.5, 1) as Q0.31, and the bits it was moved by. */
static int32_t reciprocal(int32_t sum, int *num_bits_over_unit)
{
    int headroom_plus_one = tk_clz32((uint32_t)sum);
    uint32_t shifted = headroom_plus_one >= 32 ? 0u : (uint32_t)sum << headroom_plus_one;
    *num_bits_over_unit = SUM_INTEGER_BITS - headroom_plus_one;
    return one_over_one_plus_x(tk_wrap32((int64_t)shifted - ((int64_t)1 << 31)));
}

int tk_softmax_s8(const int8_t *input, int8_t *output, int32_t outer, int32_t depth,
                  int32_t input_beta_multiplier, int32_t left_shift, int32_t diff_min)
{
    struct exps exps;
    int32_t row, i;
    exps_start(&exps, input_beta_multiplier, left_shift, diff_min);
    for (row = 0; row < outer; ++row) {
        const int8_t *x = input + row * depth;
        int32_t max = row_max(x, depth);
        int num_bits_over_unit;
        int32_t scale = reciprocal(row_sum(x, depth, max, &exps), &num_bits_over_unit);
        /* To 8 output bits; past 31 (sums of 2^9 and more, where LiteRT's reference
         * kernel aborts) the shift is applied to the 64-bit value as the numpy kernel. */
        int exponent = num_bits_over_unit + 31 - 8;
        for (i = 0; i < depth; ++i) {
            int32_t out = -128;
            if (x[i] - max >= diff_min) {
                int32_t unsat = tk_rdbpot(tk_srdhm(scale, exp_of(&exps, max - x[i])), exponent);
                out = tk_clamp_s32(unsat - 128, -128, 127);
            }
            output[row * depth + i] = (int8_t)out;
        }
    }
    return TK_OK;
}
