/* 16x8 SUB (sub.cc, toco_py/ops/int16/elementwise.py): ADD's two paths with the difference;
 * the power-of-two one broadcasts too (BroadcastSub16POTSlow). */
#include "binary_s8.h"

static int32_t sub_pot_element(int32_t a, int32_t b, const tk_binary_s8_params *p)
{
    return tk_pot_element_s16(a, b, p, 1);
}

int tk_sub_s16(const int16_t *a, const int32_t *a_dims, const int16_t *b, const int32_t *b_dims,
               int16_t *output, const int32_t *output_dims, int rank,
               const tk_binary_s8_params *params)
{
    tk_broadcast_s16(a, a_dims, b, b_dims, output, NULL, output_dims, rank, params,
                     tk_sub_element);
    return TK_OK;
}

int tk_sub_pot_s16(const int16_t *a, const int32_t *a_dims, const int16_t *b,
                   const int32_t *b_dims, int16_t *output, const int32_t *output_dims, int rank,
                   const tk_binary_s8_params *params)
{
    tk_broadcast_s16(a, a_dims, b, b_dims, output, NULL, output_dims, rank, params,
                     sub_pot_element);
    return TK_OK;
}
