/* The int8 1x1 convolution on x86-64 with AVX2 (host bundles): a 1x1 CONV_2D is a matrix
 * product, pixels by input channels times input channels by output channels, which the
 * portable loops (one input value times a block's 16 weights at a time) leave to SSE2.
 * Here four output pixels and a block of 16 output channels sum together: each pair of
 * taps is one VPMADDWD per 8 channels and pixel (the int16 (input - zero) pair broadcast,
 * the two taps' weights interleaved), the requantization 8 channels at a time in 32-bit
 * lanes (tk_x86_requantize8, gemmlowp's two roundings as tk_s8a_requantize computes them).
 * Sums modulo 2^32 in another order: bit-exact with the portable kernel.
 *
 * GNU C (gcc, clang) on x86-64 only; the CPU is asked once whether it has AVX2, as LiteRT's
 * kernels dispatch, so the bundle still runs on one without (through the portable loops).
 * -DTK_PORTABLE turns the path off, to compare. */
#ifndef TOCO_KERNELS_X86_H
#define TOCO_KERNELS_X86_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(TK_PORTABLE)
#define TK_X86 1
#include <immintrin.h>
#include <string.h>

#define TK_X86_AVX2 __attribute__((target("avx2")))
/* Input channels staged as int16 for four pixels on the stack: 16 KB at most. */
#define TK_X86_MAX_DEPTH 2048
#define TK_X86_PIXELS 4

static inline int tk_x86_has_avx2(void)
{
    static int known = -1; /* a benign race: every caller stores the same answer */
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") != 0;
    }
    return known;
}

/* tk_s8a_requantize on 8 lanes: acc << left (wrapping), the high half of 2 * x * m rounded
 * (saturating only x = m = INT32_MIN), the rounding shift right (remainder against
 * threshold, exact in 32 bits), plus the zero point (wrapping), clamped. Shifts in
 * [-31, 31] (tk_x86_shifts_fit). */
TK_X86_AVX2 static inline __m256i tk_x86_requantize8(__m256i acc, __m256i multiplier, __m256i shift,
                                                      __m256i zero, __m256i low, __m256i high)
{
    const __m256i none = _mm256_setzero_si256(), one = _mm256_set1_epi32(1);
    const __m256i half = _mm256_set1_epi64x((long long)1 << 30), min = _mm256_set1_epi32(INT32_MIN);
    __m256i left = _mm256_max_epi32(shift, none), right = _mm256_max_epi32(_mm256_sub_epi32(none, shift), none);
    __m256i x = _mm256_sllv_epi32(acc, left);
    /* Even lanes, then odd ones moved down: 64-bit products; bits 31..62 of each sum are the
     * low 32 bits of its arithmetic shift right by 31. */
    __m256i even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, multiplier), half), 31);
    __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(multiplier, 32)),
                                   half);
    __m256i product = _mm256_blend_epi32(even, _mm256_slli_epi64(_mm256_srli_epi64(odd, 31), 32), 0xAA);
    __m256i saturated = _mm256_and_si256(_mm256_cmpeq_epi32(x, min), _mm256_cmpeq_epi32(multiplier, min));
    __m256i mask, remainder, threshold, result;
    product = _mm256_blendv_epi8(product, _mm256_set1_epi32(INT32_MAX), saturated);
    mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, right), one);
    remainder = _mm256_and_si256(product, mask);
    threshold = _mm256_sub_epi32(_mm256_srai_epi32(mask, 1), _mm256_srai_epi32(product, 31));
    result = _mm256_sub_epi32(_mm256_srav_epi32(product, right), _mm256_cmpgt_epi32(remainder, threshold));
    result = _mm256_add_epi32(result, zero);
    return _mm256_min_epi32(_mm256_max_epi32(result, low), high);
}

/* Whether every channel's shift is one tk_x86_requantize8 takes. */
static inline int tk_x86_shifts_fit(const int8_t *shifts, int32_t channels)
{
    int32_t c;
    for (c = 0; c < channels; ++c) {
        if (shifts[c] < -31 || shifts[c] > 31) {
            return 0;
        }
    }
    return 1;
}

/* The 16 lanes' sums of one block over the taps for TK_X86_PIXELS pixels: staged holds each
 * pixel's taps as int16 (input - zero), `depth` of them padded to even with a 0, `stride`
 * apart; filter holds the block's taps, 16 weights each. sums[p][0..1] are pixel p's lanes
 * 0-7 and 8-15. */
