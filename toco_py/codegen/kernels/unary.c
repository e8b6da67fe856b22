/* Elementwise unary math: EXP, SQRT, RSQRT, NEG, ABS, SQUARE. */
#include <math.h>

#include "toco_kernels.h"

int tk_exp_f32(const float *input, float *output, int32_t count)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        output[i] = expf(input[i]);
    }
    return TK_OK;
}

int tk_sqrt_f32(const float *input, float *output, int32_t count)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        output[i] = sqrtf(input[i]);
    }
    return TK_OK;
}

int tk_rsqrt_f32(const float *input, float *output, int32_t count)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        output[i] = 1.0f / sqrtf(input[i]);
    }
    return TK_OK;
}

int tk_neg_f32(const float *input, float *output, int32_t count)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        output[i] = -input[i];
    }
    return TK_OK;
}

int tk_abs_f32(const float *input, float *output, int32_t count)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        output[i] = fabsf(input[i]);
    }
    return TK_OK;
}

int tk_square_f32(const float *input, float *output, int32_t count)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        output[i] = input[i] * input[i];
    }
    return TK_OK;
}
