/* 16x8 CONV_2D and DEPTHWISE_CONV_2D in NHWC, after LiteRT's ConvPerChannel and
 * DepthwiseConvPerChannel for int16 inputs as toco_py/ops/int16/conv.py computes them:
 * filter * input summed exactly in 64 bits over the taps inside the image (the input's zero
 * point is 0, so the padding adds nothing), plus the int64 bias (wrapping as int64 does),
 * requantized per output channel by the 64-bit multiplier (tk_mbqm64) and clamped. */
#include "toco_kernels.h"

/* One output value from the sum of its channel c. */
static int16_t requantize(int64_t sum, const int64_t *bias, int32_t c, const int32_t *multipliers,
                          const int8_t *shifts, int32_t act_min, int32_t act_max)
{
    int64_t acc = bias ? tk_s8a_wrap64((uint64_t)sum + (uint64_t)bias[c]) : sum;
    return (int16_t)tk_clamp_s32(tk_mbqm64(acc, multipliers[c], shifts[c]), act_min, act_max);
}

/* The taps of output pixel (oy, ox) inside the image: rows [w->y0, w->y1), columns
 * [w->x0, w->x1) of the filter, whose tap (0, 0) reads input (*y, *x). */
static void taps_inside(const int32_t *in, const int32_t *fd, int32_t oy, int32_t ox,
                        int stride_h, int stride_w, int dilation_h, int dilation_w, int pad_top,
                        int pad_left, int32_t *y, int32_t *x, struct tk_window *w)
{
    *y = oy * stride_h - pad_top;
    *x = ox * stride_w - pad_left;
    tk_tap_range(*y, dilation_h, fd[1], in[1], &w->y0, &w->y1);
    tk_tap_range(*x, dilation_w, fd[2], in[2], &w->x0, &w->x1);
}

int tk_conv2d_s16(const int16_t *input, const int32_t *input_dims, const int8_t *filter,
                  const int32_t *filter_dims, const int64_t *bias, int16_t *output,
                  const int32_t *output_dims, int stride_h, int stride_w, int dilation_h,
                  int dilation_w, int pad_top, int pad_left, const int32_t *multipliers,
                  const int8_t *shifts, int32_t act_min, int32_t act_max)
{
    const int32_t *in = input_dims, *fd = filter_dims, *od = output_dims;
    int32_t b, oy, ox, oc, ky, kx, ic, y, x;
    struct tk_window w;
    size_t o = 0;
    for (b = 0; b < od[0]; ++b) {
        const int16_t *image = input + (size_t)b * (size_t)in[1] * (size_t)in[2] * (size_t)in[3];
        for (oy = 0; oy < od[1]; ++oy) {
            for (ox = 0; ox < od[2]; ++ox) {
                taps_inside(in, fd, oy, ox, stride_h, stride_w, dilation_h, dilation_w, pad_top,
                            pad_left, &y, &x, &w);
                for (oc = 0; oc < od[3]; ++oc) {
                    int64_t sum = 0;
                    for (ky = w.y0; ky < w.y1; ++ky) {
                        for (kx = w.x0; kx < w.x1; ++kx) {
                            size_t iy = (size_t)(y + ky * dilation_h), ix = (size_t)(x + kx * dilation_w);
                            const int16_t *pixel = image + (iy * (size_t)in[2] + ix) * (size_t)in[3];
                            const int8_t *taps = filter + (((size_t)oc * (size_t)fd[1] + (size_t)ky)
                                                           * (size_t)fd[2] + (size_t)kx) * (size_t)fd[3];
                            for (ic = 0; ic < fd[3]; ++ic) {
                                sum += (int32_t)pixel[ic] * taps[ic]; /* |product| <= 2^22 */
                            }
                        }
                    }
                    output[o++] = requantize(sum, bias, oc, multipliers, shifts, act_min, act_max);
                }
            }
        }
    }
    return TK_OK;
}

int tk_depthwise_conv2d_s16(const int16_t *input, const int32_t *input_dims,
                            const int8_t *filter, const int32_t *filter_dims,
                            const int64_t *bias, int16_t *output, const int32_t *output_dims,
                            int stride_h, int stride_w, int dilation_h, int dilation_w,
                            int pad_top, int pad_left, const int32_t *multipliers,
                            const int8_t *shifts, int32_t act_min, int32_t act_max)
{
    const int32_t *in = input_dims, *fd = filter_dims, *od = output_dims;
    int32_t multiplier = od[3] / in[3]; /* output channel oc reads input channel oc / multiplier */
    int32_t b, oy, ox, oc, ky, kx, y, x;
    struct tk_window w;
    size_t o = 0;
    for (b = 0; b < od[0]; ++b) {
        const int16_t *image = input + (size_t)b * (size_t)in[1] * (size_t)in[2] * (size_t)in[3];
        for (oy = 0; oy < od[1]; ++oy) {
            for (ox = 0; ox < od[2]; ++ox) {
                taps_inside(in, fd, oy, ox, stride_h, stride_w, dilation_h, dilation_w, pad_top,
                            pad_left, &y, &x, &w);
                for (oc = 0; oc < od[3]; ++oc) {
                    int64_t sum = 0;
                    for (ky = w.y0; ky < w.y1; ++ky) {
                        for (kx = w.x0; kx < w.x1; ++kx) {
                            size_t iy = (size_t)(y + ky * dilation_h), ix = (size_t)(x + kx * dilation_w);
                            int32_t v = image[(iy * (size_t)in[2] + ix) * (size_t)in[3]
                                              + (size_t)(oc / multiplier)];
                            sum += v * filter[((size_t)ky * (size_t)fd[2] + (size_t)kx) * (size_t)fd[3]
                                              + (size_t)oc];
                        }
                    }
                    output[o++] = requantize(sum, bias, oc, multipliers, shifts, act_min, act_max);
                }
            }
        }
    }
    return TK_OK;
}
