/* CONV_2D and FULLY_CONNECTED for filters and weights computed at run time, in the model's
 * layout (OHWI, [units][depth]): the generator packs constant ones for conv.c and
 * fully_connected.c instead. Same sums in the same order as those, one channel at a time. */
#include "toco_kernels.h"

/* One output channel of one pixel: taps [ky0, ky1) x [kx0, kx1) of the window whose tap
 * (0, 0) reads input (y, x) of `image`, input channels innermost. */
static float conv_sum(const float *image, const int32_t *in, const float *taps,
                      const int32_t *fd, int32_t y, int32_t x, const int32_t *ky,
                      const int32_t *kx, int dilation_h, int dilation_w)
{
    float total = 0.0f;
    int32_t i, j, c;
    for (i = ky[0]; i < ky[1]; ++i) {
        for (j = kx[0]; j < kx[1]; ++j) {
            size_t at = (size_t)(y + i * dilation_h) * (size_t)in[2] + (size_t)(x + j * dilation_w);
            const float *pixel = image + at * (size_t)in[3];
            const float *w = taps + (size_t)(i * fd[2] + j) * (size_t)fd[3];
            for (c = 0; c < fd[3]; ++c) {
                total += pixel[c] * w[c];
            }
        }
    }
    return total;
}

int tk_conv2d_unpacked_f32(const float *input, const int32_t *input_dims,
                           const float *filter, const int32_t *filter_dims, const float *bias,
                           float *output, const int32_t *output_dims,
                           int stride_h, int stride_w, int dilation_h, int dilation_w,
                           int pad_top, int pad_left, float act_min, float act_max)
{
    const int32_t *in = input_dims, *fd = filter_dims, *od = output_dims;
    size_t per_channel = (size_t)fd[1] * (size_t)fd[2] * (size_t)fd[3];
    int32_t b, oy, ox, oc, ky[2], kx[2];
    float *out = output;
    for (b = 0; b < od[0]; ++b) {
        const float *image = input + (size_t)b * (size_t)in[1] * (size_t)in[2] * (size_t)in[3];
        for (oy = 0; oy < od[1]; ++oy) {
            int32_t y = oy * stride_h - pad_top;
            tk_tap_range(y, dilation_h, fd[1], in[1], &ky[0], &ky[1]);
            for (ox = 0; ox < od[2]; ++ox) {
                int32_t x = ox * stride_w - pad_left;
                tk_tap_range(x, dilation_w, fd[2], in[2], &kx[0], &kx[1]);
                for (oc = 0; oc < od[3]; ++oc) {
                    float total = conv_sum(image, in, filter + (size_t)oc * per_channel, fd, y,
                                           x, ky, kx, dilation_h, dilation_w);
                    *out++ = tk_clamp_f32(bias ? total + bias[oc] : total, act_min, act_max);
                }
            }
        }
    }
    return TK_OK;
}

int tk_fully_connected_unpacked_f32(const float *input, int32_t batches, int32_t depth,
                                    const float *weights, const float *bias, float *output,
                                    int32_t units, float act_min, float act_max)
{
    int32_t b, u, k;
    for (b = 0; b < batches; ++b) {
        const float *row = input + (size_t)b * (size_t)depth;
        for (u = 0; u < units; ++u) {
            const float *w = weights + (size_t)u * (size_t)depth;
            float total = 0.0f;
            for (k = 0; k < depth; ++k) {
                total += row[k] * w[k];
            }
            output[(size_t)b * (size_t)units + (size_t)u] =
                tk_clamp_f32(bias ? total + bias[u] : total, act_min, act_max);
        }
    }
    return TK_OK;
}
