/* int8 CONV_2D in NHWC with a packed filter (see toco_kernels_s8a.h), after LiteRT's
 * ConvPerChannel as toco_py/ops/int8/conv.py computes it: each output channel sums
 * filter * (input - input_zero) over the taps inside the image, adds its bias, and
 * requantizes. Taps outside the image are skipped: the numpy kernel pads with the input
 * zero point instead, which adds filter * 0, the same.
 *
 * The sums wrap modulo 2^32 (all that the requantization reads of them), so they may add
 * in any order: the channels of a block sum side by side in 32-bit lanes, which the
 * compiler vectorizes, and the input's zero point is taken off once per input value. The
 * taps inside the image are worked out once per output row and pixel.
 *
 * A filter stored as it is sums as a matrix product of staged windows on a core with the
 * DSP extension (TK_DSP: dsp_conv, SMLAD), with Helium (TK_MVE: dsp_block_sums) and on an
 * x86-64 host with AVX2 (TK_X86: x86_conv, conv_x86_s8.h).
 *
 * tk_conv2d_lut_s8 runs the same loops on a clustered filter whose indices are packed in the
 * same blocks: the TK_S8_LANES weights of each tap are decoded from their indices and tables
 * as the tap is read (tk_s8_block_taps), into 16 bytes of stack, never a copy of the filter. */
#include "toco_kernels.h"
#include "conv_x86_s8.h" /* the convolution with AVX2 on x86-64 hosts */

/* One output pixel's window: where it starts in the batch's image and its taps inside. */
struct window {
    const int8_t *image;
    int32_t y, x;                     /* input coordinates of tap (0, 0) */
    int32_t ky0, ky1, kx0, kx1;       /* the taps inside: [ky0, ky1) x [kx0, kx1) */
    int dilation_h, dilation_w;
    int32_t input_zero;
};

#if TK_MVE
/* block_sums on a core with Helium (M55), for a filter stored as it is: the whole
 * window staged as int16 in the filter's tap order, TK_DSP_CHUNK taps at a time, each chunk
 * summed over the block's channels in Helium vectors (tk_dsp_block_taps). A tap outside the
 * image stages 0, whose products add nothing, so that the taps stay one contiguous run. */
static void dsp_block_sums(const struct window *win, const int32_t *in, const int8_t *filter,
                           const int32_t *fd, uint32_t *sums)
{
    int16_t x[TK_DSP_CHUNK];
    int32_t acc[TK_S8_LANES];
    int32_t ky, kx, ic, j;
    size_t staged = 0;
    const int8_t *chunk = filter;
    for (j = 0; j < TK_S8_LANES; ++j) {
        acc[j] = 0;
    }
    for (ky = 0; ky < fd[1]; ++ky) {
        int32_t iy = win->y + ky * win->dilation_h;
        for (kx = 0; kx < fd[2]; ++kx) {
            int32_t ix = win->x + kx * win->dilation_w;
            int inside = ky >= win->ky0 && ky < win->ky1 && kx >= win->kx0 && kx < win->kx1;
            const int8_t *pixel = inside ? win->image + ((size_t)iy * (size_t)in[2] + (size_t)ix) * (size_t)in[3]
                                         : NULL;
            for (ic = 0; ic < fd[3];) {
                size_t count = TK_DSP_CHUNK - staged;
                count = count < (size_t)(fd[3] - ic) ? count : (size_t)(fd[3] - ic);
                if (inside) {
                    tk_dsp_stage(pixel + ic, count, win->input_zero, x + staged);
                } else {
                    memset(x + staged, 0, count * sizeof x[0]);
                }
                staged += count;
                ic += (int32_t)count;
                if (staged == TK_DSP_CHUNK) {
                    tk_dsp_block_taps(x, chunk, staged, acc);
                    chunk += staged * TK_S8_LANES;
                    staged = 0;
                }
            }
        }
    }
    if (staged) {
        tk_dsp_block_taps(x, chunk, staged, acc);
    }
    for (j = 0; j < TK_S8_LANES; ++j) {
        sums[j] = (uint32_t)acc[j];
    }
}
#endif

