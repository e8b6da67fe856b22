/* int8 FULLY_CONNECTED with packed weights (see toco_kernels_s8a.h), after LiteRT's
 * reference_integer_ops::FullyConnected as toco_py/ops/int8/fully_connected.py computes it.
 * Unlike the convolutions it requantizes with one rounding, and the numpy kernel keeps its
 * sums in 64 bits without wrapping: so do these, exactly.
 *
 * The units of a block sum side by side in 32-bit lanes, which the compiler vectorizes;
 * a run of CHUNK products cannot overflow them (CHUNK * 255 * 128 < 2^31), so longer rows
 * add their runs into 64-bit sums. tk_fully_connected_lut_s8 runs the same loops on
 * clustered weights whose indices are packed in the same blocks, decoding each tap's
 * TK_S8_LANES weights as it reads them (tk_s8_block_taps). */
#include "toco_kernels.h"

#define CHUNK 65536

/* sum_k (row[k] - input_zero) * w[k][j] for k in [start, end), end - start <= CHUNK. */
static void chunk_sums(const int8_t *row, int32_t start, int32_t end, int32_t input_zero,
                       const tk_weights_s8 *block, int32_t *sums)
{
    int32_t acc[TK_S8_LANES];
    int8_t decoded[TK_S8_LANES];
    int32_t k, j;
    for (j = 0; j < TK_S8_LANES; ++j) {
        acc[j] = 0;
    }
#if TK_DSP
    if (block->plain) { /* SMLAD over the row staged as int16 (toco_kernels_dsp.h) */
        int16_t x[TK_DSP_CHUNK];
        for (k = start; k < end; k += TK_DSP_CHUNK) {
            size_t count = (size_t)(end - k < TK_DSP_CHUNK ? end - k : TK_DSP_CHUNK);
            tk_dsp_stage(row + k, count, input_zero, x);
            tk_dsp_block_taps(x, block->plain + (size_t)k * TK_S8_LANES, count, acc);
        }
        start = end;
    }
#endif
    for (k = start; k < end; ++k) {
        const int32_t v = row[k] - input_zero;
        const int8_t *w = tk_s8_block_taps(block, (size_t)k, decoded);
        for (j = 0; j < TK_S8_LANES; ++j) {
            /* |v * w| <= 255 * 128: the product is exact in 16 bits. */
            acc[j] += (int16_t)(v * w[j]);
        }
    }
    for (j = 0; j < TK_S8_LANES; ++j) {
        sums[j] = acc[j];
    }
}

/* The exact sums of one block of units for one input row. */
static void block_sums(const int8_t *row, int32_t depth, int32_t input_zero,
                       const tk_weights_s8 *block, int64_t *sums)
{
    int32_t start, j;
    for (j = 0; j < TK_S8_LANES; ++j) {
        sums[j] = 0;
    }
    for (start = 0; start < depth; start += CHUNK) {
        int32_t part[TK_S8_LANES];
        int32_t end = depth - start > CHUNK ? start + CHUNK : depth;
        chunk_sums(row, start, end, input_zero, block, part);
        for (j = 0; j < TK_S8_LANES; ++j) {
            sums[j] += part[j];
        }
    }
}

int tk_fully_connected_lut_s8(const int8_t *input, int32_t batches, int32_t depth,
                              int32_t input_zero, const tk_weights_s8 *weights,
                              const int32_t *bias, int8_t *output, int32_t units,
                              const int32_t *multipliers, const int8_t *shifts,
                              int32_t output_zero, int32_t act_min, int32_t act_max)
{
    int32_t b, u, j;
    for (b = 0; b < batches; ++b) {
        const int8_t *row = input + (size_t)b * (size_t)depth;
        int8_t *out = output + (size_t)b * (size_t)units;
        for (u = 0; u < units; u += TK_S8_LANES) {
            int64_t sums[TK_S8_LANES];
            int32_t lanes = units - u < TK_S8_LANES ? units - u : TK_S8_LANES;
            tk_weights_s8 block = tk_s8_block(weights, u, units, (size_t)depth * TK_S8_LANES);
            block_sums(row, depth, input_zero, &block, sums);
            for (j = 0; j < lanes; ++j) {
                int64_t acc = sums[j] + (bias ? bias[u + j] : 0);
                out[u + j] = tk_s8a_fc_output(acc, multipliers[u + j], shifts[u + j],
                                              output_zero, act_min, act_max);
            }
        }
    }
    return TK_OK;
}

int tk_fully_connected_s8(const int8_t *input, int32_t batches, int32_t depth,
                          int32_t input_zero, const int8_t *weights, const int32_t *bias,
                          int8_t *output, int32_t units, const int32_t *multipliers,
                          const int8_t *shifts, int32_t output_zero, int32_t act_min,
                          int32_t act_max)
{
    tk_weights_s8 packed = {weights, NULL, NULL, NULL, NULL, 0, 0, 0, 0};
    return tk_fully_connected_lut_s8(input, batches, depth, input_zero, &packed, bias, output,
                                     units, multipliers, shifts, output_zero, act_min, act_max);
}
