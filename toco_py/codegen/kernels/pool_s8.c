/* Quantized MAX_POOL_2D and AVERAGE_POOL_2D in NHWC (toco_py/ops/int8/pool.py, after
 * LiteRT's reference_integer_ops::MaxPool / AveragePool): both work on the raw integers
 * (input and output share their params), over the window clipped to the image. */
#include "toco_kernels.h"

/* One output value of channel c over the window of the batch whose first element is at
 * `image`: the maximum, or the average. */
static int32_t pool_window(const void *input, const int32_t *in, size_t image,
                           const struct tk_window *w, int32_t c, int type, int average)
{
    int32_t best = tk_s8a_type_min(type), y, x;
    int64_t total = 0, count = (int64_t)(w->y1 - w->y0) * (w->x1 - w->x0);
    for (y = w->y0; y < w->y1; ++y) {
        size_t row = image + (size_t)y * (size_t)in[2] * (size_t)in[3] + (size_t)c;
        for (x = w->x0; x < w->x1; ++x) {
            int32_t v = tk_s8a_load(input, row + (size_t)x * (size_t)in[3], type);
            best = v > best ? v : best;
            total += v;
        }
    }
    if (!average) {
        return best;
    }
    if (count <= 0) {
        return 0; /* a window outside the image (no SAME or VALID geometry gives one) */
    }
    /* "Round to the closest integer": move away from zero by half the count, then divide
     * (C's division truncates, as the numpy kernel's does), so ties round away from 0. */
    total = total > 0 ? total + count / 2 : total - count / 2;
    return (int32_t)(total / count);
}

/* MAX_POOL_2D of one int8 output pixel, its channels side by side: each tap of the window
 * raises the pixel's channels at once (no per-channel walk of the window), then the clamp. */
static void max_pixel_s8(const int8_t *image, const int32_t *in, const struct tk_window *w, int8_t *out,
                         int32_t channels, int32_t act_min, int32_t act_max)
{
    int32_t y, x, c;
    for (c = 0; c < channels; ++c) {
        out[c] = INT8_MIN;
    }
    for (y = w->y0; y < w->y1; ++y) {
        for (x = w->x0; x < w->x1; ++x) {
            const int8_t *pixel = image + ((size_t)y * (size_t)in[2] + (size_t)x) * (size_t)in[3];
            for (c = 0; c < channels; ++c) {
                out[c] = pixel[c] > out[c] ? pixel[c] : out[c];
            }
        }
    }
    for (c = 0; c < channels; ++c) {
        out[c] = (int8_t)tk_clamp_s32(out[c], act_min, act_max);
    }
}

static int pool(const void *input, const int32_t *input_dims, void *output,
                const int32_t *output_dims, int filter_h, int filter_w, int stride_h,
                int stride_w, int pad_top, int pad_left, int32_t act_min, int32_t act_max,
                int type, int average)
{
    const int32_t *in = input_dims;
    int32_t b, oy, ox, c;
    size_t i = 0;
    for (b = 0; b < output_dims[0]; ++b) {
        size_t image = (size_t)b * (size_t)in[1] * (size_t)in[2] * (size_t)in[3];
        for (oy = 0; oy < output_dims[1]; ++oy) {
            for (ox = 0; ox < output_dims[2]; ++ox) {
                /* The window is the same for every channel: clipped once. */
                struct tk_window w = tk_clip_window(in, oy * stride_h - pad_top,
                                                    ox * stride_w - pad_left, filter_h, filter_w);
                if (type == TK_QTYPE_INT8 && !average) { /* the output never overlaps the input */
                    max_pixel_s8((const int8_t *)input + image, in, &w, (int8_t *)output + i, output_dims[3],
                                 act_min, act_max);
                    i += (size_t)output_dims[3];
                    continue;
                }
                for (c = 0; c < output_dims[3]; ++c) {
                    int32_t v = pool_window(input, in, image, &w, c, type, average);
                    tk_s8a_store(output, i++, type, tk_clamp_s32(v, act_min, act_max));
                }
            }
        }
    }
    return TK_OK;
}

int tk_max_pool_q(const void *input, const int32_t *input_dims, void *output,
                  const int32_t *output_dims, int filter_h, int filter_w, int stride_h,
                  int stride_w, int pad_top, int pad_left, int32_t act_min, int32_t act_max,
                  int type)
{
    return pool(input, input_dims, output, output_dims, filter_h, filter_w, stride_h,
                stride_w, pad_top, pad_left, act_min, act_max, type, 0);
}

int tk_average_pool_q(const void *input, const int32_t *input_dims, void *output,
                      const int32_t *output_dims, int filter_h, int filter_w, int stride_h,
                      int stride_w, int pad_top, int pad_left, int32_t act_min,
                      int32_t act_max, int type)
{
    return pool(input, input_dims, output, output_dims, filter_h, filter_w, stride_h,
                stride_w, pad_top, pad_left, act_min, act_max, type, 1);
}
