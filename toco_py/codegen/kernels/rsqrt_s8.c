/* int8 RSQRT (toco_py/ops/int8/elementwise.py, after RsqrtEvalQuantizedInt8). */
#include "toco_kernels.h"
#include "fixedpoint_s8.h"

/* RsqrtEvalQuantizedInt8 for value = x - zero point > 0: 1/sqrt(value) with 20 fraction
 * bits, then the output multiplier; zero stands for the largest output. */
static int8_t rsqrt_value(int32_t value, int32_t multiplier, int32_t shift, int32_t out_zero)
{
    const int k_shift = 20;
    int32_t inv_multiplier, data;
    int inv_shift;
    if (value == 0) {
        return 127;
    }
    tk_inv_sqrt_multiplier(value, &inv_multiplier, &inv_shift);
    data = tk_mbqm(1, inv_multiplier, inv_shift + k_shift);
    data = tk_wrap32((int64_t)tk_mbqm(data, multiplier, shift - k_shift) + out_zero);
    return (int8_t)tk_clamp_s32(data, -128, 127);
}

int tk_rsqrt_s8(const int8_t *input, int8_t *output, int32_t count, int32_t in_zero,
                int32_t multiplier, int32_t shift, int32_t out_zero)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        if (input[i] < in_zero) {
            return TK_ERROR_BELOW_ZERO_POINT; /* before any write, as the numpy kernel */
        }
    }
    for (i = 0; i < count; ++i) {
        output[i] = rsqrt_value(input[i] - in_zero, multiplier, shift, out_zero);
    }
    return TK_OK;
}
