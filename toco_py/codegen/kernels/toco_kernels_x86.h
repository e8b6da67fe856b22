/* What the int8 convolutions share on x86-64 hosts with AVX2 (conv_s8.c, depthwise_conv_s8.c):
 * the portable loops (one input value times a block's 16 weights at a time) leave them to
 * SSE2, while with AVX2 each pair of taps is one VPMADDWD per 8 channels, and the
 * requantization runs 8 channels at a time in 32-bit lanes (tk_x86_requantize8, gemmlowp's
 * two roundings as tk_s8a_requantize computes them). Sums modulo 2^32 in another order:
 * bit-exact with the portable kernels.
 *
 * GNU C (gcc, clang) on x86-64 only; the CPU is asked once whether it has AVX2, as LiteRT's
 * kernels dispatch, so the bundle still runs on one without (through the portable loops).
 * -DTK_PORTABLE turns the paths off, to compare. */
#ifndef TOCO_KERNELS_X86_H
#define TOCO_KERNELS_X86_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(TK_PORTABLE)
#define TK_X86 1
#include <immintrin.h>
#include <string.h>

#define TK_X86_AVX2 __attribute__((target("avx2")))

static inline int tk_x86_has_avx2(void)
{
    static int known = -1; /* a benign race: every caller stores the same answer */
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") != 0;
    }
    return known;
}

/* 8 channels' requantization parameters, worked out once for the pixels that share them:
 * the multiplier (and its odd lanes moved down, for the 64-bit products), the left and right
 * shifts, and the rounding shift's mask and half mask. */
struct tk_x86_requant {
    __m256i multiplier, odd_multiplier, left, right, mask, half_mask;
};

static inline TK_X86_AVX2 __m256i tk_x86_load8(const int32_t *values)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)values);
}

static inline TK_X86_AVX2 __m256i tk_x86_widen8(const int8_t *values)
{
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)values));
}

static inline TK_X86_AVX2 struct tk_x86_requant tk_x86_params(__m256i multiplier, __m256i shift)
{
    const __m256i none = _mm256_setzero_si256(), one = _mm256_set1_epi32(1);
    struct tk_x86_requant q;
    q.multiplier = multiplier;
    q.odd_multiplier = _mm256_srli_epi64(multiplier, 32);
    q.left = _mm256_max_epi32(shift, none);
    q.right = _mm256_max_epi32(_mm256_sub_epi32(none, shift), none);
    q.mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, q.right), one);
    q.half_mask = _mm256_srai_epi32(q.mask, 1);
    return q;
}

/* tk_s8a_requantize on 8 lanes: acc << left (wrapping), the high half of 2 * x * m rounded,
 * the rounding shift right (remainder against threshold, exact in 32 bits), plus the zero
 * point (wrapping), clamped. Shifts in [-31, 31] and no multiplier INT32_MIN, whose product
 * with x = INT32_MIN alone saturates (tk_x86_params_fit). */
static inline TK_X86_AVX2 __m256i tk_x86_requantize8(__m256i acc, const struct tk_x86_requant *q, __m256i zero,
                                                      __m256i low, __m256i high)
{
    const __m256i half = _mm256_set1_epi64x((long long)1 << 30);
    __m256i x = _mm256_sllv_epi32(acc, q->left);
    /* Even lanes, then odd ones moved down: 64-bit products; bits 31..62 of each sum are the
     * low 32 bits of its arithmetic shift right by 31. */
    __m256i even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, q->multiplier), half), 31);
    __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), q->odd_multiplier), half);
    __m256i product = _mm256_blend_epi32(even, _mm256_slli_epi64(_mm256_srli_epi64(odd, 31), 32), 0xAA);
    __m256i remainder = _mm256_and_si256(product, q->mask);
    __m256i threshold = _mm256_sub_epi32(q->half_mask, _mm256_srai_epi32(product, 31));
    __m256i result = _mm256_sub_epi32(_mm256_srav_epi32(product, q->right), _mm256_cmpgt_epi32(remainder, threshold));
    result = _mm256_add_epi32(result, zero);
    return _mm256_min_epi32(_mm256_max_epi32(result, low), high);
}

/* 16 channels' requantization: lanes 0-7 and 8-15 of the sums (bias added) with their
 * parameters, stored as 16 int8 values. */
static inline TK_X86_AVX2 void tk_x86_requantize16(__m256i low_sums, __m256i high_sums, const struct tk_x86_requant *q,
                                                   __m256i zero, __m256i low, __m256i high, int8_t *out)
{
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    __m256i first = tk_x86_requantize8(low_sums, &q[0], zero, low, high);
    __m256i second = tk_x86_requantize8(high_sums, &q[1], zero, low, high);
    /* In-lane packing gives dwords (0-3, 8-11, ..., 4-7, 12-15, ...): gathered in order. */
    __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(first, second), _mm256_setzero_si256());
    _mm_storeu_si128((__m128i *)(void *)out, _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(bytes, order)));
}

/* Whether every channel's multiplier and shift are ones tk_x86_requantize8 takes. */
static inline int tk_x86_params_fit(const int32_t *multipliers, const int8_t *shifts, int32_t channels)
{
    int32_t c;
    for (c = 0; c < channels; ++c) {
        if (shifts[c] < -31 || shifts[c] > 31 || multipliers[c] == INT32_MIN) {
            return 0;
        }
    }
    return 1;
}

#else
#define TK_X86 0
#endif

#endif
