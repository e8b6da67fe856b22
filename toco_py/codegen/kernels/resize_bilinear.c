/* RESIZE_BILINEAR in NHWC, following LiteRT's reference kernel including its float32
 * coordinate arithmetic: a double-precision computation would floor some source
 * coordinates to a different pixel. */
#include <math.h>

#include "toco_kernels.h"

/* Source pixels of output index i along one axis: lower, upper and the weight of upper. */
static void bilinear_source(int32_t i, int32_t in_size, float scale, int half_pixel_centers,
                            int32_t *lower, int32_t *upper, float *frac)
{
    float src = half_pixel_centers ? ((float)i + 0.5f) * scale - 0.5f : (float)i * scale;
    int32_t lo = (int32_t)floorf(src);
    int32_t hi = (int32_t)ceilf(src);
    *lower = lo < 0 ? 0 : lo;
    *upper = hi > in_size - 1 ? in_size - 1 : hi;
    /* Measured from the clamped lower index, as LiteRT does. */
    *frac = src - (float)*lower;
}

int tk_resize_bilinear_f32(const float *input, const int32_t *input_dims, float *output,
                           int32_t out_h, int32_t out_w, int align_corners,
                           int half_pixel_centers)
{
    int32_t h = input_dims[1], w = input_dims[2], c = input_dims[3];
    float scale_y = tk_resize_scale(h, out_h, align_corners);
    float scale_x = tk_resize_scale(w, out_w, align_corners);
    int32_t b, y, x, k;
    float *out = output;
    for (b = 0; b < input_dims[0]; ++b) {
        const float *image = input + (size_t)b * (size_t)(h * w * c);
        for (y = 0; y < out_h; ++y) {
            int32_t y0, y1;
            float dy;
            bilinear_source(y, h, scale_y, half_pixel_centers, &y0, &y1, &dy);
            for (x = 0; x < out_w; ++x) {
                int32_t x0, x1;
                float dx;
                const float *p00, *p01, *p10, *p11;
                bilinear_source(x, w, scale_x, half_pixel_centers, &x0, &x1, &dx);
                p00 = image + (y0 * w + x0) * c;
                p01 = image + (y0 * w + x1) * c;
                p10 = image + (y1 * w + x0) * c;
                p11 = image + (y1 * w + x1) * c;
                for (k = 0; k < c; ++k) {
                    /* LiteRT's expression, term by term, in this order. */
                    *out++ = p00[k] * (1.0f - dy) * (1.0f - dx) + p10[k] * dy * (1.0f - dx)
                             + p01[k] * (1.0f - dy) * dx + p11[k] * dy * dx;
                }
            }
        }
    }
    return TK_OK;
}
