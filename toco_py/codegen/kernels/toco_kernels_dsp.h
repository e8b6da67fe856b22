/* The int8 sums of CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D on Arm cores with the DSP
 * extension (Cortex-M4, M7, M33 with DSP, M55: __ARM_FEATURE_DSP), with its 16 x 16-bit
 * multiply-accumulates through ACLE's arm_acle.h, the way CMSIS-NN computes them: four int8
 * weights per load, split into halfwords by SXTB16. CONV_2D sums four output pixels at a
 * time with SMLAD (two products per instruction): each pair of taps' weights, repacked
 * into (tap t, tap t + 1) halfword pairs by PKHBT / PKHTB, serves the four pixels'
 * staged windows (tk_dsp_pixels_taps). FULLY_CONNECTED (one row of inputs) and
 * DEPTHWISE_CONV_2D use SMLABB, SMLABT, SMLATB, SMLATT on the halfwords as they are. The
 * products are the portable loops' products and the sums are sums modulo 2^32 (exact for
 * FULLY_CONNECTED's chunks), which no order of adding changes: bit-exact with them. Elsewhere
 * (or compiled with -DTK_PORTABLE, to compare) TK_DSP is 0 and the kernels run their
 * portable loops. On a core with Helium (M55: __ARM_FEATURE_MVE, TK_MVE) the block sums
 * use its vectors instead. The convolutions requantize through tk_conv_requantize: on these
 * cores tk_s8a_requantize in one 64-bit multiply-accumulate. */
#ifndef TOCO_KERNELS_DSP_H
#define TOCO_KERNELS_DSP_H

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(TK_PORTABLE)
#define TK_DSP 1
#include <arm_acle.h>
#include <string.h>

/* Taps staged as int16 (input - zero point) per pass over a block's output channels. */
#define TK_DSP_CHUNK 64

static inline uint32_t tk_dsp_word(const void *bytes)
{
    uint32_t word;
    memcpy(&word, bytes, sizeof word); /* one LDR: the cores allow unaligned words */
    return word;
}

/* Bytes 1 and 3 of a word sign-extended into its halfwords: SXTB16 with its rotation, which
 * ACLE's __sxtb16 does not take. */
static inline int16x2_t tk_dsp_sxtb16_ror8(uint32_t word)
{
    int16x2_t out;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(out) : "r"(word));
    return out;
}

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define TK_MVE 1

/* tk_dsp_block_taps with Helium (M55): the 16 lanes' sums in four int32x4 vectors, each tap's
 * weights loaded widened to int32 (VLDRB.S32) and multiplied by x[t] (VMLA by scalar). */
static inline void tk_dsp_block_taps(const int16_t *x, const int8_t *w, size_t count, int32_t *acc)
{
    int32x4_t a0 = vld1q_s32(acc), a1 = vld1q_s32(acc + 4), a2 = vld1q_s32(acc + 8), a3 = vld1q_s32(acc + 12);
    size_t t;
    for (t = 0; t < count; ++t, w += 16) {
        int32_t v = x[t];
        a0 = vmlaq_n_s32(a0, vldrbq_s32(w), v);
        a1 = vmlaq_n_s32(a1, vldrbq_s32(w + 4), v);
        a2 = vmlaq_n_s32(a2, vldrbq_s32(w + 8), v);
        a3 = vmlaq_n_s32(a3, vldrbq_s32(w + 12), v);
    }
    vst1q_s32(acc, a0);
    vst1q_s32(acc + 4, a1);
    vst1q_s32(acc + 8, a2);
    vst1q_s32(acc + 12, a3);
}
#else
#define TK_MVE 0
/* acc[j] += sum over t < count of x[t] * w[16 t + j] for the 16 lanes j of a packed block
 * (toco_kernels_s8a.h: TK_S8_LANES weights per tap), |x[t]| <= 255: four lanes at a time,
 * their sums in registers; per pair of taps one load of (x[t], x[t + 1]), two of four
 * weights, four SXTB16 and eight 16 x 16 multiply-accumulates (SMLAxy: no repacking). */