#if TK_DSP && !TK_MVE
/* On a core with the DSP extension (not Helium), a convolution with its filter stored as it
 * is: TK_DSP_PIXELS (4) output pixels' windows staged as int16 (input - zero; im2col),
 * TK_DSP_CHUNK taps at a time, and summed with each block of output channels by SMLAD on
 * pairs of taps (tk_dsp_pixels_taps): the filter's words serve the four pixels. */

/* Taps [start, start + count) of the window in the filter's order (ky, kx, channel), as int16
 * (input - zero), a tap outside the image as 0 (its products add nothing, as the portable
 * kernel's skipped taps). A row of the window inside the image is one run of the input. */
static void dsp_stage(const struct window *win, const int32_t *in, const int32_t *fd, size_t start, size_t count,
                      int16_t *to)
{
    const size_t channels = (size_t)fd[3], row_taps = (size_t)fd[2] * channels, end = start + count;
    const int whole_rows = win->dilation_w == 1 && win->x >= 0 && win->x + fd[2] <= in[2];
    size_t t = start;
    while (t < end) {
        int32_t ky = (int32_t)(t / row_taps), iy = win->y + ky * win->dilation_h;
        size_t first = t - (size_t)ky * row_taps, n = row_taps - first < end - t ? row_taps - first : end - t;
        const int8_t *row = NULL;
        size_t k;
        if (iy >= 0 && iy < in[1]) {
            row = win->image + (size_t)iy * (size_t)in[2] * channels;
        }
        if (!row) {
            memset(to, 0, n * sizeof *to);
        } else if (whole_rows) {
            tk_dsp_stage(row + (size_t)win->x * channels + first, n, win->input_zero, to);
        } else {
            for (k = first; k < first + n;) { /* tap by tap */
                int32_t kx = (int32_t)(k / channels), ix = win->x + kx * win->dilation_w;
                size_t ic = k - (size_t)kx * channels, m = channels - ic;
                m = m < first + n - k ? m : first + n - k;
                if (ix < 0 || ix >= in[2]) {
                    memset(to + (k - first), 0, m * sizeof *to);
                } else {
                    tk_dsp_stage(row + (size_t)ix * channels + ic, m, win->input_zero, to + (k - first));
                }
                k += m;
            }
        }
        to += n;
        t += n;
    }
}

