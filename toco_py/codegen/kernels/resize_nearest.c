/* RESIZE_NEAREST_NEIGHBOR in NHWC on any element type (element_size bytes each), following
 * LiteRT's reference kernel including its float32 coordinate arithmetic. */
#include <math.h>
#include <string.h>

#include "toco_kernels.h"

static int32_t nearest_source(int32_t i, int32_t in_size, float scale, int align_corners,
                              int half_pixel_centers)
{
    float src = ((float)i + (half_pixel_centers ? 0.5f : 0.0f)) * scale;
    /* Rounding a non-negative value with align_corners, flooring without. */
    int32_t index = align_corners ? (int32_t)(src + 0.5f) : (int32_t)floorf(src);
    if (index > in_size - 1) {
        index = in_size - 1;
    }
    return index < 0 ? 0 : index;
}

int tk_resize_nearest(const void *input, const int32_t *input_dims, void *output,
                      int32_t out_h, int32_t out_w, int align_corners, int half_pixel_centers,
                      size_t element_size)
{
    int32_t h = input_dims[1], w = input_dims[2];
    size_t pixel = (size_t)input_dims[3] * element_size;
    float scale_y = tk_resize_scale(h, out_h, align_corners);
    float scale_x = tk_resize_scale(w, out_w, align_corners);
    unsigned char *dst = (unsigned char *)output;
    int32_t b, y, x;
    for (b = 0; b < input_dims[0]; ++b) {
        for (y = 0; y < out_h; ++y) {
            int32_t sy = nearest_source(y, h, scale_y, align_corners, half_pixel_centers);
            for (x = 0; x < out_w; ++x) {
                int32_t sx = nearest_source(x, w, scale_x, align_corners, half_pixel_centers);
                size_t from = (((size_t)b * (size_t)h + (size_t)sy) * (size_t)w + (size_t)sx) * pixel;
                memcpy(dst, (const unsigned char *)input + from, pixel);
                dst += pixel;
            }
        }
    }
    return TK_OK;
}