static inline void tk_dsp_block_taps(const int16_t *x, const int8_t *w, size_t count, int32_t *acc)
{
    int32_t g;
    for (g = 0; g < 16; g += 4) {
        int32_t a0 = acc[g], a1 = acc[g + 1], a2 = acc[g + 2], a3 = acc[g + 3];
        const int8_t *lanes = w + g;
        size_t t = 0;
        for (; t + 2 <= count; t += 2, lanes += 32) {
            int32_t pair = (int32_t)tk_dsp_word(x + t);
            uint32_t first = tk_dsp_word(lanes), second = tk_dsp_word(lanes + 16);
            int16x2_t f02 = __sxtb16((int8x4_t)first), f13 = tk_dsp_sxtb16_ror8(first);
            int16x2_t s02 = __sxtb16((int8x4_t)second), s13 = tk_dsp_sxtb16_ror8(second);
            a0 = __smlabb(pair, f02, a0);
            a2 = __smlabt(pair, f02, a2);
            a1 = __smlabb(pair, f13, a1);
            a3 = __smlabt(pair, f13, a3);
            a0 = __smlatb(pair, s02, a0);
            a2 = __smlatt(pair, s02, a2);
            a1 = __smlatb(pair, s13, a1);
            a3 = __smlatt(pair, s13, a3);
        }
        if (t < count) { /* an odd last tap */
            int32_t single = x[t];
            uint32_t first = tk_dsp_word(lanes);
            int16x2_t f02 = __sxtb16((int8x4_t)first), f13 = tk_dsp_sxtb16_ror8(first);
            a0 = __smlabb(single, f02, a0);
            a2 = __smlabt(single, f02, a2);
            a1 = __smlabb(single, f13, a1);
            a3 = __smlabt(single, f13, a3);
        }
        acc[g] = a0;
        acc[g + 1] = a1;
        acc[g + 2] = a2;
        acc[g + 3] = a3;
    }
}
#endif

/* Halfwords of two registers: pkhbt gives (low of a, low of b), pkhtb (high of a, high of b). */
static inline int16x2_t tk_dsp_lows(int16x2_t a, int16x2_t b)
{
    int16x2_t out;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(out) : "r"(a), "r"(b));
    return out;
}

static inline int16x2_t tk_dsp_highs(int16x2_t a, int16x2_t b)
{
    int16x2_t out;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(out) : "r"(b), "r"(a));
    return out;
}

/* -zero in both halfwords, as tk_dsp_stage and tk_dsp_depthwise4 add it. */
static inline uint32_t tk_dsp_zeros(int32_t zero)
{
    uint32_t half = (uint32_t)(uint16_t)(int16_t)-zero;
    return half | (half << 16);
}

/* x[t] = input[t] - zero for t < count: the taps staged as int16, four per word load (SXTAB16
 * adds -zero to bytes 0 and 2, then 1 and 3; PKHBT / PKHTB put them back in order). */
static inline void tk_dsp_stage(const int8_t *input, size_t count, int32_t zero, int16_t *x)
{
    const uint32_t zeros = tk_dsp_zeros(zero);
    const int8_t *end = input + count, *words_end = input + (count & ~(size_t)3);
    while (input != words_end) {
        uint32_t in = tk_dsp_word(input);
        int16x2_t even = __sxtab16((int16x2_t)zeros, (int8x4_t)in), odd, first, second;
        __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(odd) : "r"(zeros), "r"(in));
        first = tk_dsp_lows(even, odd);
        second = tk_dsp_highs(even, odd);
        memcpy(x, &first, sizeof first);
        memcpy(x + 2, &second, sizeof second);
        input += 4;
        x += 4;
    }
    while (input != end) {
        *x++ = (int16_t)(*input++ - zero);
    }
}

#if !TK_MVE
/* Output pixels whose windows a convolution sums together, staged side by side. */
#define TK_DSP_PIXELS 4

/* The loop of tk_dsp_pixels_pass over pairs of taps: SXTB16 (ROTATE: "" for bytes 0 and 2
 * of each word, ", ror #8" for 1 and 3) of tap t's and tap t + 1's words, PKHBT / PKHTB into
 * the (tap t, tap t + 1) pair of each of the two lanes, then one SMLAD per lane and pixel.
 * Assembly, because the eight sums, three pointers and three temporaries need 14 of the core's
 * registers, and compiled C spills some of them on every pair (it loads ahead). */
