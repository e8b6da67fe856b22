/* The int8 sums of CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D on Arm cores with the DSP
 * extension (Cortex-M4, M7, M33 with DSP, M55: __ARM_FEATURE_DSP), with its 16 x 16-bit
 * multiply-accumulates (SMLABB, SMLABT, SMLATB, SMLATT through ACLE's arm_acle.h) on
 * halfword pairs, the way CMSIS-NN computes them: four int8 weights per load, split into
 * halfwords by SXTB16. (SMLAD, two products per instruction, would need the packed
 * filters' taps repacked into pairs first, which costs what it saves.) The products
 * are the portable loops' products and the sums are sums modulo 2^32 (exact for
 * FULLY_CONNECTED's chunks), which no order of adding changes: bit-exact with them. Elsewhere
 * (or compiled with -DTK_PORTABLE, to compare) TK_DSP is 0 and the kernels run their
 * portable loops. On a core with Helium (M55: __ARM_FEATURE_MVE, TK_MVE) the block sums
 * use its vectors instead. The convolutions requantize through
 * tk_conv_requantize: on these cores a 32-bit form of tk_s8a_requantize. */
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

/* x[t] = input[t] - zero for t < count: the taps staged for tk_dsp_block_taps. */
static inline void tk_dsp_stage(const int8_t *input, size_t count, int32_t zero, int16_t *x)
{
    size_t t;
    for (t = 0; t < count; ++t) {
        x[t] = (int16_t)(input[t] - zero);
    }
}

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

/* -zero in both halfwords, as tk_dsp_depthwise4 adds it. */
static inline uint32_t tk_dsp_zeros(int32_t zero)
{
    uint32_t half = (uint32_t)(uint16_t)(int16_t)-zero;
    return half | (half << 16);
}
/* tk_s8a_requantize in 32-bit steps for shifts in [-31, 30] (any other: it): SMULL for the
 * doubling high multiply, gemmlowp's own remainder test for the rounding right shift. Arm
 * compilers shift signed values arithmetically and convert to int32 modulo 2^32, which the
 * portable code does not assume. */
static inline int8_t tk_dsp_requantize(uint32_t acc, int32_t multiplier, int32_t shift, int32_t output_zero,
                                       int32_t act_min, int32_t act_max)
{
    int32_t x, high, right, result;
    uint32_t mask;
    if (shift < -31 || shift > 30) {
        return tk_s8a_requantize(acc, multiplier, shift, output_zero, act_min, act_max);
    }
    x = (int32_t)(acc << (shift > 0 ? shift : 0));
    high = x == INT32_MIN && multiplier == INT32_MIN
               ? INT32_MAX
               : (int32_t)(((int64_t)x * multiplier + ((int64_t)1 << 30)) >> 31);
    right = shift > 0 ? 0 : -shift;
    mask = (1u << right) - 1u; /* right <= 31 */
    result = (high >> right) + (((uint32_t)high & mask) > (mask >> 1) + (uint32_t)(high < 0));
    result = (int32_t)((uint32_t)result + (uint32_t)output_zero);
    return (int8_t)(result < act_min ? act_min : result > act_max ? act_max : result);
}
#define tk_conv_requantize tk_dsp_requantize
#else
#define TK_DSP 0
#define TK_MVE 0
#define tk_conv_requantize tk_s8a_requantize
#endif

#endif /* TOCO_KERNELS_DSP_H */
