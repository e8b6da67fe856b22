/* Normalizations over the last axis: SOFTMAX, LOG_SOFTMAX and L2_NORMALIZATION. */
#include <math.h>

#include "toco_kernels.h"

/* L2_NORMALIZATION divides by at least this norm, as LiteRT's float kernel. */
#define L2_NORM_EPSILON 1e-6f

int tk_softmax_f32(const float *input, float *output, int32_t outer, int32_t depth, float beta)
{
    int32_t r, i;
    for (r = 0; r < outer; ++r) {
        const float *x = input + r * depth;
        float *y = output + r * depth;
        float max = x[0];
        float sum = 0.0f;
        /* Shifting by the maximum keeps every exp() at most 1: no overflow. */
        for (i = 1; i < depth; ++i) {
            max = x[i] > max ? x[i] : max;
        }
        for (i = 0; i < depth; ++i) {
            y[i] = expf((x[i] - max) * beta);
            sum += y[i];
        }
        for (i = 0; i < depth; ++i) {
            y[i] /= sum;
        }
    }
    return TK_OK;
}

/* LiteRT's reference LogSoftmax: x - max - log(sum of exp(x - max)). */
int tk_log_softmax_f32(const float *input, float *output, int32_t outer, int32_t depth)
{
    int32_t r, i;
    for (r = 0; r < outer; ++r) {
        const float *x = input + r * depth;
        float *y = output + r * depth;
        float max = x[0];
        float sum = 0.0f, log_sum;
        for (i = 1; i < depth; ++i) {
            max = x[i] > max ? x[i] : max;
        }
        for (i = 0; i < depth; ++i) {
            sum += expf(x[i] - max);
        }
        log_sum = logf(sum);
        for (i = 0; i < depth; ++i) {
            y[i] = x[i] - max - log_sum;
        }
    }
    return TK_OK;
}

int tk_l2_normalization_f32(const float *input, float *output, int32_t outer, int32_t depth)
{
    int32_t r, i;
    for (r = 0; r < outer; ++r) {
        const float *x = input + r * depth;
        float squares = 0.0f;
        float norm;
        for (i = 0; i < depth; ++i) {
            squares += x[i] * x[i];
        }
        norm = sqrtf(squares);
        norm = norm > L2_NORM_EPSILON ? norm : L2_NORM_EPSILON;
        for (i = 0; i < depth; ++i) {
            output[r * depth + i] = x[i] / norm;
        }
    }
    return TK_OK;
}
