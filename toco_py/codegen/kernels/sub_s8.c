/* int8 SUB (sub.cc): ADD's rescaling, the difference instead of the sum (binary_s8.h). */
#include "binary_s8.h"

int tk_sub_s8(const int8_t *a, const int32_t *a_dims, const int8_t *b, const int32_t *b_dims,
              int8_t *output, const int32_t *output_dims, int rank,
              const tk_binary_s8_params *params)
{
    tk_broadcast_s8(a, a_dims, b, b_dims, output, NULL, output_dims, rank, params, tk_sub_element);
    return TK_OK;
}
