/* DEPTHWISE_CONV_2D in NHWC, filter 1HW(C*M) as in the model, after LiteRT's
 * reference_ops::DepthwiseConv: output channel oc reads input channel oc / M (M = output
 * channels / input channels), sums input * filter over the taps inside the input in (ky, kx)
 * order, then adds its bias and clamps. Padding arrives as the rows/columns before the input.
 *
 * With M = 1 (MobileNets) the channels of a pixel are contiguous in input, filter and output
 * alike: blocks of TK_F32_LANES of them sum side by side, each in that same order, in a loop
 * the compiler vectorizes. The other channels (M > 1, or the last few) sum one at a time,
 * as do all the channels of a clustered filter (the *_lut_f32 kernel: each weight decoded
 * from its packed index as it is read, tk_weight_f32).
 * The taps inside the input are worked out once per output row and pixel. */
#include "toco_kernels.h"

/* One output pixel's window: where it starts in the batch's image and its taps inside. */
struct window {
    const float *image;
    int32_t y, x;                     /* input coordinates of tap (0, 0) */
    int32_t ky0, ky1, kx0, kx1;       /* the taps inside: [ky0, ky1) x [kx0, kx1) */
    int dilation_h, dilation_w;
};

static const float *window_pixel(const struct window *win, const int32_t *in, int32_t ky,
                                 int32_t kx)
{
    size_t iy = (size_t)(win->y + ky * win->dilation_h);
    size_t ix = (size_t)(win->x + kx * win->dilation_w);
    return win->image + (iy * (size_t)in[2] + ix) * (size_t)in[3];
}

/* Channels [c, c + TK_F32_LANES) when M = 1. */
static void block_sums(const struct window *win, const int32_t *in, const float *filter,
                       const int32_t *fd, int32_t c, float *sums)
{
    float acc[TK_F32_LANES];
    int32_t ky, kx, j;
    for (j = 0; j < TK_F32_LANES; ++j) {
        acc[j] = 0.0f;
    }
    for (ky = win->ky0; ky < win->ky1; ++ky) {
        for (kx = win->kx0; kx < win->kx1; ++kx) {
            const float *pixel = window_pixel(win, in, ky, kx) + c;
            const float *taps = filter + (size_t)(ky * fd[2] + kx) * (size_t)fd[3] + (size_t)c;
            for (j = 0; j < TK_F32_LANES; ++j) {
                acc[j] += pixel[j] * taps[j];
            }
        }
    }
    for (j = 0; j < TK_F32_LANES; ++j) {
        sums[j] = acc[j];
    }
}

/* Output channel oc, which reads input channel ic. */
static float channel_sum(const struct window *win, const int32_t *in,
                         const tk_weights_f32 *filter, const int32_t *fd, int32_t oc, int32_t ic)
{
    float total = 0.0f;
    int32_t ky, kx;
    for (ky = win->ky0; ky < win->ky1; ++ky) {
        for (kx = win->kx0; kx < win->kx1; ++kx) {
            size_t at = (size_t)(ky * fd[2] + kx) * (size_t)fd[3] + (size_t)oc;
            total += window_pixel(win, in, ky, kx)[ic] * tk_weight_f32(filter, at, oc);
        }
    }
    return total;
}

static float finish(float total, const float *bias, int32_t oc, float act_min, float act_max)
{
    return tk_clamp_f32(bias ? total + bias[oc] : total, act_min, act_max);
}

/* Every output channel of one pixel. */
static void pixel_channels(const struct window *win, const int32_t *in,
                           const tk_weights_f32 *filter, const int32_t *fd, const float *bias,
                           float *out, int32_t channels, float act_min, float act_max)
{
    int32_t multiplier = channels / in[3];
    int32_t oc = 0, j;
    if (multiplier == 1 && filter->plain) {
        for (; oc + TK_F32_LANES <= channels; oc += TK_F32_LANES) {
            float sums[TK_F32_LANES];
            block_sums(win, in, filter->plain, fd, oc, sums);
            for (j = 0; j < TK_F32_LANES; ++j) {
                out[oc + j] = finish(sums[j], bias, oc + j, act_min, act_max);
            }
        }
    }
    for (; oc < channels; ++oc) {
        float total = channel_sum(win, in, filter, fd, oc, oc / multiplier);
        out[oc] = finish(total, bias, oc, act_min, act_max);
    }
}

int tk_depthwise_conv2d_lut_f32(const float *input, const int32_t *input_dims,
                                const tk_weights_f32 *filter, const int32_t *filter_dims,
                                const float *bias, float *output, const int32_t *output_dims,
                                int stride_h, int stride_w, int dilation_h, int dilation_w,
                                int pad_top, int pad_left, float act_min, float act_max)
{
    const int32_t *in = input_dims, *fd = filter_dims, *od = output_dims;
    struct window win;
    int32_t b, oy, ox;
    float *out = output;
    win.dilation_h = dilation_h;
    win.dilation_w = dilation_w;
    for (b = 0; b < od[0]; ++b) {
        win.image = input + (size_t)b * (size_t)in[1] * (size_t)in[2] * (size_t)in[3];
        for (oy = 0; oy < od[1]; ++oy) {
            win.y = oy * stride_h - pad_top;
            tk_tap_range(win.y, dilation_h, fd[1], in[1], &win.ky0, &win.ky1);
            for (ox = 0; ox < od[2]; ++ox) {
                win.x = ox * stride_w - pad_left;
                tk_tap_range(win.x, dilation_w, fd[2], in[2], &win.kx0, &win.kx1);
                pixel_channels(&win, in, filter, fd, bias, out, od[3], act_min, act_max);
                out += od[3];
            }
        }
    }
    return TK_OK;
}

int tk_depthwise_conv2d_f32(const float *input, const int32_t *input_dims,
                            const float *filter, const int32_t *filter_dims, const float *bias,
                            float *output, const int32_t *output_dims,
                            int stride_h, int stride_w, int dilation_h, int dilation_w,
                            int pad_top, int pad_left, float act_min, float act_max)
{
    tk_weights_f32 plain = {filter, NULL, NULL, NULL, NULL, 0, 0, 0, 0};
    return tk_depthwise_conv2d_lut_f32(input, input_dims, &plain, filter_dims, bias, output,
                                       output_dims, stride_h, stride_w, dilation_h, dilation_w,
                                       pad_top, pad_left, act_min, act_max);
}
