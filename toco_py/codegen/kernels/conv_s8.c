/* int8 CONV_2D and DEPTHWISE_CONV_2D in NHWC (toco_py/ops/int8/conv.py, after LiteRT's
 * ConvPerChannel and DepthwiseConvPerChannel). Taps outside the image are skipped: the
 * numpy kernel pads with the input zero point instead, which adds filter * 0, the same.
 * The sums are exact in 64 bits and wrapped to 32 afterwards, which is what LiteRT's
 * wrapping int32 accumulator leaves too. */
#include "toco_kernels.h"

/* The int8 result of one output channel's sum: the requantization every int8 convolution
 * shares (per-channel multiplier and shift, zero point, fused activation clamp). */
static int8_t requantize(int64_t acc, int32_t multiplier, int32_t shift, int32_t output_zero,
                         int32_t act_min, int32_t act_max)
{
    int32_t scaled = tk_s8a_scale_double(acc, multiplier, shift);
    int32_t shifted = tk_s8a_wrap32((int64_t)scaled + output_zero);
    return (int8_t)tk_s8a_clamp(shifted, act_min, act_max);
}

/* Sum over the window of one output pixel and channel: taps in filter order, input
 * channels innermost. in_y0 / in_x0: the window's top-left corner in the input. */
static int64_t conv_window(const int8_t *input, const int32_t *in, int32_t input_zero,
                           const int8_t *filter, const int32_t *fd, int32_t batch,
                           int32_t in_y0, int32_t in_x0, int32_t oc, int dilation_h,
                           int dilation_w)
{
    int64_t total = 0;
    int32_t ky, kx, ic;
    for (ky = 0; ky < fd[1]; ++ky) {
        int32_t iy = in_y0 + ky * dilation_h;
        if (iy < 0 || iy >= in[1]) {
            continue;
        }
        for (kx = 0; kx < fd[2]; ++kx) {
            int32_t ix = in_x0 + kx * dilation_w;
            const int8_t *pixel;
            const int8_t *taps;
            if (ix < 0 || ix >= in[2]) {
                continue;
            }
            pixel = input + ((size_t)(batch * in[1] + iy) * (size_t)in[2] + (size_t)ix) * (size_t)in[3];
            taps = filter + ((size_t)(oc * fd[1] + ky) * (size_t)fd[2] + (size_t)kx) * (size_t)fd[3];
            for (ic = 0; ic < fd[3]; ++ic) {
                total += ((int64_t)pixel[ic] - input_zero) * taps[ic];
            }
        }
    }
    return total;
}

int tk_conv2d_s8(const int8_t *input, const int32_t *input_dims, int32_t input_zero,
                 const int8_t *filter, const int32_t *filter_dims, const int32_t *bias,
                 int8_t *output, const int32_t *output_dims, int stride_h, int stride_w,
                 int dilation_h, int dilation_w, int pad_top, int pad_left,
                 const int32_t *multipliers, const int32_t *shifts, int32_t output_zero,
                 int32_t act_min, int32_t act_max)
{
    int32_t b, oy, ox, oc;
    int8_t *out = output;
    for (b = 0; b < output_dims[0]; ++b) {
        for (oy = 0; oy < output_dims[1]; ++oy) {
            for (ox = 0; ox < output_dims[2]; ++ox) {
                for (oc = 0; oc < output_dims[3]; ++oc) {
                    int64_t acc = conv_window(input, input_dims, input_zero, filter, filter_dims,
                                              b, oy * stride_h - pad_top, ox * stride_w - pad_left,
                                              oc, dilation_h, dilation_w);
                    if (bias) {
                        acc += bias[oc];
                    }
                    *out++ = requantize(acc, multipliers[oc], shifts[oc], output_zero, act_min,
                                        act_max);
                }
            }
        }
    }
    return TK_OK;
}

/* One output channel of a depthwise window, which reads input channel ic only. */
static int64_t depthwise_window(const int8_t *input, const int32_t *in, int32_t input_zero,
                                const int8_t *filter, const int32_t *fd, int32_t batch,
                                int32_t in_y0, int32_t in_x0, int32_t oc, int32_t ic,
                                int dilation_h, int dilation_w)
{
    int64_t total = 0;
    int32_t ky, kx;
    for (ky = 0; ky < fd[1]; ++ky) {
        int32_t iy = in_y0 + ky * dilation_h;
        if (iy < 0 || iy >= in[1]) {
            continue;
        }
        for (kx = 0; kx < fd[2]; ++kx) {
            int32_t ix = in_x0 + kx * dilation_w;
            size_t at;
            if (ix < 0 || ix >= in[2]) {
                continue;
            }
            at = ((size_t)(batch * in[1] + iy) * (size_t)in[2] + (size_t)ix) * (size_t)in[3];
            total += ((int64_t)input[at + (size_t)ic] - input_zero)
                     * filter[(size_t)(ky * fd[2] + kx) * (size_t)fd[3] + (size_t)oc];
        }
    }
    return total;
}

int tk_depthwise_conv2d_s8(const int8_t *input, const int32_t *input_dims, int32_t input_zero,
                           const int8_t *filter, const int32_t *filter_dims, const int32_t *bias,
                           int8_t *output, const int32_t *output_dims, int stride_h,
                           int stride_w, int dilation_h, int dilation_w, int pad_top,
                           int pad_left, const int32_t *multipliers, const int32_t *shifts,
                           int32_t output_zero, int32_t act_min, int32_t act_max)
{
    /* Output channel oc reads input channel oc / multiplier (LiteRT derives the multiplier
     * from the shapes, not from the op's option). */
    int32_t multiplier = output_dims[3] / input_dims[3];
    int32_t b, oy, ox, oc;
    int8_t *out = output;
    for (b = 0; b < output_dims[0]; ++b) {
        for (oy = 0; oy < output_dims[1]; ++oy) {
            for (ox = 0; ox < output_dims[2]; ++ox) {
                for (oc = 0; oc < output_dims[3]; ++oc) {
                    int64_t acc = depthwise_window(input, input_dims, input_zero, filter,
                                                   filter_dims, b, oy * stride_h - pad_top,
                                                   ox * stride_w - pad_left, oc, oc / multiplier,
                                                   dilation_h, dilation_w);
                    if (bias) {
                        acc += bias[oc];
                    }
                    *out++ = requantize(acc, multipliers[oc], shifts[oc], output_zero, act_min,
                                        act_max);
                }
            }
        }
    }
    return TK_OK;
}
