/* int8 ADD (add.cc): both inputs rescaled to one scale with 20 bits of headroom, summed,
 * then the output multiplier, zero point and clamp (binary_s8.h). */
#include "binary_s8.h"

int tk_add_s8(const int8_t *a, const int32_t *a_dims, const int8_t *b, const int32_t *b_dims,
              int8_t *output, const int32_t *output_dims, int rank,
              const tk_binary_s8_params *params)
{
    tk_broadcast_s8(a, a_dims, b, b_dims, output, NULL, output_dims, rank, params, tk_add_element);
    return TK_OK;
}
