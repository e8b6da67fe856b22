/* int8 DEPTHWISE_CONV_2D in NHWC, filter 1HW(C*M) as in the model, after LiteRT's
 * DepthwiseConvPerChannel as toco_py/ops/int8/conv.py computes it: output channel oc reads
 * input channel oc / M (M = output channels / input channels), sums filter * (input -
 * input_zero) over the taps inside the image, adds its bias, and requantizes. Taps outside
 * the image are skipped (the numpy kernel's zero-point padding adds filter * 0 there).
 *
 * The sums wrap modulo 2^32 (all that the requantization reads of them). With M = 1 the
 * channels of a pixel are contiguous in input, filter and output: blocks of TK_S8_LANES of
 * them sum side by side in a loop the compiler vectorizes; the other channels (M > 1, or
 * the last few) sum one at a time, as do all the channels of a clustered filter (the
 * *_lut_s8 kernel: each weight decoded from its packed index as it is read, tk_weight_s8).
 * The taps inside the image are worked out once per output row and pixel. On a core with
 * the DSP extension (TK_DSP) the blocks sum four channels at a time with SMLABB / SMLATT,
 * with Helium (TK_MVE) sixteen in vectors; on an x86-64 host with AVX2 (TK_X86) two taps of
 * sixteen at a time, and requantize together (x86_block). */
#include "toco_kernels.h"
#include "toco_kernels_x86.h" /* the blocks with AVX2 on x86-64 hosts */

/* One output pixel's window: where it starts in the batch's image and its taps inside. */
struct window {
    const int8_t *image;
    int32_t y, x;                     /* input coordinates of tap (0, 0) */
    int32_t ky0, ky1, kx0, kx1;       /* the taps inside: [ky0, ky1) x [kx0, kx1) */
    int dilation_h, dilation_w;
    int32_t input_zero;
};

static const int8_t *window_pixel(const struct window *win, const int32_t *in, int32_t ky,
                                  int32_t kx)
{
    size_t iy = (size_t)(win->y + ky * win->dilation_h);
    size_t ix = (size_t)(win->x + kx * win->dilation_w);
    return win->image + (iy * (size_t)in[2] + ix) * (size_t)in[3];
}

#if TK_DSP && !TK_MVE
/* Channels [c, c + count) when M = 1, count a multiple of 4, on a core with the DSP extension:
 * four channels at a time with SMLABB / SMLATT (toco_kernels_dsp.h), their sums held in
 * registers over the window. */
static void dsp_sums(const struct window *win, const int32_t *in, const int8_t *filter, const int32_t *fd, int32_t c,
                     int32_t count, uint32_t *sums)
{
    uint32_t zeros = tk_dsp_zeros(win->input_zero);
    size_t column = (size_t)win->dilation_w * (size_t)in[3], tap = (size_t)fd[3];
    int32_t ky, j;
    for (j = 0; j < count; j += 4) {
        int32_t four[4] = {0, 0, 0, 0};
        for (ky = win->ky0; ky < win->ky1; ++ky) {
            const int8_t *pixel = window_pixel(win, in, ky, win->kx0) + c + j;
            const int8_t *taps = filter + (size_t)(ky * fd[2] + win->kx0) * tap + (size_t)(c + j);
            const int8_t *row_end = taps + (size_t)(win->kx1 - win->kx0) * tap;
            for (; taps != row_end; pixel += column, taps += tap) { /* no counter: fewer registers */
                tk_dsp_depthwise4(pixel, taps, zeros, four);
            }
        }
        sums[j] = (uint32_t)four[0];
        sums[j + 1] = (uint32_t)four[1];
        sums[j + 2] = (uint32_t)four[2];
        sums[j + 3] = (uint32_t)four[3];
    }
}
#endif

