/* 16x8 MUL (mul.cc, toco_py/ops/int16/elementwise.py): int8's MulElementwise on int16
 * values (binary_s8.h); the product of two of them still fits in int32. */
#include "binary_s8.h"

int tk_mul_s16(const int16_t *a, const int32_t *a_dims, const int16_t *b, const int32_t *b_dims,
               int16_t *output, const int32_t *output_dims, int rank,
               const tk_binary_s8_params *params)
{
    tk_broadcast_s16(a, a_dims, b, b_dims, output, NULL, output_dims, rank, params,
                     tk_mul_element);
    return TK_OK;
}
