/* int8 CONV_2D with AVX2 on x86-64 hosts (TK_X86): x86_conv, for conv_s8.c alone, which
 * includes this file. */
#ifndef CONV_X86_S8_H
#define CONV_X86_S8_H

#include "toco_kernels.h"
#include "toco_kernels_x86.h"

#if TK_X86
/* On an x86-64 host with AVX2 a convolution is a matrix product, output pixels by window taps
 * times taps by output channels: four pixels' windows staged as int16 (input - zero; im2col),
 * summed with a block of 16 output channels together, each pair of taps one VPMADDWD per 8
 * channels and pixel (the pair broadcast, the two taps' weights interleaved). */

/* Windows staged as int16 for four pixels on the stack: 18 KB, 3 x 3 x 256 taps at most. */
#define TK_X86_MAX_DEPTH 2304
#define TK_X86_PIXELS 4

/* One pixel's staged taps t and t + 1, broadcast as an int32 pair. */
static inline TK_X86_AVX2 __m256i x86_pair(const int16_t *taps)
{
    int32_t pair;
    memcpy(&pair, taps, sizeof pair);
    return _mm256_set1_epi32(pair);
}

/* A pixel's channels as int16 (input - zero), 16 at a time. */
static inline TK_X86_AVX2 void x86_stage(const int8_t *pixel, size_t channels, int32_t input_zero, int16_t *to)
{
    const __m256i zero = _mm256_set1_epi16((short)input_zero);
    size_t t = 0;
    for (; t + 16 <= channels; t += 16) {
        __m256i wide = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(pixel + t)));
        _mm256_storeu_si256((__m256i *)(void *)(to + t), _mm256_sub_epi16(wide, zero));
    }
    for (; t < channels; ++t) {
        to[t] = (int16_t)(pixel[t] - input_zero);
    }
}

/* The 16 lanes' sums of one block over the taps for TK_X86_PIXELS (4) pixels: staged holds
 * each pixel's taps as int16 (input - zero), `depth` of them padded to even with a 0, `stride`
 * apart; filter holds the block's taps, 16 weights each. sums[p][0..1] are pixel p's lanes
 * 0-7 and 8-15. The eight sums are named variables, which the compiler keeps in registers. */
static inline TK_X86_AVX2 void x86_block_sums(const int16_t *staged, size_t stride, const int8_t *filter,
                                           size_t depth, __m256i sums[TK_X86_PIXELS][2])
{
    __m256i s00 = _mm256_setzero_si256(), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00, s30 = s00;
    __m256i s31 = s00;
    size_t t;
    for (t = 0; t < depth; t += 2) {
        __m128i first = _mm_loadu_si128((const __m128i *)(const void *)(filter + t * 16));
        __m128i second = t + 1 < depth ? _mm_loadu_si128((const __m128i *)(const void *)(filter + t * 16 + 16))
                                       : _mm_setzero_si128();
        __m256i low = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(first, second));
        __m256i high = _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(first, second));
        __m256i x0 = x86_pair(staged + t), x1 = x86_pair(staged + stride + t);
        __m256i x2 = x86_pair(staged + 2 * stride + t), x3 = x86_pair(staged + 3 * stride + t);
        s00 = _mm256_add_epi32(s00, _mm256_madd_epi16(low, x0));
        s01 = _mm256_add_epi32(s01, _mm256_madd_epi16(high, x0));
        s10 = _mm256_add_epi32(s10, _mm256_madd_epi16(low, x1));
        s11 = _mm256_add_epi32(s11, _mm256_madd_epi16(high, x1));
        s20 = _mm256_add_epi32(s20, _mm256_madd_epi16(low, x2));
        s21 = _mm256_add_epi32(s21, _mm256_madd_epi16(high, x2));
        s30 = _mm256_add_epi32(s30, _mm256_madd_epi16(low, x3));
        s31 = _mm256_add_epi32(s31, _mm256_madd_epi16(high, x3));
    }
    sums[0][0] = s00;
    sums[0][1] = s01;
    sums[1][0] = s10;
    sums[1][1] = s11;
    sums[2][0] = s20;
    sums[2][1] = s21;
    sums[3][0] = s30;
    sums[3][1] = s31;
}

/* tk_conv2d_s8 with its filter packed in blocks of 16 output channels, window depth (taps)
 * at most TK_X86_MAX_DEPTH and requantization parameters that fit. Each pixel's window is
 * staged in the filter's tap order, a tap outside the image as 0 (whose products add
 * nothing, as the portable kernel's skipped taps). */
