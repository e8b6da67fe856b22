/* 2-D pooling in NHWC. Taps outside the input (padding) are skipped: they neither win a
 * max nor count in an average, as in LiteRT. */
#include <float.h>

#include "toco_kernels.h"

/* The window of one output pixel, clipped to the input: [*y0, *y1) x [*x0, *x1). */
static void clip_window(const int32_t *in, int32_t oy, int32_t ox, int filter_h, int filter_w,
                        int stride_h, int stride_w, int pad_top, int pad_left,
                        int32_t *y0, int32_t *y1, int32_t *x0, int32_t *x1)
{
    int32_t top = oy * stride_h - pad_top;
    int32_t left = ox * stride_w - pad_left;
    *y0 = top < 0 ? 0 : top;
    *x0 = left < 0 ? 0 : left;
    *y1 = top + filter_h > in[1] ? in[1] : top + filter_h;
    *x1 = left + filter_w > in[2] ? in[2] : left + filter_w;
}

/* average != 0: mean of the window, else its maximum. */
static void pool(const float *input, const int32_t *in, float *output, const int32_t *od,
                 int filter_h, int filter_w, int stride_h, int stride_w, int pad_top,
                 int pad_left, float act_min, float act_max, int average)
{
    int32_t b, oy, ox, c, y, x, y0, y1, x0, x1;
    float *out = output;
    for (b = 0; b < od[0]; ++b) {
        for (oy = 0; oy < od[1]; ++oy) {
            for (ox = 0; ox < od[2]; ++ox) {
                clip_window(in, oy, ox, filter_h, filter_w, stride_h, stride_w, pad_top,
                            pad_left, &y0, &y1, &x0, &x1);
                for (c = 0; c < od[3]; ++c) {
                    float value = average ? 0.0f : -FLT_MAX;
                    for (y = y0; y < y1; ++y) {
                        for (x = x0; x < x1; ++x) {
                            float v = input[((b * in[1] + y) * in[2] + x) * in[3] + c];
                            if (average) {
                                value += v;
                            } else if (v > value) {
                                value = v;
                            }
                        }
                    }
                    if (average && y1 > y0 && x1 > x0) {
                        value /= (float)((y1 - y0) * (x1 - x0));
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