static void dsp_conv(const int8_t *input, const int32_t *in, int32_t input_zero, const int8_t *filter,
                     const int32_t *fd, const int32_t *bias, int8_t *output, const int32_t *od, const int32_t *steps,
                     int stride_h, int stride_w, int dilation_h, int dilation_w, int pad_top, int pad_left,
                     const int32_t *multipliers, const int8_t *shifts, int32_t output_zero, int32_t act_min,
                     int32_t act_max)
{
    int16_t x[TK_DSP_PIXELS][TK_DSP_CHUNK];
    int32_t sums[TK_DSP_PIXELS][TK_S8_LANES];
    struct window win[TK_DSP_PIXELS];
    int8_t *out[TK_DSP_PIXELS];
    const size_t depth = (size_t)fd[1] * (size_t)fd[2] * (size_t)fd[3];
    const size_t pixels = (size_t)od[0] * (size_t)od[1] * (size_t)od[2];
    const int once = depth <= TK_DSP_CHUNK; /* each window staged once for all the blocks */
    size_t first, start;
    int p;
    memset(x, 0, sizeof x); /* the last group's missing pixels sum zeros, never written */
    for (first = 0; first < pixels; first += TK_DSP_PIXELS) {
        int count = pixels - first < TK_DSP_PIXELS ? (int)(pixels - first) : TK_DSP_PIXELS;
        int32_t oc, j;
        for (p = 0; p < count; ++p) {
            size_t at = first + (size_t)p, ox = at % (size_t)od[2], rest = at / (size_t)od[2];
            size_t oy = rest % (size_t)od[1], b = rest / (size_t)od[1];
            win[p].image = input + b * (size_t)in[1] * (size_t)in[2] * (size_t)in[3];
            win[p].y = (int32_t)oy * stride_h - pad_top;
            win[p].x = (int32_t)ox * stride_w - pad_left;
            win[p].dilation_h = dilation_h;
            win[p].dilation_w = dilation_w;
            win[p].input_zero = input_zero;
            out[p] = tk_s8a_pixel(output, od, steps, at);
            if (once) {
                dsp_stage(&win[p], in, fd, 0, depth, x[p]);
            }
        }
        for (oc = 0; oc < od[3]; oc += TK_S8_LANES) {
            int32_t lanes = od[3] - oc < TK_S8_LANES ? od[3] - oc : TK_S8_LANES;
            const int8_t *block = filter + (size_t)oc * depth;
            memset(sums, 0, sizeof sums);
            for (start = 0; start < depth; start += TK_DSP_CHUNK) {
                size_t taps = depth - start < TK_DSP_CHUNK ? depth - start : TK_DSP_CHUNK;
                for (p = 0; p < count && !once; ++p) {
                    dsp_stage(&win[p], in, fd, start, taps, x[p]);
                }
                tk_dsp_pixels_taps((const int16_t(*)[TK_DSP_CHUNK])x, block + start * TK_S8_LANES, taps, lanes, sums);
            }
            for (j = 0; j < lanes; ++j) { /* channel by channel: its parameters serve the pixels */
                tk_dsp_requantize_pixels((const int32_t(*)[TK_S8_LANES])sums, j, count,
                                         bias ? (uint32_t)bias[oc + j] : 0u, multipliers[oc + j], shifts[oc + j],
                                         output_zero, act_min, act_max, out, oc + j);
            }
        }
    }
}
#endif

/* The sums of one block of TK_S8_LANES output channels over the window, modulo 2^32. */
static void block_sums(const struct window *win, const int32_t *in, const tk_weights_s8 *block,
                       const int32_t *fd, uint32_t *sums)
{
    uint32_t acc[TK_S8_LANES];
    int8_t decoded[TK_S8_LANES];
    int32_t ky, kx, ic, j;
#if TK_MVE
    if (block->plain) {
        dsp_block_sums(win, in, block->plain, fd, sums);
        return;
    }
#endif
    for (j = 0; j < TK_S8_LANES; ++j) {
        acc[j] = 0;
    }
    for (ky = win->ky0; ky < win->ky1; ++ky) {
        int32_t iy = win->y + ky * win->dilation_h;
        for (kx = win->kx0; kx < win->kx1; ++kx) {
            int32_t ix = win->x + kx * win->dilation_w;
            const int8_t *pixel = win->image + ((size_t)iy * (size_t)in[2] + (size_t)ix) * (size_t)in[3];
            size_t taps = (size_t)(ky * fd[2] + kx) * (size_t)fd[3];
            for (ic = 0; ic < fd[3]; ++ic) {
                const int32_t v = pixel[ic] - win->input_zero;
                const int8_t *w = tk_s8_block_taps(block, taps + (size_t)ic, decoded);
                for (j = 0; j < TK_S8_LANES; ++j) {
                    /* |v * w| <= 255 * 128: the product is exact in 16 bits. */
                    acc[j] += (uint32_t)(int32_t)(int16_t)(v * w[j]);
                }
            }
        }
    }
    for (j = 0; j < TK_S8_LANES; ++j) {
        sums[j] = acc[j];
    }
}

/* The same for two output pixels side by side whose windows have the same taps inside (all
 * but the edges of a row), `step` input columns apart: each filter value loaded (and
 * widened) serves both. */
