/* int8 activations: the RELU family, LEAKY_RELU and the LOGISTIC / TANH tables, as
 * toco_py/ops/int8/activation.py computes them (HARD_SWISH and L2_NORMALIZATION have files
 * of their own). */
#include "toco_kernels.h"
#include "fixedpoint_s8.h"

int tk_relu_s8(const int8_t *input, int8_t *output, int32_t count, int32_t in_zero,
               int32_t multiplier, int32_t shift, int32_t out_zero, int32_t lo, int32_t hi)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        int32_t scaled = tk_mbqm(input[i] - in_zero, multiplier, shift);
        output[i] = (int8_t)tk_clamp_s32(tk_wrap32((int64_t)out_zero + scaled), lo, hi);
    }
    return TK_OK;
}

int tk_leaky_relu_s8(const int8_t *input, int8_t *output, int32_t count, int32_t in_zero,
                     int32_t identity_multiplier, int32_t identity_shift,
                     int32_t alpha_multiplier, int32_t alpha_shift, int32_t out_zero)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        int32_t value = input[i] - in_zero;
        int32_t scaled = value >= 0 ? tk_mbqm(value, identity_multiplier, identity_shift)
                                    : tk_mbqm(value, alpha_multiplier, alpha_shift);
        output[i] = (int8_t)tk_clamp_s32(tk_wrap32((int64_t)out_zero + scaled), -128, 127);
    }
    return TK_OK;
}

int tk_lookup_s8(const int8_t *input, int8_t *output, int32_t count, const int8_t *table)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        output[i] = table[input[i] + 128];
    }
    return TK_OK;
}
