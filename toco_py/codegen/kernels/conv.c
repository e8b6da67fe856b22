/* CONV_2D in NHWC with a packed filter (see toco_kernels.h), after LiteRT's
 * reference_ops::Conv: each output channel sums input * filter over the taps inside the
 * input, in (ky, kx, ic) order, then adds its bias and clamps. Padding arrives as the
 * rows/columns before the input (the generator applies TFLite's SAME rule).
 *
 * The channels of a block sum side by side, each in exactly that order, so the results
 * are the reference kernel's to the bit while the innermost loop (over the lanes)
 * vectorizes. The taps inside the input are worked out once per output row and pixel,
 * so no tap outside is visited and the inner loops test nothing. */
#include "toco_kernels.h"

/* One output pixel's window: where it starts in the batch's image and its taps inside. */
struct window {
    const float *image;
    int32_t y, x;                     /* input coordinates of tap (0, 0) */
    int32_t ky0, ky1, kx0, kx1;       /* the taps inside: [ky0, ky1) x [kx0, kx1) */
    int dilation_h, dilation_w;
};

/* The sums of one block of TK_F32_LANES output channels over the window. The lanes live in
 * a local array, which the compiler keeps in vector registers. */
static void block_sums(const struct window *win, const int32_t *in, const tk_weights_f32 *block,
                       const int32_t *fd, float *sums)
{
    float acc[TK_F32_LANES], decoded[TK_F32_LANES];
    int32_t ky, kx, ic, j;
    for (j = 0; j < TK_F32_LANES; ++j) {
        acc[j] = 0.0f;
    }
    for (ky = win->ky0; ky < win->ky1; ++ky) {
        int32_t iy = win->y + ky * win->dilation_h;
        for (kx = win->kx0; kx < win->kx1; ++kx) {
            int32_t ix = win->x + kx * win->dilation_w;
            const float *pixel = win->image + ((size_t)iy * (size_t)in[2] + (size_t)ix) * (size_t)in[3];
            size_t taps = (size_t)(ky * fd[2] + kx) * (size_t)fd[3];
            for (ic = 0; ic < fd[3]; ++ic) {
                const float v = pixel[ic];
                const float *w = tk_f32_block_taps(block, taps + (size_t)ic, decoded);
                for (j = 0; j < TK_F32_LANES; ++j) {
                    acc[j] += v * w[j];
                }
            }
        }
    }
    for (j = 0; j < TK_F32_LANES; ++j) {
        sums[j] = acc[j];
    }
}

/* The same for two output pixels side by side whose windows have the same taps inside (all
 * but the edges of a row), `step` input columns apart: each filter value loaded serves
 * both, and the two sets of lanes give the processor twice the independent additions. */
static void pair_sums(const struct window *win, int32_t step, const int32_t *in,
                      const tk_weights_f32 *block, const int32_t *fd, float *sums0, float *sums1)
{
    float acc0[TK_F32_LANES], acc1[TK_F32_LANES], decoded[TK_F32_LANES];
    size_t apart = (size_t)step * (size_t)in[3];
    int32_t ky, kx, ic, j;
    for (j = 0; j < TK_F32_LANES; ++j) {
        acc0[j] = 0.0f;
        acc1[j] = 0.0f;
    }
    for (ky = win->ky0; ky < win->ky1; ++ky) {
        int32_t iy = win->y + ky * win->dilation_h;
        for (kx = win->kx0; kx < win->kx1; ++kx) {
            int32_t ix = win->x + kx * win->dilation_w;
            const float *pixel0 = win->image + ((size_t)iy * (size_t)in[2] + (size_t)ix) * (size_t)in[3];
            const float *pixel1 = pixel0 + apart;
            size_t taps = (size_t)(ky * fd[2] + kx) * (size_t)fd[3];
            for (ic = 0; ic < fd[3]; ++ic) {
                const float v0 = pixel0[ic], v1 = pixel1[ic];
                const float *w = tk_f32_block_taps(block, taps + (size_t)ic, decoded);
                for (j = 0; j < TK_F32_LANES; ++j) {
                    acc0[j] += v0 * w[j];
                }
                for (j = 0; j < TK_F32_LANES; ++j) {
                    acc1[j] += v1 * w[j];
                }
            }
        }
    }
    for (j = 0; j < TK_F32_LANES; ++j) {
        sums0[j] = acc0[j];
        sums1[j] = acc1[j];
    }
}

