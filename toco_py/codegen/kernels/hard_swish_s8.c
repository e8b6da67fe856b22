/* int8 HARD_SWISH: reference_ops::HardSwish in gemmlowp's int16 fixed point, as
 * toco_py/ops/int8/activation.py computes it. */
#include "toco_kernels.h"
#include "fixedpoint_s8.h"

#define INT16_LOW (-32768)
#define INT16_HIGH 32767

static int32_t srdhm16(int32_t a, int32_t b)
{
    int32_t ab = a * b; /* two int16 values: fits */
    int32_t nudge = ab >= 0 ? (1 << 14) : 1 - (1 << 14);
    if (a == INT16_LOW && b == INT16_LOW) {
        return INT16_HIGH;
    }
    return tk_wrap16((ab + nudge) / (1 << 15)); /* C99 division truncates, as C++ */
}

/* RoundingDivideByPOT<int16_t>: its mask is built in int16, so from exponent 16 on the
 * mask is all ones (-1) and the rounding compares against -1 (the template's quirk). */
static int32_t rdbpot16(int32_t x, int exponent)
{
    int32_t remainder, threshold;
    if (exponent >= 16) {
        remainder = x;
        threshold = -1 + (x < 0);
    } else {
        int32_t mask = (int32_t)((1 << exponent) - 1);
        remainder = (int32_t)((uint32_t)x & (uint32_t)mask);
        threshold = (mask >> 1) + (x < 0);
    }
    return (int32_t)(tk_asr64(x, exponent > 62 ? 62 : exponent) + (remainder > threshold));
}

/* value * 2^amount, saturated to int16 (exact for any amount >= 0). */
static int32_t saturating_shl16(int32_t value, int amount)
{
    int32_t shifted;
    if (value == 0 || amount >= 16) {
        return value == 0 ? 0 : (value > 0 ? INT16_HIGH : INT16_LOW);
    }
    shifted = value * (1 << amount); /* |value| <= 2^15, amount <= 15: fits */
    return tk_clamp_s32(shifted, INT16_LOW, INT16_HIGH);
}

/* The input on a scale where 3.0 is 32768, saturated, then mapped from [-1, 1] to [0, 1]. */
static int32_t reluish(int32_t hires, int32_t multiplier, int32_t exponent)
{
    int32_t value = hires;
    if (exponent > 0) {
        value = saturating_shl16(value, exponent - 1);
    }
    value = srdhm16(value, multiplier);
    if (exponent > 0) {
        value = saturating_shl16(value, 1);
    } else if (exponent < 0) {
        value = rdbpot16(value, -exponent);
    }
    return (value + (1 << 15)) >> 1; /* value >= -2^15: a shift of a non-negative */
}

int tk_hard_swish_s8(const int8_t *input, int8_t *output, int32_t count, int32_t in_zero,
                     int32_t out_multiplier, int32_t out_exponent,
                     int32_t reluish_multiplier, int32_t reluish_exponent, int32_t out_zero)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        int32_t hires = tk_wrap16((int64_t)(input[i] - in_zero) * 128); /* 128x finer */
        int32_t preshift = srdhm16(hires, out_multiplier);
        int32_t relu = reluish(hires, reluish_multiplier, reluish_exponent);
        /* SaturatingDoublingHighMul: truncating, which cancels the rounding biases. */
        int32_t product = (relu == INT16_LOW && preshift == INT16_LOW)
                              ? INT16_HIGH : (relu * preshift) / (1 << 15);
        int32_t out = tk_wrap16((int64_t)rdbpot16(tk_wrap16(product), -out_exponent) + out_zero);
        output[i] = (int8_t)tk_clamp_s32(out, -128, 127);
    }
    return TK_OK;
}
