/* 16x8 activations (toco_py/ops/int16/activation.py, after LiteRT's activations.cc):
 * RELU and RELU6 requantize then clamp, LEAKY_RELU requantizes each sign by its own
 * multiplier, LOGISTIC and TANH interpolate LiteRT's sigmoid table (Q0.16, sigmoid(i / 24)),
 * whose entries the generator passes from the numpy kernel's copy. Zero points are 0. */
#include "toco_kernels.h"

int tk_relu_s16(const int16_t *input, int16_t *output, int32_t count, int32_t multiplier,
                int32_t shift, int32_t act_min, int32_t act_max)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        output[i] = (int16_t)tk_clamp_s32(tk_mbqm(input[i], multiplier, shift), act_min, act_max);
    }
    return TK_OK;
}

int tk_leaky_relu_s16(const int16_t *input, int16_t *output, int32_t count,
                      int32_t identity_multiplier, int32_t identity_shift,
                      int32_t alpha_multiplier, int32_t alpha_shift)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        int32_t x = input[i];
        int32_t scaled = x >= 0 ? tk_mbqm(x, identity_multiplier, identity_shift)
                                : tk_mbqm(x, alpha_multiplier, alpha_shift);
        output[i] = (int16_t)tk_clamp_s32(scaled, INT16_MIN, INT16_MAX);
    }
    return TK_OK;
}

/* The input in 1/(3*4096) units: (x * multiplier + round) >> shift in int32. */
static int64_t table_input(int32_t x, int32_t multiplier, int32_t shift)
{
    int64_t rounding = shift > 0 ? (int64_t)1 << (shift - 1) : 0;
    return tk_asr64(tk_wrap32((int64_t)x * multiplier + rounding), shift);
}

/* The table at |value| >> fraction_bits, interpolated with the bits below; `saturated`
 * from entry 255 on. */
static int64_t interpolate(int64_t value, int fraction_bits, int64_t saturated,
                           const uint16_t *table)
{
    int64_t magnitude = value < 0 ? -value : value;
    int64_t high = magnitude >> fraction_bits, index = high < 254 ? high : 254;
    int64_t low = table[index], up = table[index + 1];
    int64_t fraction = magnitude & (((int64_t)1 << fraction_bits) - 1);
    return high >= 255 ? saturated : low * ((int64_t)1 << fraction_bits) + fraction * (up - low);
}

int tk_logistic_s16(const int16_t *input, int16_t *output, int32_t count, int32_t multiplier,
                    int32_t shift, const uint16_t *sigmoid_table)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        int64_t value = table_input(input[i], multiplier, shift);
        int64_t result = interpolate(value, 9, (int64_t)0x7FFF << 10, sigmoid_table);
        /* sigmoid(-x) = 1 - sigmoid(x), then Q0.25 to Q0.15 rounding half up. */
        result = value >= 0 ? result + (1 << 9) : (1 << 25) - result + (1 << 9) - 1;
        output[i] = tk_wrap16(tk_asr64(result, 10));
    }
    return TK_OK;
}

int tk_tanh_s16(const int16_t *input, int16_t *output, int32_t count, int32_t multiplier,
                int32_t shift, const uint16_t *sigmoid_table)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        int64_t value = table_input(input[i], multiplier, shift);
        int64_t result = interpolate(value, 8, (int64_t)0xFFFF << 8, sigmoid_table);
        /* 2 sigmoid - 1, odd in x, from Q0.24 to Q0.15. */
        result = value >= 0 ? result - (1 << 23) + (1 << 7) : -result + (1 << 23) + (1 << 7) - 1;
        output[i] = tk_wrap16(tk_asr64(result, 8));
    }
    return TK_OK;
}
