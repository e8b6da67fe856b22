/* int8 PRELU (toco_py/ops/int8/activation.py): x at or above its zero point keeps x
 * (requantized); below it, x times alpha. a = x, b = alpha, broadcast (binary_s8.h). */
#include "binary_s8.h"

static int32_t prelu_element(int32_t x, int32_t alpha, const tk_binary_s8_params *p)
{
    int32_t value = x - p->a_zero;
    if (value >= 0) {
        return tk_finish_general_s8(value, p->a_multiplier, p->a_shift, p);
    }
    return tk_finish_general_s8(tk_wrap32((int64_t)value * (alpha - p->b_zero)),
                                p->b_multiplier, p->b_shift, p);
}

int tk_prelu_s8(const int8_t *a, const int32_t *a_dims, const int8_t *b, const int32_t *b_dims,
                int8_t *output, const int32_t *output_dims, int rank,
                const tk_binary_s8_params *params)
{
    tk_broadcast_s8(a, a_dims, b, b_dims, output, NULL, output_dims, rank, params,
                    prelu_element);
    return TK_OK;
}