static TK_X86_AVX2 void x86_conv(const int8_t *input, const int32_t *in, int32_t input_zero,
                                 const int8_t *filter, const int32_t *fd, const int32_t *bias,
                                 int8_t *output, const int32_t *od, const int32_t *steps, int stride_h, int stride_w,
                                 int dilation_h, int dilation_w, int pad_top, int pad_left,
                                 const int32_t *multipliers, const int8_t *shifts, int32_t output_zero,
                                 int32_t act_min, int32_t act_max)
{
    int16_t staged[TK_X86_PIXELS][TK_X86_MAX_DEPTH];
    const size_t channels = (size_t)in[3], depth = (size_t)fd[1] * (size_t)fd[2] * channels;
    const size_t pixels = (size_t)od[0] * (size_t)od[1] * (size_t)od[2];
    const __m256i zero = _mm256_set1_epi32(output_zero), low = _mm256_set1_epi32(act_min);
    const __m256i high = _mm256_set1_epi32(act_max);
    size_t first;
    int p;
    memset(staged, 0, sizeof staged);
    for (first = 0; first < pixels; first += TK_X86_PIXELS) {
        int count = pixels - first < TK_X86_PIXELS ? (int)(pixels - first) : TK_X86_PIXELS;
        int32_t oc;
        for (p = 0; p < count; ++p) {
            size_t at = first + (size_t)p, ox = at % (size_t)od[2], rest = at / (size_t)od[2];
            size_t oy = rest % (size_t)od[1], b = rest / (size_t)od[1];
            const int8_t *image = input + b * (size_t)in[1] * (size_t)in[2] * channels;
            int16_t *to = staged[p];
            int32_t ky, kx;
            for (ky = 0; ky < fd[1]; ++ky) {
                int32_t iy = (int32_t)oy * stride_h - pad_top + ky * dilation_h;
                for (kx = 0; kx < fd[2]; ++kx, to += channels) {
                    int32_t ix = (int32_t)ox * stride_w - pad_left + kx * dilation_w;
                    const int8_t *pixel;
                    if (iy < 0 || iy >= in[1] || ix < 0 || ix >= in[2]) {
                        memset(to, 0, channels * sizeof *to);
                        continue;
                    }
                    pixel = image + ((size_t)iy * (size_t)in[2] + (size_t)ix) * channels;
                    x86_stage(pixel, channels, input_zero, to);
                }
            }
        }
        for (oc = 0; oc < od[3]; oc += 16) {
            __m256i sums[TK_X86_PIXELS][2];
            int lanes = od[3] - oc < 16 ? od[3] - oc : 16, half;
            x86_block_sums(&staged[0][0], TK_X86_MAX_DEPTH, filter + (size_t)oc * depth, depth, sums);
            if (lanes == 16) {
                struct tk_x86_requant q[2];
                __m256i b0 = _mm256_setzero_si256(), b1 = b0;
                if (bias) {
                    b0 = tk_x86_load8(bias + oc);
                    b1 = tk_x86_load8(bias + oc + 8);
                }
                q[0] = tk_x86_params(tk_x86_load8(multipliers + oc), tk_x86_widen8(shifts + oc));
                q[1] = tk_x86_params(tk_x86_load8(multipliers + oc + 8), tk_x86_widen8(shifts + oc + 8));
                for (p = 0; p < count; ++p) {
                    tk_x86_requantize16(_mm256_add_epi32(sums[p][0], b0), _mm256_add_epi32(sums[p][1], b1), q, zero,
                                        low, high, tk_s8a_pixel(output, od, steps, first + (size_t)p) + oc);
                }
                continue;
            }
            for (half = 0; half * 8 < lanes; ++half) { /* the last channels */
                /* lanes past the channels repeat the last one's parameters, and are not written */
                int32_t channel[8], multiplier[8], shift[8], j;
                struct tk_x86_requant q;
                __m256i b;
                for (j = 0; j < 8; ++j) {
                    int32_t c = oc + half * 8 + j < od[3] ? oc + half * 8 + j : od[3] - 1;
                    channel[j] = bias ? bias[c] : 0;
                    multiplier[j] = multipliers[c];
                    shift[j] = shifts[c];
                }
                b = tk_x86_load8(channel);
                q = tk_x86_params(tk_x86_load8(multiplier), tk_x86_load8(shift));
                for (p = 0; p < count; ++p) {
                    int32_t result[8];
                    __m256i acc = _mm256_add_epi32(sums[p][half], b);
                    int8_t *out = tk_s8a_pixel(output, od, steps, first + (size_t)p) + oc + half * 8;
                    _mm256_storeu_si256((__m256i *)(void *)result, tk_x86_requantize8(acc, &q, zero, low, high));
                    for (j = 0; j < 8 && half * 8 + j < lanes; ++j) {
                        out[j] = (int8_t)result[j];
                    }
                }
            }
        }
    }
}

#endif

#endif /* CONV_X86_S8_H */
