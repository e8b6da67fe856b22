/* Standalone activations. */
#include <math.h>

#include "toco_kernels.h"

/* LiteRT's reference LOGISTIC: exp(x) below the lower cutoff (where 1 / (1 + e^-x) and
 * e^x agree to float precision) and exactly 1 above the upper one. */
#define LOGISTIC_LOWER (-9.0f)
#define LOGISTIC_UPPER 16.619047164916992f

int tk_relu_f32(const float *input, float *output, int32_t count, float lo, float hi)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        output[i] = tk_clamp_f32(input[i], lo, hi);
    }
    return TK_OK;
}

int tk_logistic_f32(const float *input, float *output, int32_t count)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        float x = input[i];
        if (x < LOGISTIC_LOWER) {
            output[i] = expf(x);
        } else if (x > LOGISTIC_UPPER) {
            output[i] = 1.0f;
        } else {
            output[i] = 1.0f / (1.0f + expf(-x));
        }
    }
    return TK_OK;
}

int tk_tanh_f32(const float *input, float *output, int32_t count)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        output[i] = tanhf(input[i]);
    }
    return TK_OK;
}

int tk_hard_swish_f32(const float *input, float *output, int32_t count)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        float x = input[i];
        output[i] = x * tk_clamp_f32(x + 3.0f, 0.0f, 6.0f) / 6.0f;
    }
    return TK_OK;
}

/* LiteRT's reference GELU: the exact form through erfc (1 + erf(x / sqrt 2) cancels for
 * negative x), the tanh form as written. */
#define GELU_SQRT_HALF 0.70710678118654752f
#define GELU_TANH_SCALE 0.79788456080286536f /* sqrt(2 / pi) */
#define GELU_CUBE_COEFFICIENT 0.044715f

int tk_gelu_f32(const float *input, float *output, int32_t count, int32_t approximate)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        float x = input[i];
        if (approximate) {
            float inner = GELU_TANH_SCALE * (x + GELU_CUBE_COEFFICIENT * x * x * x);
            output[i] = 0.5f * x * (1.0f + tanhf(inner));
        } else {
            output[i] = 0.5f * x * erfcf(-GELU_SQRT_HALF * x);
        }
    }
    return TK_OK;
}

int tk_leaky_relu_f32(const float *input, float *output, int32_t count, float alpha)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        float x = input[i];
        output[i] = x >= 0.0f ? x : x * alpha;
    }
    return TK_OK;
}