/* Channels [c, c + TK_S8_LANES) when M = 1. */
static void block_sums(const struct window *win, const int32_t *in, const int8_t *filter,
                       const int32_t *fd, int32_t c, uint32_t *sums)
{
    uint32_t acc[TK_S8_LANES];
    int32_t ky, kx, j;
#if TK_MVE
    /* Helium: the 16 channels' sums in four int32x4 vectors over the window, inputs and
     * weights loaded widened to int32 (VLDRB.S32). */
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
    for (ky = win->ky0; ky < win->ky1; ++ky) {
        for (kx = win->kx0; kx < win->kx1; ++kx) {
            const int8_t *pixel = window_pixel(win, in, ky, kx) + c;
            const int8_t *taps = filter + (size_t)(ky * fd[2] + kx) * (size_t)fd[3] + (size_t)c;
            a0 = vaddq_s32(a0, vmulq_s32(vsubq_n_s32(vldrbq_s32(pixel), win->input_zero), vldrbq_s32(taps)));
            a1 = vaddq_s32(a1, vmulq_s32(vsubq_n_s32(vldrbq_s32(pixel + 4), win->input_zero), vldrbq_s32(taps + 4)));
            a2 = vaddq_s32(a2, vmulq_s32(vsubq_n_s32(vldrbq_s32(pixel + 8), win->input_zero), vldrbq_s32(taps + 8)));
            a3 = vaddq_s32(a3, vmulq_s32(vsubq_n_s32(vldrbq_s32(pixel + 12), win->input_zero), vldrbq_s32(taps + 12)));
        }
    }
    vst1q_u32(sums, vreinterpretq_u32_s32(a0));
    vst1q_u32(sums + 4, vreinterpretq_u32_s32(a1));
    vst1q_u32(sums + 8, vreinterpretq_u32_s32(a2));
    vst1q_u32(sums + 12, vreinterpretq_u32_s32(a3));
    (void)acc;
    (void)j;
    return;
#elif TK_DSP
    dsp_sums(win, in, filter, fd, c, TK_S8_LANES, sums);
    return;
#endif
    for (j = 0; j < TK_S8_LANES; ++j) {
        acc[j] = 0;
    }
    for (ky = win->ky0; ky < win->ky1; ++ky) {
        for (kx = win->kx0; kx < win->kx1; ++kx) {
            const int8_t *pixel = window_pixel(win, in, ky, kx) + c;
            const int8_t *taps = filter + (size_t)(ky * fd[2] + kx) * (size_t)fd[3] + (size_t)c;
            for (j = 0; j < TK_S8_LANES; ++j) {
                /* |(input - zero) * filter| <= 255 * 128: exact in 16 bits. */
                acc[j] += (uint32_t)(int32_t)(int16_t)((pixel[j] - win->input_zero) * taps[j]);
            }
        }
    }
    for (j = 0; j < TK_S8_LANES; ++j) {
        sums[j] = acc[j];
    }
}

/* Output channel oc, which reads input channel ic. */
static uint32_t channel_sum(const struct window *win, const int32_t *in,
                            const tk_weights_s8 *filter, const int32_t *fd, int32_t oc, int32_t ic)
{
    uint32_t total = 0;
    int32_t ky, kx;
    for (ky = win->ky0; ky < win->ky1; ++ky) {
        for (kx = win->kx0; kx < win->kx1; ++kx) {
            int32_t v = window_pixel(win, in, ky, kx)[ic] - win->input_zero;
            size_t at = (size_t)(ky * fd[2] + kx) * (size_t)fd[3] + (size_t)oc;
            total += (uint32_t)(v * tk_weight_s8(filter, at, oc));
        }
    }
    return total;
}

/* What every channel of the op shares after its sum. */
struct requantization {
    const int32_t *bias, *multipliers;
    const int8_t *shifts;
    int32_t output_zero, act_min, act_max;
    int avx2; /* the blocks take x86_block (TK_X86: the CPU has AVX2, the parameters fit) */
};

static int8_t finish(uint32_t sum, const struct requantization *q, int32_t oc)
{
    uint32_t acc = sum + (q->bias ? (uint32_t)q->bias[oc] : 0u);
    return tk_conv_requantize(acc, q->multipliers[oc], q->shifts[oc], q->output_zero,
                             q->act_min, q->act_max);
}

