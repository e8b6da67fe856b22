/* int8 FULLY_CONNECTED (toco_py/ops/int8/fully_connected.py, after LiteRT's
 * reference_integer_ops::FullyConnected). Unlike the convolutions it requantizes with one
 * rounding, and the numpy kernel keeps its sums in 64 bits without wrapping: so do these. */
#include "toco_kernels.h"

/* sum_k (row[k] - input_zero) * w[k], exact. */
static int64_t dot(const int8_t *row, const int8_t *w, int32_t depth, int32_t input_zero)
{
    int64_t total = 0;
    int32_t k;
    for (k = 0; k < depth; ++k) {
        total += ((int64_t)row[k] - input_zero) * w[k];
    }
    return total;
}

int tk_fully_connected_s8(const int8_t *input, int32_t batches, int32_t depth,
                          int32_t input_zero, const int8_t *weights, const int32_t *bias,
                          int8_t *output, int32_t units, const int32_t *multipliers,
                          const int32_t *shifts, int32_t output_zero, int32_t act_min,
                          int32_t act_max)
{
    int32_t b, u;
    for (b = 0; b < batches; ++b) {
        const int8_t *row = input + (size_t)b * (size_t)depth;
        for (u = 0; u < units; ++u) {
            int64_t acc = dot(row, weights + (size_t)u * (size_t)depth, depth, input_zero);
            int64_t scaled;
            if (bias) {
                acc += bias[u];
            }
            scaled = tk_s8a_scale_single(acc, multipliers[u], shifts[u]);
            /* numpy adds the zero point in 64 bits: no wrap before the clamp. */
            output[(size_t)b * (size_t)units + (size_t)u] =
                (int8_t)tk_s8a_clamp(scaled + output_zero, act_min, act_max);
        }
    }
    return TK_OK;
}