#define TK_DSP_PIXELS_LOOP(ROTATE)                                                                  \
    __asm__("1:\n\t"                                                                                \
            "ldr %[u], [%[w], #16]\n\t"                                                             \
            "ldr %[v], [%[w]], #32\n\t"                                                             \
            "sxtb16 %[u], %[u]" ROTATE "\n\t"                                                       \
            "sxtb16 %[v], %[v]" ROTATE "\n\t"                                                       \
            "pkhbt %[p], %[v], %[u], lsl #16\n\t"                                                   \
            "pkhtb %[u], %[u], %[v], asr #16\n\t"                                                   \
            "ldr %[v], [%[x]], #4\n\t"                                                              \
            "smlad %[a0], %[v], %[p], %[a0]\n\t"                                                    \
            "smlad %[b0], %[v], %[u], %[b0]\n\t"                                                    \
            "ldr %[v], [%[x], %[x1]]\n\t"                                                           \
            "smlad %[a1], %[v], %[p], %[a1]\n\t"                                                    \
            "smlad %[b1], %[v], %[u], %[b1]\n\t"                                                    \
            "ldr %[v], [%[x], %[x2]]\n\t"                                                           \
            "smlad %[a2], %[v], %[p], %[a2]\n\t"                                                    \
            "smlad %[b2], %[v], %[u], %[b2]\n\t"                                                    \
            "ldr %[v], [%[x], %[x3]]\n\t"                                                           \
            "smlad %[a3], %[v], %[p], %[a3]\n\t"                                                    \
            "smlad %[b3], %[v], %[u], %[b3]\n\t"                                                    \
            "cmp %[x], %[end]\n\t"                                                                  \
            "bne 1b"                                                                                \
            : [a0] "+r"(a0), [b0] "+r"(b0), [a1] "+r"(a1), [b1] "+r"(b1), [a2] "+r"(a2),           \
              [b2] "+r"(b2), [a3] "+r"(a3), [b3] "+r"(b3), [w] "+r"(w), [x] "+r"(pair),              \
              [u] "=&r"(u), [v] "=&r"(v), [p] "=&r"(q)                                              \
            : [end] "r"(end), [x1] "I"(2 * TK_DSP_CHUNK - 4), [x2] "I"(4 * TK_DSP_CHUNK - 4),       \
              [x3] "I"(6 * TK_DSP_CHUNK - 4)                                                        \
            : "cc", "memory")

/* sums[p][lane] and sums[p][lane + 2] += the sum over t < count of x[p][t] * w[16 t] (and
 * w[16 t + 2]) for the TK_DSP_PIXELS pixels p, w at the lane's word of four (odd lanes: odd
 * set): per pair of taps 20 instructions for 16 products (TK_DSP_PIXELS_LOOP). */
static inline void tk_dsp_pixels_pass(const int16_t (*x)[TK_DSP_CHUNK], const int8_t *w, size_t count, int odd,
                                      int32_t lane, int32_t (*sums)[TK_S8_LANES])
{
    int32_t a0 = sums[0][lane], b0 = sums[0][lane + 2], a1 = sums[1][lane], b1 = sums[1][lane + 2];
    int32_t a2 = sums[2][lane], b2 = sums[2][lane + 2], a3 = sums[3][lane], b3 = sums[3][lane + 2];
    const int16_t *pair = x[0], *end = x[0] + (count & ~(size_t)1);
    uint32_t u, v, q;
    if (pair != end) {
        if (odd) {
            TK_DSP_PIXELS_LOOP(", ror #8");
        } else {
            TK_DSP_PIXELS_LOOP("");
        }
    }
    if (count & 1) { /* an odd last tap: the filter ends with it */
        uint32_t word = tk_dsp_word(w);
        int16x2_t first = odd ? tk_dsp_sxtb16_ror8(word) : __sxtb16((int8x4_t)word);
        a0 = __smlabb(pair[0], first, a0);
        b0 = __smlabt(pair[0], first, b0);
        a1 = __smlabb(pair[TK_DSP_CHUNK], first, a1);
        b1 = __smlabt(pair[TK_DSP_CHUNK], first, b1);
        a2 = __smlabb(pair[2 * TK_DSP_CHUNK], first, a2);
        b2 = __smlabt(pair[2 * TK_DSP_CHUNK], first, b2);
        a3 = __smlabb(pair[3 * TK_DSP_CHUNK], first, a3);
        b3 = __smlabt(pair[3 * TK_DSP_CHUNK], first, b3);
    }
    sums[0][lane] = a0;
    sums[0][lane + 2] = b0;
    sums[1][lane] = a1;
    sums[1][lane + 2] = b1;
    sums[2][lane] = a2;
    sums[2][lane + 2] = b2;
    sums[3][lane] = a3;
    sums[3][lane + 2] = b3;
}

/* sums[p][l] += the sum over t < count of x[p][t] * w[16 t + l] for the lanes l < lanes
 * (rounded up to four) of a packed block (TK_S8_LANES weights per tap), |x| <= 255. */
static inline void tk_dsp_pixels_taps(const int16_t (*x)[TK_DSP_CHUNK], const int8_t *w, size_t count,
                                      int32_t lanes, int32_t (*sums)[TK_S8_LANES])
{
    int32_t g;
    for (g = 0; g < lanes; g += 4) {
        tk_dsp_pixels_pass(x, w + g, count, 0, g, sums);
        tk_dsp_pixels_pass(x, w + g, count, 1, g + 1, sums);
    }
}
#endif

