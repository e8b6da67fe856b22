/* 2-D pooling in NHWC. Taps outside the input (padding) are skipped: they neither win a
 * max nor count in an average, as in LiteRT. */
#include <float.h>

#include "toco_kernels.h"

/* average != 0: mean of the window, else its maximum. */
static void pool(const float *input, const int32_t *in, float *output, const int32_t *od,
                 int filter_h, int filter_w, int stride_h, int stride_w, int pad_top,
                 int pad_left, float act_min, float act_max, int average)
{
    int32_t b, oy, ox, c, y, x;
    float *out = output;
    for (b = 0; b < od[0]; ++b) {
        for (oy = 0; oy < od[1]; ++oy) {
            for (ox = 0; ox < od[2]; ++ox) {
                struct tk_window w = tk_clip_window(in, oy * stride_h - pad_top,
                                                    ox * stride_w - pad_left, filter_h, filter_w);
                for (c = 0; c < od[3]; ++c) {
                    float value = average ? 0.0f : -FLT_MAX;
                    for (y = w.y0; y < w.y1; ++y) {
                        for (x = w.x0; x < w.x1; ++x) {
                            float v = input[((b * in[1] + y) * in[2] + x) * in[3] + c];
                            if (average) {
                                value += v;
                            } else if (v > value) {
                                value = v;
                            }
                        }
                    }
                    if (average && w.y1 > w.y0 && w.x1 > w.x0) {
                        value /= (float)((w.y1 - w.y0) * (w.x1 - w.x0));
                    }
                    *out++ = tk_clamp_f32(value, act_min, act_max);
                }
            }
        }
    }
}

int tk_max_pool_f32(const float *input, const int32_t *input_dims, float *output,
                    const int32_t *output_dims, int filter_h, int filter_w,
                    int stride_h, int stride_w, int pad_top, int pad_left,
                    float act_min, float act_max)
{
    pool(input, input_dims, output, output_dims, filter_h, filter_w, stride_h, stride_w,
         pad_top, pad_left, act_min, act_max, 0);
    return TK_OK;
}

int tk_average_pool_f32(const float *input, const int32_t *input_dims, float *output,
                        const int32_t *output_dims, int filter_h, int filter_w,
                        int stride_h, int stride_w, int pad_top, int pad_left,
                        float act_min, float act_max)
{
    pool(input, input_dims, output, output_dims, filter_h, filter_w, stride_h, stride_w,
         pad_top, pad_left, act_min, act_max, 1);
    return TK_OK;
}
