/* Quantized MAX_POOL_2D and AVERAGE_POOL_2D in NHWC (toco_py/ops/int8/pool.py, after
 * LiteRT's reference_integer_ops::MaxPool / AveragePool): both work on the raw integers
 * (input and output share their params), over the window clipped to the image. */
#include "toco_kernels.h"

/* The part of a window inside the image along one axis: [*first, *last). */
static void clip_window(int32_t start, int32_t size, int32_t extent, int32_t *first,
                        int32_t *last)
{
    *first = start < 0 ? 0 : start;
    *last = start + size > extent ? extent : start + size;
}

/* One output value of channel c from the window at (y0, x0). */
static int32_t pool_window(const void *input, const int32_t *in, int32_t batch, int32_t y0,
                           int32_t x0, int32_t c, int filter_h, int filter_w, int type,
                           int average)
{
    int32_t ys, ye, xs, xe, y, x;
    int32_t best = tk_s8a_type_min(type);
    int64_t total = 0;
    int64_t count;
    clip_window(y0, filter_h, in[1], &ys, &ye);
    clip_window(x0, filter_w, in[2], &xs, &xe);
    for (y = ys; y < ye; ++y) {
        for (x = xs; x < xe; ++x) {
            size_t at = ((size_t)(batch * in[1] + y) * (size_t)in[2] + (size_t)x) * (size_t)in[3];
            int32_t v = tk_s8a_load(input, at + (size_t)c, type);
            best = v > best ? v : best;
            total += v;
        }
    }
    if (!average) {
        return best;
    }
    count = (int64_t)(ye - ys) * (xe - xs);
    if (count <= 0) {
        return 0; /* a window outside the image (no SAME or VALID geometry gives one) */
    }
    /* "Round to the closest integer": move away from zero by half the count, then divide
     * (C's division truncates, as the numpy kernel's does), so ties round away from 0. */
    total = total > 0 ? total + count / 2 : total - count / 2;
    return (int32_t)(total / count);
}

static int pool(const void *input, const int32_t *input_dims, void *output,
                const int32_t *output_dims, int filter_h, int filter_w, int stride_h,
                int stride_w, int pad_top, int pad_left, int32_t act_min, int32_t act_max,
                int type, int average)
{
    int32_t b, oy, ox, c;
    size_t i = 0;
    for (b = 0; b < output_dims[0]; ++b) {
        for (oy = 0; oy < output_dims[1]; ++oy) {
            for (ox = 0; ox < output_dims[2]; ++ox) {
                for (c = 0; c < output_dims[3]; ++c) {
                    int32_t v = pool_window(input, input_dims, b, oy * stride_h - pad_top,
                                            ox * stride_w - pad_left, c, filter_h, filter_w,
                                            type, average);
                    tk_s8a_store(output, i++, type, tk_s8a_clamp(v, act_min, act_max));
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