/* acc[j] += (input[j] - zero) * w[j] for j < 4: four depthwise channels of one tap. */
static inline void tk_dsp_depthwise4(const int8_t *input, const int8_t *w, uint32_t zeros, int32_t *acc)
{
    uint32_t in = tk_dsp_word(input), taps = tk_dsp_word(w);
    int16x2_t x02 = __sxtab16((int16x2_t)zeros, (int8x4_t)in);
    int16x2_t x13;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(x13) : "r"(zeros), "r"(in));
    int16x2_t w02 = __sxtb16((int8x4_t)taps), w13 = tk_dsp_sxtb16_ror8(taps);
    acc[0] = __smlabb(x02, w02, acc[0]);
    acc[2] = __smlatt(x02, w02, acc[2]);
    acc[1] = __smlabb(x13, w13, acc[1]);
    acc[3] = __smlatt(x13, w13, acc[3]);
}

/* tk_s8a_requantize in one 64-bit multiply-accumulate (SMLAL) for multipliers >= 0 and shifts
 * in [-31, 30] (any other: it). With a right shift r >= 1, gemmlowp's two roundings
 * (doubling high multiply rounded half up, then the rounding shift, half away from zero)
 * are one: floor((x m + 2^30 + (2^(r-1) - neg) 2^31) / 2^(31+r)), neg = 1 when the high
 * product is negative; with m >= 0 that is when x < 0, except where the high product is 0,
 * and then both give 0. The high word of the 64-bit sum, shifted right by r - 1, is that
 * floor. Arm compilers shift signed values arithmetically and convert to int32 modulo 2^32,
 * which the portable code does not assume. */
static inline int64_t tk_dsp_rounding(int32_t right)
{
    return ((int64_t)1 << 30) + ((int64_t)1 << (30 + right));
}

/* x m scaled by 2^-(31 + right), right >= 1, rounded: rounding = tk_dsp_rounding(right). */
static inline int32_t tk_dsp_scale_down(int32_t x, int32_t multiplier, int64_t rounding, int32_t right)
{
    int64_t sum = (int64_t)x * multiplier + (x < 0 ? rounding - ((int64_t)1 << 31) : rounding);
    return (int32_t)(sum >> 32) >> (right - 1);
}

/* result + output_zero (modulo 2^32, as the portable code), clamped. */
static inline int8_t tk_dsp_output(int32_t result, int32_t output_zero, int32_t act_min, int32_t act_max)
{
    result = (int32_t)((uint32_t)result + (uint32_t)output_zero);
    return (int8_t)(result < act_min ? act_min : result > act_max ? act_max : result);
}

static inline int8_t tk_dsp_requantize(uint32_t acc, int32_t multiplier, int32_t shift, int32_t output_zero,
                                       int32_t act_min, int32_t act_max)
{
    int32_t result;
    if (shift < -31 || shift > 30 || multiplier < 0) {
        return tk_s8a_requantize(acc, multiplier, shift, output_zero, act_min, act_max);
    }
    if (shift >= 0) {
        result = (int32_t)(((int64_t)(int32_t)(acc << shift) * multiplier + ((int64_t)1 << 30)) >> 31);
    } else {
        result = tk_dsp_scale_down((int32_t)acc, multiplier, tk_dsp_rounding(-shift), -shift);
    }
    return tk_dsp_output(result, output_zero, act_min, act_max);
}

/* out[p][channel] = tk_dsp_requantize(sums[p][lane] + add, ...) for p < count: one channel of
 * a few pixels, its rounding worked out once. */
static inline void tk_dsp_requantize_pixels(const int32_t (*sums)[TK_S8_LANES], int32_t lane, int count,
                                            uint32_t add, int32_t multiplier, int32_t shift, int32_t output_zero,
                                            int32_t act_min, int32_t act_max, int8_t *const *out, int32_t channel)
{
    int p;
    if (shift >= 0 || shift < -31 || multiplier < 0) {
        for (p = 0; p < count; ++p) {
            out[p][channel] = tk_dsp_requantize((uint32_t)sums[p][lane] + add, multiplier, shift, output_zero,
                                                act_min, act_max);
        }
    } else {
        const int64_t rounding = tk_dsp_rounding(-shift);
        for (p = 0; p < count; ++p) {
            int32_t x = (int32_t)((uint32_t)sums[p][lane] + add);
            out[p][channel] = tk_dsp_output(tk_dsp_scale_down(x, multiplier, rounding, -shift), output_zero, act_min,
                                            act_max);
        }
    }
}
#define tk_conv_requantize tk_dsp_requantize
#else
#define TK_DSP 0
#define TK_MVE 0
#define tk_conv_requantize tk_s8a_requantize
#endif

#endif /* TOCO_KERNELS_DSP_H */
