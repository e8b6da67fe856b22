/* int8 CONV_2D and FULLY_CONNECTED for filters and weights computed at run time, in the
 * model's layout (OHWI, [units][depth]): the generator packs constant ones for conv_s8.c and
 * fc_s8.c instead. The same results as those, one channel at a time: convolution sums
 * modulo 2^32, FULLY_CONNECTED sums exact in 64 bits. */
#include "toco_kernels.h"

/* One output channel of one pixel: taps [ky0, ky1) x [kx0, kx1) of the window whose tap
 * (0, 0) reads input (y, x) of `image`, input channels innermost. */
static uint32_t conv_sum(const int8_t *image, const int32_t *in, int32_t input_zero,
                         const int8_t *taps, const int32_t *fd, int32_t y, int32_t x,
                         const int32_t *ky, const int32_t *kx, int dilation_h, int dilation_w)
{
    uint32_t total = 0;
    int32_t i, j, c;
    for (i = ky[0]; i < ky[1]; ++i) {
        for (j = kx[0]; j < kx[1]; ++j) {
            size_t at = (size_t)(y + i * dilation_h) * (size_t)in[2] + (size_t)(x + j * dilation_w);
            const int8_t *pixel = image + at * (size_t)in[3];
            const int8_t *w = taps + (size_t)(i * fd[2] + j) * (size_t)fd[3];
            for (c = 0; c < fd[3]; ++c) {
                total += (uint32_t)((pixel[c] - input_zero) * w[c]);
            }
        }
    }
    return total;
}

int tk_conv2d_unpacked_s8(const int8_t *input, const int32_t *input_dims, int32_t input_zero,
                          const int8_t *filter, const int32_t *filter_dims, const int32_t *bias,
                          int8_t *output, const int32_t *output_dims, const int32_t *output_steps,
                          int stride_h, int stride_w, int dilation_h, int dilation_w, int pad_top,
                          int pad_left, const int32_t *multipliers, const int8_t *shifts,
                          int32_t output_zero, int32_t act_min, int32_t act_max)
{
    const int32_t *in = input_dims, *fd = filter_dims, *od = output_dims;
    size_t per_channel = (size_t)fd[1] * (size_t)fd[2] * (size_t)fd[3], at = 0;
    int32_t b, oy, ox, oc, ky[2], kx[2];
    for (b = 0; b < od[0]; ++b) {
        const int8_t *image = input + (size_t)b * (size_t)in[1] * (size_t)in[2] * (size_t)in[3];
        for (oy = 0; oy < od[1]; ++oy) {
            int32_t y = oy * stride_h - pad_top;
            tk_tap_range(y, dilation_h, fd[1], in[1], &ky[0], &ky[1]);
            for (ox = 0; ox < od[2]; ++ox) {
                int32_t x = ox * stride_w - pad_left;
                int8_t *out = tk_s8a_pixel(output, od, output_steps, at++);
                tk_tap_range(x, dilation_w, fd[2], in[2], &kx[0], &kx[1]);
                for (oc = 0; oc < od[3]; ++oc) {
                    uint32_t acc = conv_sum(image, in, input_zero, filter + (size_t)oc * per_channel,
                                            fd, y, x, ky, kx, dilation_h, dilation_w);
                    acc += bias ? (uint32_t)bias[oc] : 0u;
                    *out++ = tk_s8a_requantize(acc, multipliers[oc], shifts[oc], output_zero,
                                               act_min, act_max);
                }
            }
        }
    }
    return TK_OK;
}

int tk_fully_connected_unpacked_s8(const int8_t *input, int32_t batches, int32_t depth,
                                   int32_t input_zero, const int8_t *weights,
                                   const int32_t *bias, int8_t *output, int32_t units,
                                   const int32_t *multipliers, const int8_t *shifts,
                                   int32_t output_zero, int32_t act_min, int32_t act_max)
{
    int32_t b, u, k;
    for (b = 0; b < batches; ++b) {
        const int8_t *row = input + (size_t)b * (size_t)depth;
        for (u = 0; u < units; ++u) {
            const int8_t *w = weights + (size_t)u * (size_t)depth;
            int64_t acc = bias ? bias[u] : 0;
            for (k = 0; k < depth; ++k) {
                acc += (int64_t)(row[k] - input_zero) * w[k];
            }
            output[(size_t)b * (size_t)units + (size_t)u] =
                tk_s8a_fc_output(acc, multipliers[u], shifts[u], output_zero, act_min, act_max);
        }
    }
    return TK_OK;
}
