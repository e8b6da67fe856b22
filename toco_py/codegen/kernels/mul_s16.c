/* 16x8 MUL (mul.cc, toco_py/ops/int16/elementwise.py): int8's MulElementwise on int16
 * values (binary_s8.h); the product of two of them still fits in int32. With an int8
 * output, reference_integer_ops::Mul(int16 -> int8): the Q0.15 product rounded to 8
 * fractional bits, whatever the scales, element by element (it cannot broadcast). */
#include "binary_s8.h"

int tk_mul_s16(const int16_t *a, const int32_t *a_dims, const int16_t *b, const int32_t *b_dims,
               int16_t *output, const int32_t *output_dims, int rank,
               const tk_binary_s8_params *params)
{
    tk_broadcast_s16(a, a_dims, b, b_dims, output, NULL, output_dims, rank, params,
                     tk_mul_element);
    return TK_OK;
}

int tk_mul_s16_s8(const int16_t *a, const int16_t *b, int8_t *output, int32_t count,
                  int32_t output_zero, int32_t act_min, int32_t act_max)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        int32_t product = tk_rdbpot16(tk_srdhm16(a[i], b[i]), 8);
        output[i] = (int8_t)(tk_clamp_s32(product, act_min - output_zero, act_max - output_zero)
                             + output_zero);
    }
    return TK_OK;
}
