/* 16x8 FULLY_CONNECTED, after LiteRT's reference_integer_ops::FullyConnected for int16
 * inputs as toco_py/ops/int16/fully_connected.py computes it: each unit's sum of input *
 * weight, exact in 64 bits, plus the int64 bias (wrapping as int64 does), requantized in
 * double rather than by a fixed-point multiplier, then clamped. */
#include <math.h>

#include "toco_kernels.h"

/* round(double(acc) * scale), half away from zero as numpy's trunc(x + copysign(0.5, x)),
 * then static_cast<int32_t> as x86-64's cvttsd2si: truncation, INT32_MIN out of range. */
static int32_t scaled(int64_t acc, double scale)
{
    double x = (double)acc * scale;
    x = trunc(x + copysign(0.5, x));
    if (!(x > -2147483649.0 && x < 2147483648.0)) {
        return INT32_MIN;
    }
    return (int32_t)x;
}

int tk_fully_connected_s16(const int16_t *input, int32_t batches, int32_t depth,
                           const int8_t *weights, const int64_t *bias, int16_t *output,
                           int32_t units, const double *scales, int32_t act_min,
                           int32_t act_max)
{
    int32_t b, u, k;
    for (b = 0; b < batches; ++b) {
        const int16_t *row = input + (size_t)b * (size_t)depth;
        for (u = 0; u < units; ++u) {
            const int8_t *w = weights + (size_t)u * (size_t)depth;
            int64_t acc = 0;
            for (k = 0; k < depth; ++k) {
                acc += (int32_t)row[k] * w[k]; /* |product| <= 2^22 */
            }
            if (bias) {
                acc = tk_s8a_wrap64((uint64_t)acc + (uint64_t)bias[u]);
            }
            output[(size_t)b * (size_t)units + (size_t)u] =
                (int16_t)tk_clamp_s32(scaled(acc, scales[u]), act_min, act_max);
        }
    }
    return TK_OK;
}
