/* QUANTIZE (float32 -> integers), as LiteRT's reference kernels compute it. Parameters per
 * tensor (channels = 1) or per channel: element i belongs to channel (i / inner) % channels. */
#include <math.h>

#include "toco_kernels.h"

/* q = clamp(round(x / scale) + zero_point): the division in float, rounding half away
 * from zero (std::round), saturating instead of overflowing (NaN goes to the minimum). */
static int32_t quantize_one(float x, float scale, int32_t zero_point, int32_t lo, int32_t hi)
{
    double r = round((double)(x / scale));
    int64_t q;
    if (!(r > -2147483648.0)) {
        r = -2147483648.0;
    } else if (r > 2147483647.0) {
        r = 2147483647.0;
    }
    q = (int64_t)r + zero_point;
    return q < lo ? lo : (q > hi ? hi : (int32_t)q);
}

#define DEFINE_QUANTIZE(suffix, type, lo, hi)                                               \
    int tk_quantize_f32_##suffix(const float *input, type *output, int32_t count,           \
                                 int32_t inner, int32_t channels, const float *scales,      \
                                 const int32_t *zero_points)                                \
    {                                                                                       \
        int32_t i;                                                                          \
        for (i = 0; i < count; ++i) {                                                       \
            int32_t c = tk_channel_of(i, inner, channels);                                     \
            output[i] = (type)quantize_one(input[i], scales[c], zero_points[c], lo, hi);    \
        }                                                                                   \
        return TK_OK;                                                                       \
    }

DEFINE_QUANTIZE(s8, int8_t, -128, 127)
DEFINE_QUANTIZE(u8, uint8_t, 0, 255)
DEFINE_QUANTIZE(s16, int16_t, -32768, 32767)