#if TK_X86
/* Adds two taps of 16 channels to the sums of channels 0-7 and 8-15: their (input - zero)
 * values and weights interleaved, one VPMADDWD per 8 channels. */
static inline TK_X86_AVX2 void x86_two_taps(__m128i x0, __m128i x1, __m128i w0, __m128i w1, __m256i zero_point,
                                            __m256i *low, __m256i *high)
{
    *low = _mm256_add_epi32(*low, _mm256_madd_epi16(
        _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_unpacklo_epi8(x0, x1)), zero_point),
        _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(w0, w1))));
    *high = _mm256_add_epi32(*high, _mm256_madd_epi16(
        _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_unpackhi_epi8(x0, x1)), zero_point),
        _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(w0, w1))));
}

/* block_sums and the block's requantization with AVX2, two taps at a time (an odd last tap
 * pairs with weights of 0). */
static TK_X86_AVX2 void x86_block(const struct window *win, const int32_t *in, const int8_t *filter,
                                  const int32_t *fd, int32_t c, const struct requantization *q, int8_t *out)
{
    const __m256i zero_point = _mm256_set1_epi16((short)win->input_zero);
    const __m128i none = _mm_setzero_si128();
    __m256i low = _mm256_setzero_si256(), high = _mm256_setzero_si256();
    __m128i held_x = none, held_w = none;
    struct tk_x86_requant params[2];
    int held = 0;
    int32_t ky, kx;
    for (ky = win->ky0; ky < win->ky1; ++ky) {
        for (kx = win->kx0; kx < win->kx1; ++kx) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(window_pixel(win, in, ky, kx) + c));
            __m128i w = _mm_loadu_si128((const __m128i *)(const void *)(filter + (size_t)(ky * fd[2] + kx)
                                                                        * (size_t)fd[3] + (size_t)c));
            if (held) {
                x86_two_taps(held_x, x, held_w, w, zero_point, &low, &high);
            } else {
                held_x = x;
                held_w = w;
            }
            held = !held;
        }
    }
    if (held) {
        x86_two_taps(held_x, none, held_w, none, zero_point, &low, &high);
    }
    if (q->bias) {
        low = _mm256_add_epi32(low, tk_x86_load8(q->bias + c));
        high = _mm256_add_epi32(high, tk_x86_load8(q->bias + c + 8));
    }
    params[0] = tk_x86_params(tk_x86_load8(q->multipliers + c), tk_x86_widen8(q->shifts + c));
    params[1] = tk_x86_params(tk_x86_load8(q->multipliers + c + 8), tk_x86_widen8(q->shifts + c + 8));
    tk_x86_requantize16(low, high, params, _mm256_set1_epi32(q->output_zero), _mm256_set1_epi32(q->act_min),
                        _mm256_set1_epi32(q->act_max), out + c);
}
#endif

/* Every output channel of one pixel. */
static void pixel_channels(const struct window *win, const int32_t *in,
                           const tk_weights_s8 *filter, const int32_t *fd,
                           const struct requantization *q, int8_t *out, int32_t channels)
{
    int32_t multiplier = channels / in[3];
    int32_t oc = 0, j;
#if TK_X86
    if (multiplier == 1 && filter->plain && q->avx2) {
        for (; oc + TK_S8_LANES <= channels; oc += TK_S8_LANES) {
            x86_block(win, in, filter->plain, fd, oc, q, out);
        }
    }
#endif
    if (multiplier == 1 && filter->plain) {
        for (; oc + TK_S8_LANES <= channels; oc += TK_S8_LANES) {
            uint32_t sums[TK_S8_LANES];
            const int32_t *multipliers = q->multipliers + oc, *bias = q->bias ? q->bias + oc : NULL;
            const int8_t *shifts = q->shifts + oc;
            int32_t zero = q->output_zero, lo = q->act_min, hi = q->act_max;
            block_sums(win, in, filter->plain, fd, oc, sums);
            /* finish() inline, the requantization's parameters held across the block */
            for (j = 0; j < TK_S8_LANES; ++j) {
                uint32_t acc = sums[j] + (bias ? (uint32_t)bias[j] : 0u);
                out[oc + j] = tk_conv_requantize(acc, multipliers[j], shifts[j], zero, lo, hi);
            }
        }
    }
#if TK_DSP && !TK_MVE
    if (multiplier == 1 && filter->plain) { /* the last channels, four at a time */
        for (; oc + 4 <= channels; oc += 4) {
            uint32_t sums[4];
            dsp_sums(win, in, filter->plain, fd, oc, 4, sums);
            for (j = 0; j < 4; ++j) {
                out[oc + j] = finish(sums[j], q, oc + j);
            }
        }
    }
#endif
    for (; oc < channels; ++oc) {
        out[oc] = finish(channel_sum(win, in, filter, fd, oc, oc / multiplier), q, oc);
    }
}

