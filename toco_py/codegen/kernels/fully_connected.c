/* FULLY_CONNECTED with packed weights (see toco_kernels.h): output[b][u] = the sum of
 * input[b][k] * weights[u][k] in k order, plus bias[u], clamped — LiteRT's reference order.
 * The units of a block sum side by side, each in that order, so the results are the same
 * floats while the loop over the lanes vectorizes. tk_fully_connected_lut_f32 runs the same
 * loops on clustered weights whose indices are packed in the same blocks, decoding each
 * tap's TK_F32_LANES weights as it reads them (tk_f32_block_taps). */
#include "toco_kernels.h"

/* The sums of one block of TK_F32_LANES units for one input row. */
static void block_sums(const float *row, int32_t depth, const tk_weights_f32 *block, float *sums)
{
    float acc[TK_F32_LANES], decoded[TK_F32_LANES];
    int32_t k, j;
    for (j = 0; j < TK_F32_LANES; ++j) {
        acc[j] = 0.0f;
    }
    for (k = 0; k < depth; ++k) {
        const float v = row[k];
        const float *w = tk_f32_block_taps(block, (size_t)k, decoded);
        for (j = 0; j < TK_F32_LANES; ++j) {
            acc[j] += v * w[j];
        }
    }
    for (j = 0; j < TK_F32_LANES; ++j) {
        sums[j] = acc[j];
    }
}

int tk_fully_connected_lut_f32(const float *input, int32_t batches, int32_t depth,
                               const tk_weights_f32 *weights, const float *bias, float *output,
                               int32_t units, float act_min, float act_max)
{
    int32_t b, u, j;
    for (b = 0; b < batches; ++b) {
        const float *row = input + (size_t)b * (size_t)depth;
        float *out = output + (size_t)b * (size_t)units;
        for (u = 0; u < units; u += TK_F32_LANES) {
            float sums[TK_F32_LANES];
            int32_t lanes = units - u < TK_F32_LANES ? units - u : TK_F32_LANES;
            tk_weights_f32 block = tk_f32_block(weights, u, units, (size_t)depth * TK_F32_LANES);
            block_sums(row, depth, &block, sums);
            for (j = 0; j < lanes; ++j) {
                float total = bias ? sums[j] + bias[u + j] : sums[j];
                out[u + j] = tk_clamp_f32(total, act_min, act_max);
            }
        }
    }
    return TK_OK;
}

int tk_fully_connected_f32(const float *input, int32_t batches, int32_t depth,
                           const float *weights, const float *bias, float *output,
                           int32_t units, float act_min, float act_max)
{
    tk_weights_f32 packed = {weights, NULL, NULL, NULL, NULL, 0, 0, 0, 0};
    return tk_fully_connected_lut_f32(input, batches, depth, &packed, bias, output, units,
                                      act_min, act_max);
}
