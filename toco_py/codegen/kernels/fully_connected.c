/* FULLY_CONNECTED with packed weights (see toco_kernels.h): output[b][u] = the sum of
 * input[b][k] * weights[u][k] in k order, plus bias[u], clamped — LiteRT's reference order.
 * The units of a block sum side by side, each in that order, so the results are the same
 * floats while the loop over the lanes vectorizes. */
#include "toco_kernels.h"

/* The sums of one block of TK_F32_LANES units for one input row. */
static void block_sums(const float *row, int32_t depth, const float *block, float *sums)
{
    float acc[TK_F32_LANES];
    int32_t k, j;
    for (j = 0; j < TK_F32_LANES; ++j) {
        acc[j] = 0.0f;
    }
    for (k = 0; k < depth; ++k) {
        const float v = row[k];
        const float *w = block + (size_t)k * TK_F32_LANES;
        for (j = 0; j < TK_F32_LANES; ++j) {
            acc[j] += v * w[j];
        }
    }
    for (j = 0; j < TK_F32_LANES; ++j) {
        sums[j] = acc[j];
    }
}

int tk_fully_connected_f32(const float *input, int32_t batches, int32_t depth,
                           const float *weights, const float *bias, float *output,
                           int32_t units, float act_min, float act_max)
{
    int32_t b, u, j;
    for (b = 0; b < batches; ++b) {
        const float *row = input + (size_t)b * (size_t)depth;
        float *out = output + (size_t)b * (size_t)units;
        for (u = 0; u < units; u += TK_F32_LANES) {
            float sums[TK_F32_LANES];
            int32_t lanes = units - u < TK_F32_LANES ? units - u : TK_F32_LANES;
            block_sums(row, depth, weights + (size_t)u * (size_t)depth, sums);
            for (j = 0; j < lanes; ++j) {
                float total = bias ? sums[j] + bias[u + j] : sums[j];
                out[u + j] = tk_clamp_f32(total, act_min, act_max);
            }
        }
    }
    return TK_OK;
}
