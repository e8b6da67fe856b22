/* 16x8 SOFTMAX over the last axis (toco_py/ops/int16/softmax.py, after LiteRT's
 * reference_ops::SoftmaxInt16): exps of the scaled differences to the row maximum from the
 * exp table, their sum normalised to [1, 2) and inverted with the 1 / (1 + x) table, each
 * exp times that reciprocal. The tables are the numpy kernel's (ops/int16/lut.py). */
#include "toco_kernels.h"

/* LUTLookup(int16_t): the entry the top 9 bits pick plus the slope to the next one (wrapped
 * to int16, as LiteRT stores it) times the low 7 bits, rounded. */
static int32_t lut_lookup(const int16_t *lut, int32_t x)
{
    int32_t index = 256 + (int32_t)tk_asr64(x, 7);
    int32_t base = lut[index];
    int32_t slope = tk_wrap16((int64_t)lut[index + 1] - base);
    int32_t low = (int32_t)((uint32_t)x & 0x7Fu);
    return tk_wrap16(base + tk_asr64((int64_t)slope * low + 64, 7));
}

int tk_softmax_s16(const int16_t *input, int16_t *output, int32_t outer, int32_t depth,
                   int32_t multiplier, int32_t shift, const int16_t *exp_table,
                   const int16_t *reciprocal_table)
{
    int32_t row, i;
    for (row = 0; row < outer; ++row) {
        const int16_t *x = input + (size_t)row * (size_t)depth;
        int16_t *out = output + (size_t)row * (size_t)depth;
        int32_t max = INT16_MIN, sum, headroom_plus_one, right_shift, reciprocal;
        int64_t total = 0, shifted;
        for (i = 0; i < depth; ++i) {
            max = x[i] > max ? x[i] : max;
        }
        /* The exps (Q0.15) go to the output first; their sum is Q16.15. */
        for (i = 0; i < depth; ++i) {
            int32_t scaled = tk_mbqm(x[i] - max, multiplier, shift);
            out[i] = (int16_t)lut_lookup(exp_table, tk_clamp_s32((int64_t)scaled + INT16_MAX,
                                                                 INT16_MIN, INT16_MAX));
            total += out[i];
        }
        sum = tk_wrap32(total);
        headroom_plus_one = tk_clz32((uint32_t)sum);
        /* The sum normalised to [1, 2) in Q1.14 (rounded), then recentred on [-1, 1). */
        shifted = (int64_t)sum * ((int64_t)1 << (headroom_plus_one - 1));
        shifted = tk_asr64(shifted + (1 << 13), 14) - (1 << 15) - (1 << 16);
        reciprocal = lut_lookup(reciprocal_table, tk_clamp_s32(shifted, INT16_MIN, INT16_MAX));
        right_shift = 31 - headroom_plus_one;
        for (i = 0; i < depth; ++i) {
            int64_t product = (int64_t)out[i] * reciprocal + ((int64_t)1 << (right_shift - 1));
            out[i] = (int16_t)tk_clamp_s32(tk_asr64(product, right_shift), 0, INT16_MAX);
        }
    }
    return TK_OK;
}