/* The sums of output pixel ox and, when its window and the next one's have the same taps
 * inside, of pixel ox + 1 too (`left`: pixels left in the row). Returns how many. */
static int32_t pixel_sums(struct window *win, const int32_t *in, const tk_weights_f32 *block,
                          const int32_t *fd, int32_t left, int32_t ox, int stride_w,
                          int pad_left, int dilation_w, float sums[2][TK_F32_LANES])
{
    int32_t kx0, kx1;
    win->x = ox * stride_w - pad_left;
    tk_tap_range(win->x, dilation_w, fd[2], in[2], &win->kx0, &win->kx1);
    tk_tap_range(win->x + stride_w, dilation_w, fd[2], in[2], &kx0, &kx1);
    if (left >= 2 && kx0 == win->kx0 && kx1 == win->kx1) {
        pair_sums(win, stride_w, in, block, fd, sums[0], sums[1]);
        return 2;
    }
    block_sums(win, in, block, fd, sums[0]);
    return 1;
}

int tk_conv2d_lut_f32(const float *input, const int32_t *input_dims,
                      const tk_weights_f32 *filter, const int32_t *filter_dims, const float *bias,
                      float *output, const int32_t *output_dims,
                      int stride_h, int stride_w, int dilation_h, int dilation_w,
                      int pad_top, int pad_left, float act_min, float act_max)
{
    const int32_t *in = input_dims, *fd = filter_dims, *od = output_dims;
    size_t block_size = (size_t)fd[1] * (size_t)fd[2] * (size_t)fd[3] * TK_F32_LANES;
    struct window win;
    float sums[2][TK_F32_LANES];
    int32_t b, oy, ox, oc, j, p, pixels;
    win.dilation_h = dilation_h;
    win.dilation_w = dilation_w;
    for (b = 0; b < od[0]; ++b) {
        win.image = input + (size_t)b * (size_t)in[1] * (size_t)in[2] * (size_t)in[3];
        for (oy = 0; oy < od[1]; ++oy) {
            float *row = output + ((size_t)b * (size_t)od[1] + (size_t)oy) * (size_t)od[2] * (size_t)od[3];
            win.y = oy * stride_h - pad_top;
            tk_tap_range(win.y, dilation_h, fd[1], in[1], &win.ky0, &win.ky1);
            /* Block by block, so that one block of the filter serves the whole row. */
            for (oc = 0; oc < od[3]; oc += TK_F32_LANES) {
                tk_weights_f32 block = tk_f32_block(filter, oc, od[3], block_size);
                int32_t lanes = od[3] - oc < TK_F32_LANES ? od[3] - oc : TK_F32_LANES;
                for (ox = 0; ox < od[2]; ox += pixels) {
                    pixels = pixel_sums(&win, in, &block, fd, od[2] - ox, ox, stride_w, pad_left,
                                        dilation_w, sums);
                    for (p = 0; p < pixels; ++p) {
                        float *out = row + (size_t)(ox + p) * (size_t)od[3] + (size_t)oc;
                        for (j = 0; j < lanes; ++j) {
                            float total = bias ? sums[p][j] + bias[oc + j] : sums[p][j];
                            out[j] = tk_clamp_f32(total, act_min, act_max);
                        }
                    }
                }
            }
        }
    }
    return TK_OK;
}

int tk_conv2d_f32(const float *input, const int32_t *input_dims,
                  const float *filter, const int32_t *filter_dims, const float *bias,
                  float *output, const int32_t *output_dims,
                  int stride_h, int stride_w, int dilation_h, int dilation_w,
                  int pad_top, int pad_left, float act_min, float act_max)
{
    tk_weights_f32 packed = {filter, NULL, NULL, NULL, NULL, 0, 0, 0, 0};
    return tk_conv2d_lut_f32(input, input_dims, &packed, filter_dims, bias, output, output_dims,
                             stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left,
                             act_min, act_max);
}
