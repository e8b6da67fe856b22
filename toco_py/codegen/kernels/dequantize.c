/* DEQUANTIZE (integers, float16 -> float32), as LiteRT's reference kernels compute it.
 * Parameters per tensor (channels = 1) or per channel: element i belongs to channel
 * (i / inner) % channels. */
#include <math.h>

#include "toco_kernels.h"

/* real = scale * (q - zero_point): exact in double (a float times a small integer), then
 * rounded to float once, which is what numpy's and LiteRT's float results are. */
static float dequantize_one(int32_t q, float scale, int32_t zero_point)
{
    return (float)((double)scale * (double)(q - zero_point));
}

#define DEFINE_DEQUANTIZE(suffix, type)                                                     \
    int tk_dequantize_##suffix(const type *input, float *output, int32_t count,             \
                               int32_t inner, int32_t channels, const float *scales,        \
                               const int32_t *zero_points)                                  \
    {                                                                                       \
        int32_t i;                                                                          \
        for (i = 0; i < count; ++i) {                                                       \
            int32_t c = tk_channel_of(i, inner, channels);                                     \
            output[i] = dequantize_one(input[i], scales[c], zero_points[c]);                \
        }                                                                                   \
        return TK_OK;                                                                       \
    }

DEFINE_DEQUANTIZE(s8, int8_t)
DEFINE_DEQUANTIZE(u8, uint8_t)
DEFINE_DEQUANTIZE(s16, int16_t)

/* IEEE half -> float, exactly (every half is a float). */
static float half_to_float(uint16_t h)
{
    int32_t exponent = (h >> 10) & 0x1f;
    int32_t mantissa = h & 0x3ff;
    float magnitude;
    if (exponent == 0) {
        magnitude = ldexpf((float)mantissa, -24); /* zero and subnormals */
    } else if (exponent == 31) {
        magnitude = mantissa ? NAN : HUGE_VALF;
    } else {
        magnitude = ldexpf((float)(mantissa | 0x400), exponent - 25);
    }
    return (h & 0x8000) ? -magnitude : magnitude;
}

int tk_dequantize_f16(const uint16_t *input, float *output, int32_t count)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        output[i] = half_to_float(input[i]);
    }
    return TK_OK;
}
