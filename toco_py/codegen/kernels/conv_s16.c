/* 16x8 CONV_2D and DEPTHWISE_CONV_2D in NHWC, after LiteRT's ConvPerChannel and
 * DepthwiseConvPerChannel for int16 inputs as toco_py/ops/int16/conv.py computes them:
 * filter * input summed exactly in 64 bits over the taps inside the image (the input's zero
 * point is 0, so the padding adds nothing), plus the int64 bias (wrapping as int64 does),
 * requantized per output channel by the 64-bit multiplier (tk_mbqm64) and clamped. */
#include "toco_kernels.h"

/* One output pixel's taps inside the image, [ky0, ky1) x [kx0, kx1), its tap (0, 0) at
 * input (y, x) of `image` (one batch). */
struct taps {
    const int16_t *image;
    int32_t y, x, ky0, ky1, kx0, kx1;
    int dilation_h, dilation_w;
};

/* The input at tap (ky, kx), channel 0. */
static const int16_t *tap_input(const struct taps *t, const int32_t *in, int32_t ky, int32_t kx)
{
    size_t iy = (size_t)(t->y + ky * t->dilation_h), ix = (size_t)(t->x + kx * t->dilation_w);
    return t->image + (iy * (size_t)in[2] + ix) * (size_t)in[3];
}

/* CONV_2D: the sum over the taps and input channels of `filter`, one output channel's
 * [KH, KW, I]. |product| <= 2^22: exact in int32, summed in int64. */
static int64_t conv_sum(const struct taps *t, const int32_t *in, const int8_t *filter,
                        const int32_t *fd)
{
    int64_t sum = 0;
    int32_t ky, kx, ic;
    for (ky = t->ky0; ky < t->ky1; ++ky) {
        for (kx = t->kx0; kx < t->kx1; ++kx) {
            const int16_t *pixel = tap_input(t, in, ky, kx);
            const int8_t *w = filter + ((size_t)ky * (size_t)fd[2] + (size_t)kx) * (size_t)fd[3];
            for (ic = 0; ic < fd[3]; ++ic) {
                sum += (int32_t)pixel[ic] * w[ic];
            }
        }
    }
    return sum;
}

/* DEPTHWISE_CONV_2D: output channel oc over the taps of input channel ic. */
static int64_t depthwise_sum(const struct taps *t, const int32_t *in, const int8_t *filter,
                             const int32_t *fd, int32_t oc, int32_t ic)
{
    int64_t sum = 0;
    int32_t ky, kx;
    for (ky = t->ky0; ky < t->ky1; ++ky) {
        for (kx = t->kx0; kx < t->kx1; ++kx) {
            int32_t v = tap_input(t, in, ky, kx)[ic];
            size_t tap = ((size_t)ky * (size_t)fd[2] + (size_t)kx) * (size_t)fd[3];
            sum += v * filter[tap + (size_t)oc];
        }
    }
    return sum;
}

/* One output value from the sum of its channel c. */
static int16_t requantize(int64_t sum, const int64_t *bias, int32_t c, const int32_t *multipliers,
                          const int8_t *shifts, int32_t act_min, int32_t act_max)
{
    int64_t acc = bias ? tk_s8a_wrap64((uint64_t)sum + (uint64_t)bias[c]) : sum;
    return (int16_t)tk_clamp_s32(tk_mbqm64(acc, multipliers[c], shifts[c]), act_min, act_max);
}

static int convolve(const int16_t *input, const int32_t *in, const int8_t *filter,
                    const int32_t *fd, const int64_t *bias, int16_t *output, const int32_t *od,
                    int stride_h, int stride_w, int dilation_h, int dilation_w, int pad_top,
                    int pad_left, const int32_t *multipliers, const int8_t *shifts,
                    int32_t act_min, int32_t act_max, int depthwise)
{
    /* Depthwise: output channel oc reads input channel oc / multiplier. */
    int32_t multiplier = depthwise ? od[3] / in[3] : 1;
    size_t filter_size = (size_t)fd[1] * (size_t)fd[2] * (size_t)fd[3]; /* per output channel */
    int32_t b, oy, ox, oc;
    struct taps t;
    size_t o = 0;
    t.dilation_h = dilation_h;
    t.dilation_w = dilation_w;
    for (b = 0; b < od[0]; ++b) {
        t.image = input + (size_t)b * (size_t)in[1] * (size_t)in[2] * (size_t)in[3];
        for (oy = 0; oy < od[1]; ++oy) {
            t.y = oy * stride_h - pad_top;
            tk_tap_range(t.y, dilation_h, fd[1], in[1], &t.ky0, &t.ky1);
            for (ox = 0; ox < od[2]; ++ox) {
                t.x = ox * stride_w - pad_left;
                tk_tap_range(t.x, dilation_w, fd[2], in[2], &t.kx0, &t.kx1);
                for (oc = 0; oc < od[3]; ++oc) {
                    int64_t sum = depthwise
                        ? depthwise_sum(&t, in, filter, fd, oc, oc / multiplier)
                        : conv_sum(&t, in, filter + (size_t)oc * filter_size, fd);
                    output[o++] = requantize(sum, bias, oc, multipliers, shifts, act_min, act_max);
                }
            }
        }
    }
    return TK_OK;
}

int tk_conv2d_s16(const int16_t *input, const int32_t *input_dims, const int8_t *filter,
                  const int32_t *filter_dims, const int64_t *bias, int16_t *output,
                  const int32_t *output_dims, int stride_h, int stride_w, int dilation_h,
                  int dilation_w, int pad_top, int pad_left, const int32_t *multipliers,
                  const int8_t *shifts, int32_t act_min, int32_t act_max)
{
    return convolve(input, input_dims, filter, filter_dims, bias, output, output_dims, stride_h,
                    stride_w, dilation_h, dilation_w, pad_top, pad_left, multipliers, shifts,
                    act_min, act_max, 0);
}

int tk_depthwise_conv2d_s16(const int16_t *input, const int32_t *input_dims,
                            const int8_t *filter, const int32_t *filter_dims,
                            const int64_t *bias, int16_t *output, const int32_t *output_dims,
                            int stride_h, int stride_w, int dilation_h, int dilation_w,
                            int pad_top, int pad_left, const int32_t *multipliers,
                            const int8_t *shifts, int32_t act_min, int32_t act_max)
{
    return convolve(input, input_dims, filter, filter_dims, bias, output, output_dims, stride_h,
                    stride_w, dilation_h, dilation_w, pad_top, pad_left, multipliers, shifts,
                    act_min, act_max, 1);
}