static void pair_sums(const struct window *win, int32_t step, const int32_t *in,
                      const tk_weights_s8 *block, const int32_t *fd, uint32_t *sums0,
                      uint32_t *sums1)
{
    uint32_t acc0[TK_S8_LANES], acc1[TK_S8_LANES];
    int8_t decoded[TK_S8_LANES];
    size_t apart = (size_t)step * (size_t)in[3];
    int32_t ky, kx, ic, j;
#if TK_MVE
    if (block->plain) {
        struct window next = *win;
        next.x += step;
        dsp_block_sums(win, in, block->plain, fd, sums0);
        dsp_block_sums(&next, in, block->plain, fd, sums1);
        return;
    }
#endif
    for (j = 0; j < TK_S8_LANES; ++j) {
        acc0[j] = 0;
        acc1[j] = 0;
    }
    for (ky = win->ky0; ky < win->ky1; ++ky) {
        int32_t iy = win->y + ky * win->dilation_h;
        for (kx = win->kx0; kx < win->kx1; ++kx) {
            int32_t ix = win->x + kx * win->dilation_w;
            const int8_t *pixel0 = win->image + ((size_t)iy * (size_t)in[2] + (size_t)ix) * (size_t)in[3];
            const int8_t *pixel1 = pixel0 + apart;
            size_t taps = (size_t)(ky * fd[2] + kx) * (size_t)fd[3];
            for (ic = 0; ic < fd[3]; ++ic) {
                const int32_t v0 = pixel0[ic] - win->input_zero, v1 = pixel1[ic] - win->input_zero;
                const int8_t *w = tk_s8_block_taps(block, taps + (size_t)ic, decoded);
                for (j = 0; j < TK_S8_LANES; ++j) {
                    acc0[j] += (uint32_t)(int32_t)(int16_t)(v0 * w[j]);
                }
                for (j = 0; j < TK_S8_LANES; ++j) {
                    acc1[j] += (uint32_t)(int32_t)(int16_t)(v1 * w[j]);
                }
            }
        }
    }
    for (j = 0; j < TK_S8_LANES; ++j) {
        sums0[j] = acc0[j];
        sums1[j] = acc1[j];
    }
}

/* The sums of output pixel ox and, when its window and the next one's have the same taps
 * inside, of pixel ox + 1 too (`left`: pixels left in the row). Returns how many. */
static int32_t pixel_sums(struct window *win, const int32_t *in, const tk_weights_s8 *block,
                          const int32_t *fd, int32_t left, int32_t ox, int stride_w,
                          int pad_left, uint32_t sums[2][TK_S8_LANES])
{
    int32_t kx0, kx1;
    win->x = ox * stride_w - pad_left;
    tk_tap_range(win->x, win->dilation_w, fd[2], in[2], &win->kx0, &win->kx1);
    tk_tap_range(win->x + stride_w, win->dilation_w, fd[2], in[2], &kx0, &kx1);
    if (left >= 2 && kx0 == win->kx0 && kx1 == win->kx1) {
        pair_sums(win, stride_w, in, block, fd, sums[0], sums[1]);
        return 2;
    }
    block_sums(win, in, block, fd, sums[0]);
    return 1;
}

