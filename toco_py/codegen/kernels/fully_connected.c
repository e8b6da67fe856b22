/* FULLY_CONNECTED: output[b][u] = sum_k input[b][k] * weights[u][k] + bias[u]. */
#include "toco_kernels.h"

int tk_fully_connected_f32(const float *input, int32_t batches, int32_t depth,
                           const float *weights, const float *bias, float *output,
                           int32_t units, float act_min, float act_max)
{
    int32_t b, u, k;
    for (b = 0; b < batches; ++b) {
        const float *row = input + b * depth;
        for (u = 0; u < units; ++u) {
            const float *w = weights + u * depth;
            float total = 0.0f;
            for (k = 0; k < depth; ++k) {
                total += row[k] * w[k];
            }
            if (bias) {
                total += bias[u];
            }
            output[b * units + u] = tk_clamp_f32(total, act_min, act_max);
        }
    }
    return TK_OK;
}
