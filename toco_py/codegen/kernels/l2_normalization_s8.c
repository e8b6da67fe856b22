/* int8 L2_NORMALIZATION: reference_integer_ops::L2Normalization, as
 * toco_py/ops/int8/activation.py computes it. */
#include "toco_kernels.h"
#include "fixedpoint_s8.h"

int tk_l2_normalization_s8(const int8_t *input, int8_t *output, int32_t outer,
                           int32_t depth, int32_t in_zero)
{
    const int k_output_shift = 7; /* the output is Q0.7, in 1/128 steps */
    int32_t row, i;
    for (row = 0; row < outer; ++row) {
        const int8_t *x = input + row * depth;
        uint32_t acc = 0; /* the int32 sum of squares, wrapping as in C++ */
        int32_t multiplier;
        int shift;
        for (i = 0; i < depth; ++i) {
            int32_t value = x[i] - in_zero;
            acc += (uint32_t)(value * value);
        }
        tk_inv_sqrt_multiplier(tk_wrap32(acc), &multiplier, &shift);
        for (i = 0; i < depth; ++i) {
            int32_t out = tk_mbqm(x[i] - in_zero, multiplier, shift + k_output_shift);
            output[row * depth + i] = (int8_t)tk_clamp_s32(out, -128, 127);
        }
    }
    return TK_OK;
}