int tk_depthwise_conv2d_lut_s8(const int8_t *input, const int32_t *input_dims,
                               int32_t input_zero, const tk_weights_s8 *filter,
                               const int32_t *filter_dims, const int32_t *bias, int8_t *output,
                               const int32_t *output_dims, const int32_t *output_steps, int stride_h, int stride_w,
                               int dilation_h, int dilation_w, int pad_top, int pad_left,
                               const int32_t *multipliers, const int8_t *shifts,
                               int32_t output_zero, int32_t act_min, int32_t act_max)
{
    const int32_t *in = input_dims, *fd = filter_dims, *od = output_dims;
    struct requantization q;
    struct window win;
    int32_t b, oy, ox;
    size_t at = 0; /* the output pixel */
    q.bias = bias;
    q.multipliers = multipliers;
    q.shifts = shifts;
    q.output_zero = output_zero;
    q.act_min = act_min;
    q.act_max = act_max;
#if TK_X86
    q.avx2 = tk_x86_params_fit(multipliers, shifts, od[3]) && tk_x86_has_avx2();
#else
    q.avx2 = 0;
#endif
    win.dilation_h = dilation_h;
    win.dilation_w = dilation_w;
    win.input_zero = input_zero;
    for (b = 0; b < od[0]; ++b) {
        win.image = input + (size_t)b * (size_t)in[1] * (size_t)in[2] * (size_t)in[3];
        for (oy = 0; oy < od[1]; ++oy) {
            win.y = oy * stride_h - pad_top;
            tk_tap_range(win.y, dilation_h, fd[1], in[1], &win.ky0, &win.ky1);
            for (ox = 0; ox < od[2]; ++ox) {
                win.x = ox * stride_w - pad_left;
                tk_tap_range(win.x, dilation_w, fd[2], in[2], &win.kx0, &win.kx1);
                pixel_channels(&win, in, filter, fd, &q, tk_s8a_pixel(output, od, output_steps, at++), od[3]);
            }
        }
    }
    return TK_OK;
}

int tk_depthwise_conv2d_s8(const int8_t *input, const int32_t *input_dims, int32_t input_zero,
                           const int8_t *filter, const int32_t *filter_dims, const int32_t *bias,
                           int8_t *output, const int32_t *output_dims, const int32_t *output_steps, int stride_h,
                           int stride_w, int dilation_h, int dilation_w, int pad_top,
                           int pad_left, const int32_t *multipliers, const int8_t *shifts,
                           int32_t output_zero, int32_t act_min, int32_t act_max)
{
    tk_weights_s8 plain = {filter, NULL, NULL, NULL, NULL, 0, 0, 0, 0};
    return tk_depthwise_conv2d_lut_s8(input, input_dims, input_zero, &plain, filter_dims, bias,
                                      output, output_dims, output_steps, stride_h, stride_w, dilation_h,
                                      dilation_w, pad_top, pad_left, multipliers, shifts,
                                      output_zero, act_min, act_max);
}
