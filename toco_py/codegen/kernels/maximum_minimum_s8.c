/* int8 MAXIMUM and MINIMUM (maximum_minimum.cc): they compare the stored integers,
 * whatever the quantization (binary_s8.h). */
#include "binary_s8.h"

static int32_t maximum_element(int32_t a, int32_t b, const tk_binary_s8_params *p)
{
    (void)p;
    return a > b ? a : b;
}

static int32_t minimum_element(int32_t a, int32_t b, const tk_binary_s8_params *p)
{
    (void)p;
    return a < b ? a : b;
}

int tk_maximum_s8(const int8_t *a, const int32_t *a_dims, const int8_t *b,
                  const int32_t *b_dims, int8_t *output, const int32_t *output_dims, int rank,
                  const tk_binary_s8_params *params)
{
    tk_broadcast_s8(a, a_dims, b, b_dims, output, NULL, output_dims, rank, params,
                    maximum_element);
    return TK_OK;
}

int tk_minimum_s8(const int8_t *a, const int32_t *a_dims, const int8_t *b,
                  const int32_t *b_dims, int8_t *output, const int32_t *output_dims, int rank,
                  const tk_binary_s8_params *params)
{
    tk_broadcast_s8(a, a_dims, b, b_dims, output, NULL, output_dims, rank, params,
                    minimum_element);
    return TK_OK;
}