TK_X86_AVX2 static inline void tk_x86_block_sums(const int16_t *staged, size_t stride, const int8_t *filter,
                                                 size_t depth, __m256i sums[TK_X86_PIXELS][2])
{
    size_t t;
    int p;
    for (p = 0; p < TK_X86_PIXELS; ++p) {
        sums[p][0] = sums[p][1] = _mm256_setzero_si256();
    }
    for (t = 0; t < depth; t += 2) {
        __m128i first = _mm_loadu_si128((const __m128i *)(const void *)(filter + t * 16));
        __m128i second = t + 1 < depth ? _mm_loadu_si128((const __m128i *)(const void *)(filter + (t + 1) * 16))
                                       : _mm_setzero_si128();
        __m256i low = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(first, second));
        __m256i high = _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(first, second));
        for (p = 0; p < TK_X86_PIXELS; ++p) {
            int32_t pair;
            __m256i x;
            memcpy(&pair, staged + (size_t)p * stride + t, sizeof pair);
            x = _mm256_set1_epi32(pair);
            sums[p][0] = _mm256_add_epi32(sums[p][0], _mm256_madd_epi16(low, x));
            sums[p][1] = _mm256_add_epi32(sums[p][1], _mm256_madd_epi16(high, x));
        }
    }
}

/* tk_conv2d_s8 for a 1x1 filter without padding (any strides), filter packed in blocks of
 * 16 output channels; depth <= TK_X86_MAX_DEPTH and shifts that fit. */
TK_X86_AVX2 static void tk_x86_conv1x1_s8(const int8_t *input, const int32_t *in, int32_t input_zero,
                                          const int8_t *filter, const int32_t *bias, int8_t *output,
                                          const int32_t *od, int stride_h, int stride_w,
                                          const int32_t *multipliers, const int8_t *shifts, int32_t output_zero,
                                          int32_t act_min, int32_t act_max)
{
    int16_t staged[TK_X86_PIXELS][TK_X86_MAX_DEPTH];
    const size_t depth = (size_t)in[3], pixels = (size_t)od[0] * (size_t)od[1] * (size_t)od[2];
    const __m256i zero = _mm256_set1_epi32(output_zero), low = _mm256_set1_epi32(act_min);
    const __m256i high = _mm256_set1_epi32(act_max);
    size_t first, t;
    int p;
    memset(staged, 0, sizeof staged);
    for (first = 0; first < pixels; first += TK_X86_PIXELS) {
        int count = pixels - first < TK_X86_PIXELS ? (int)(pixels - first) : TK_X86_PIXELS;
        int32_t oc;
        for (p = 0; p < count; ++p) {
            size_t at = first + (size_t)p, ox = at % (size_t)od[2], rest = at / (size_t)od[2];
            size_t oy = rest % (size_t)od[1], b = rest / (size_t)od[1];
            const int8_t *pixel = input + ((b * (size_t)in[1] + oy * (size_t)stride_h) * (size_t)in[2]
                                           + ox * (size_t)stride_w) * depth;
            for (t = 0; t < depth; ++t) {
                staged[p][t] = (int16_t)(pixel[t] - input_zero);
            }
        }
        for (oc = 0; oc < od[3]; oc += 16) {
            __m256i sums[TK_X86_PIXELS][2];
            int lanes = od[3] - oc < 16 ? od[3] - oc : 16, half;
            tk_x86_block_sums(&staged[0][0], TK_X86_MAX_DEPTH, filter + (size_t)oc * depth, depth, sums);
            for (half = 0; half < 2 && half * 8 < lanes; ++half) {
                __m256i b, m, s;
                int32_t c0 = oc + half * 8, j;
                if (c0 + 8 <= od[3]) {
                    b = bias ? _mm256_loadu_si256((const __m256i *)(const void *)(bias + c0)) : _mm256_setzero_si256();
                    m = _mm256_loadu_si256((const __m256i *)(const void *)(multipliers + c0));
                    s = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(shifts + c0)));
                } else { /* the last channels: the lanes past them repeat the last one, unwritten */
                    int32_t channel[8], multiplier[8], shift[8];
                    for (j = 0; j < 8; ++j) {
                        int32_t c = c0 + j < od[3] ? c0 + j : od[3] - 1;
                        channel[j] = bias ? bias[c] : 0;
                        multiplier[j] = multipliers[c];
                        shift[j] = shifts[c];
                    }
                    b = _mm256_loadu_si256((const __m256i *)(const void *)channel);
                    m = _mm256_loadu_si256((const __m256i *)(const void *)multiplier);
                    s = _mm256_loadu_si256((const __m256i *)(const void *)shift);
                }
                for (p = 0; p < count; ++p) {
                    int32_t result[8];
                    __m256i acc = _mm256_add_epi32(sums[p][half], b);
                    int8_t *out = output + (first + (size_t)p) * (size_t)od[3] + (size_t)oc + (size_t)half * 8;
                    _mm256_storeu_si256((__m256i *)(void *)result,
                                        tk_x86_requantize8(acc, m, s, zero, low, high));
                    for (j = 0; j < 8 && half * 8 + j < lanes; ++j) {
                        out[j] = (int8_t)result[j];
                    }
                }
            }
        }
    }
}

#else
#define TK_X86 0
#endif

#endif
