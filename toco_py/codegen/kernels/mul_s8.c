/* int8 MUL (mul.cc): the product of the offset inputs, then one general (either-sign)
 * multiplier, the zero point and the clamp (binary_s8.h). */
#include "binary_s8.h"

int tk_mul_s8(const int8_t *a, const int32_t *a_dims, const int8_t *b, const int32_t *b_dims,
              int8_t *output, const int32_t *output_dims, int rank,
              const tk_binary_s8_params *params)
{
    tk_broadcast_s8(a, a_dims, b, b_dims, output, NULL, output_dims, rank, params, tk_mul_element);
    return TK_OK;
}