int tk_conv2d_lut_s8(const int8_t *input, const int32_t *input_dims, int32_t input_zero,
                     const tk_weights_s8 *filter, const int32_t *filter_dims, const int32_t *bias,
                     int8_t *output, const int32_t *output_dims, const int32_t *output_steps, int stride_h,
                     int stride_w, int dilation_h, int dilation_w, int pad_top, int pad_left,
                     const int32_t *multipliers, const int8_t *shifts, int32_t output_zero,
                     int32_t act_min, int32_t act_max)
{
    const int32_t *in = input_dims, *fd = filter_dims, *od = output_dims;
    size_t block_size = (size_t)fd[1] * (size_t)fd[2] * (size_t)fd[3] * TK_S8_LANES;
    struct window win;
    uint32_t sums[2][TK_S8_LANES];
    int32_t b, oy, ox, oc, j, p, pixels;
#if TK_DSP && !TK_MVE
    if (filter->plain) {
        dsp_conv(input, in, input_zero, filter->plain, fd, bias, output, od, output_steps, stride_h, stride_w,
                 dilation_h, dilation_w, pad_top, pad_left, multipliers, shifts, output_zero, act_min, act_max);
        return TK_OK;
    }
#endif
#if TK_X86
    if (filter->plain && (size_t)fd[1] * (size_t)fd[2] * (size_t)fd[3] <= TK_X86_MAX_DEPTH
        && tk_x86_params_fit(multipliers, shifts, od[3]) && tk_x86_has_avx2()) {
        x86_conv(input, in, input_zero, filter->plain, fd, bias, output, od, output_steps, stride_h, stride_w,
                 dilation_h, dilation_w, pad_top, pad_left, multipliers, shifts, output_zero, act_min, act_max);
        return TK_OK;
    }
#endif
    win.dilation_h = dilation_h;
    win.dilation_w = dilation_w;
    win.input_zero = input_zero;
    for (b = 0; b < od[0]; ++b) {
        win.image = input + (size_t)b * (size_t)in[1] * (size_t)in[2] * (size_t)in[3];
        for (oy = 0; oy < od[1]; ++oy) {
            int8_t *row = tk_s8a_pixel(output, od, output_steps,
                                       ((size_t)b * (size_t)od[1] + (size_t)oy) * (size_t)od[2]);
            size_t step = output_steps ? (size_t)output_steps[1] : (size_t)od[3];
            win.y = oy * stride_h - pad_top;
            tk_tap_range(win.y, dilation_h, fd[1], in[1], &win.ky0, &win.ky1);
            /* Block by block, so that one block of the filter serves the whole row. */
            for (oc = 0; oc < od[3]; oc += TK_S8_LANES) {
                tk_weights_s8 block = tk_s8_block(filter, oc, od[3], block_size);
                int32_t lanes = od[3] - oc < TK_S8_LANES ? od[3] - oc : TK_S8_LANES;
                for (ox = 0; ox < od[2]; ox += pixels) {
                    pixels = pixel_sums(&win, in, &block, fd, od[2] - ox, ox, stride_w, pad_left,
                                        sums);
                    for (p = 0; p < pixels; ++p) {
                        int8_t *out = row + (size_t)(ox + p) * step + (size_t)oc;
                        for (j = 0; j < lanes; ++j) {
                            uint32_t acc = sums[p][j] + (bias ? (uint32_t)bias[oc + j] : 0u);
                            out[j] = tk_conv_requantize(acc, multipliers[oc + j], shifts[oc + j],
                                                       output_zero, act_min, act_max);
                        }
                    }
                }
            }
        }
    }
    return TK_OK;
}

int tk_conv2d_s8(const int8_t *input, const int32_t *input_dims, int32_t input_zero,
                 const int8_t *filter, const int32_t *filter_dims, const int32_t *bias,
                 int8_t *output, const int32_t *output_dims, const int32_t *output_steps, int stride_h,
                 int stride_w, int dilation_h, int dilation_w, int pad_top, int pad_left,
                 const int32_t *multipliers, const int8_t *shifts, int32_t output_zero,
                 int32_t act_min, int32_t act_max)
{
    tk_weights_s8 packed = {filter, NULL, NULL, NULL, NULL, 0, 0, 0, 0};
    return tk_conv2d_lut_s8(input, input_dims, input_zero, &packed, filter_dims, bias, output,
                            output_dims, output_steps, stride_h, stride_w, dilation_h, dilation_w, pad_top,
                            pad_left, multipliers, shifts, output_zero, act_min, act_max);
}
