/* 16x8 ADD (add.cc, toco_py/ops/int16/elementwise.py): the general path is int8's arithmetic
 * with 15 bits of headroom (binary_s8.h); the power-of-two path shifts the input at a finer
 * scale right to the output's (RoundingDivideByPOT on int16), adds with saturation and clamps,
 * element by element (LiteRT's Add16 cannot broadcast). */
#include "binary_s8.h"

int tk_add_s16(const int16_t *a, const int32_t *a_dims, const int16_t *b, const int32_t *b_dims,
               int16_t *output, const int32_t *output_dims, int rank,
               const tk_binary_s8_params *params)
{
    tk_broadcast_s16(a, a_dims, b, b_dims, output, NULL, output_dims, rank, params,
                     tk_add_element);
    return TK_OK;
}

int tk_add_pot_s16(const int16_t *a, const int16_t *b, int16_t *output, int32_t count,
                   const tk_binary_s8_params *params)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        output[i] = (int16_t)tk_pot_element_s16(a[i], b[i], params, 0);
    }
    return TK_OK;
}
