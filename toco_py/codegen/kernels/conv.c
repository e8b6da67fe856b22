/* Convolutions in NHWC: CONV_2D (filter OHWI), DEPTHWISE_CONV_2D (filter 1HW(C*M)) and
 * TRANSPOSE_CONV (filter OHWI). Padding arrives as the rows/columns before the input
 * (the generator applies TFLite's SAME rule), so every tap outside the input is skipped. */
#include "toco_kernels.h"

/* Sum over the window of one output pixel and channel, as LiteRT's reference kernel
 * does it: taps in filter order, input channels innermost. */
static float conv_window(const float *input, const int32_t *in, const float *filter,
                         const int32_t *fd, int32_t batch, int32_t in_y0, int32_t in_x0,
                         int32_t oc, int dilation_h, int dilation_w)
{
    float total = 0.0f;
    int32_t ky, kx, ic;
    for (ky = 0; ky < fd[1]; ++ky) {
        int32_t iy = in_y0 + ky * dilation_h;
        if (iy < 0 || iy >= in[1]) {
            continue;
        }
        for (kx = 0; kx < fd[2]; ++kx) {
            int32_t ix = in_x0 + kx * dilation_w;
            const float *pixel;
            const float *taps;
            if (ix < 0 || ix >= in[2]) {
                continue;
            }
            pixel = input + ((batch * in[1] + iy) * in[2] + ix) * in[3];
            taps = filter + ((oc * fd[1] + ky) * fd[2] + kx) * fd[3];
            for (ic = 0; ic < fd[3]; ++ic) {
                total += pixel[ic] * taps[ic];
            }
        }
    }
    return total;
}

int tk_conv2d_f32(const float *input, const int32_t *input_dims,
                  const float *filter, const int32_t *filter_dims, const float *bias,
                  float *output, const int32_t *output_dims,
                  int stride_h, int stride_w, int dilation_h, int dilation_w,
                  int pad_top, int pad_left, float act_min, float act_max)
{
    int32_t b, oy, ox, oc;
    float *out = output;
    for (b = 0; b < output_dims[0]; ++b) {
        for (oy = 0; oy < output_dims[1]; ++oy) {
            for (ox = 0; ox < output_dims[2]; ++ox) {
                for (oc = 0; oc < output_dims[3]; ++oc) {
                    float total = conv_window(input, input_dims, filter, filter_dims, b,
                                              oy * stride_h - pad_top, ox * stride_w - pad_left,
                                              oc, dilation_h, dilation_w);
                    if (bias) {
                        total += bias[oc];
                    }
                    *out++ = tk_clamp_f32(total, act_min, act_max);
                }
            }
        }
    }
    return TK_OK;
}

/* One output channel of a depthwise window: input channel oc / multiplier. */
static float depthwise_window(const float *input, const int32_t *in, const float *filter,
                              const int32_t *fd, int32_t batch, int32_t in_y0, int32_t in_x0,
                              int32_t oc, int32_t ic, int dilation_h, int dilation_w)
{
    float total = 0.0f;
    int32_t ky, kx;
    for (ky = 0; ky < fd[1]; ++ky) {
        int32_t iy = in_y0 + ky * dilation_h;
        if (iy < 0 || iy >= in[1]) {
            continue;
        }
        for (kx = 0; kx < fd[2]; ++kx) {
            int32_t ix = in_x0 + kx * dilation_w;
            if (ix < 0 || ix >= in[2]) {
                continue;
            }
            total += input[((batch * in[1] + iy) * in[2] + ix) * in[3] + ic]
                     * filter[(ky * fd[2] + kx) * fd[3] + oc];
        }
    }
    return total;
}

int tk_depthwise_conv2d_f32(const float *input, const int32_t *input_dims,
                            const float *filter, const int32_t *filter_dims, const float *bias,
                            float *output, const int32_t *output_dims,
                            int stride_h, int stride_w, int dilation_h, int dilation_w,
                            int pad_top, int pad_left, float act_min, float act_max)
{
    int32_t multiplier = output_dims[3] / input_dims[3];
    int32_t b, oy, ox, oc;
    float *out = output;
    for (b = 0; b < output_dims[0]; ++b) {
        for (oy = 0; oy < output_dims[1]; ++oy) {
            for (ox = 0; ox < output_dims[2]; ++ox) {
                for (oc = 0; oc < output_dims[3]; ++oc) {
                    float total = depthwise_window(input, input_dims, filter, filter_dims, b,
                                                   oy * stride_h - pad_top,
                                                   ox * stride_w - pad_left, oc,
                                                   oc / multiplier, dilation_h, dilation_w);
                    if (bias) {
                        total += bias[oc];
                    }
                    *out++ = tk_clamp_f32(total, act_min, act_max);
                }
            }
        }
    }
    return TK_OK;
}

/* Adds one input pixel's contribution to every output pixel its taps reach. */
static void scatter_pixel(const float *pixel, int32_t in_channels, const float *filter,
                          const int32_t *fd, float *output, const int32_t *od, int32_t batch,
                          int32_t out_y0, int32_t out_x0)
{
    int32_t ky, kx, oc, ic;
    for (ky = 0; ky < fd[1]; ++ky) {
        int32_t oy = out_y0 + ky;
        if (oy < 0 || oy >= od[1]) {
            continue;
        }
        for (kx = 0; kx < fd[2]; ++kx) {
            int32_t ox = out_x0 + kx;
            float *dst;
            if (ox < 0 || ox >= od[2]) {
                continue;
            }
            dst = output + ((batch * od[1] + oy) * od[2] + ox) * od[3];
            for (oc = 0; oc < od[3]; ++oc) {
                const float *taps = filter + ((oc * fd[1] + ky) * fd[2] + kx) * fd[3];
                float sum = 0.0f;
                for (ic = 0; ic < in_channels; ++ic) {
                    sum += pixel[ic] * taps[ic];
                }
                dst[oc] += sum;
            }
        }
    }
}

int tk_transpose_conv_f32(const float *input, const int32_t *input_dims,
                          const float *filter, const int32_t *filter_dims, const float *bias,
                          float *output, const int32_t *output_dims,
                          int stride_h, int stride_w, int pad_top, int pad_left,
                          float act_min, float act_max)
{
    int32_t count = tk_element_count(output_dims, 4);
    int32_t b, iy, ix, i;
    /* The output accumulates scattered contributions, so it starts from zero. */
    for (i = 0; i < count; ++i) {
        output[i] = 0.0f;
    }
    for (b = 0; b < input_dims[0]; ++b) {
        for (iy = 0; iy < input_dims[1]; ++iy) {
            for (ix = 0; ix < input_dims[2]; ++ix) {
                const float *pixel = input + ((b * input_dims[1] + iy) * input_dims[2] + ix)
                                     * input_dims[3];
                scatter_pixel(pixel, input_dims[3], filter, filter_dims, output, output_dims,
                              b, iy * stride_h - pad_top, ix * stride_w - pad_left);
            }
        }
    }
    for (i = 0; i < count; ++i) {
        float value = output[i] + (bias ? bias[i % output_dims[3]] : 0.0f);
        output[i] = tk_clamp_f32(value, act_min, act_max);
    }
    return TK_OK;
}
