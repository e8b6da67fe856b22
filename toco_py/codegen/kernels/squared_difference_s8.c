/* int8 SQUARED_DIFFERENCE (squared_difference.cc): the rescaled difference, squared
 * (wrapping as the int32 product does), then the output multiplier (binary_s8.h). */
#include "binary_s8.h"

static int32_t squared_difference_element(int32_t a, int32_t b, const tk_binary_s8_params *p)
{
    int32_t diff = tk_wrap32((int64_t)tk_rescale_a_s8(a, p) - tk_rescale_b_s8(b, p));
    return tk_finish_s8(tk_wrap32((int64_t)diff * diff), p);
}

int tk_squared_difference_s8(const int8_t *a, const int32_t *a_dims, const int8_t *b,
                             const int32_t *b_dims, int8_t *output,
                             const int32_t *output_dims, int rank,
                             const tk_binary_s8_params *params)
{
    tk_broadcast_s8(a, a_dims, b, b_dims, output, NULL, output_dims, rank, params,
                    squared_difference_element);
    return TK_OK;
}
