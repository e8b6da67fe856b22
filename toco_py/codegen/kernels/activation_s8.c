/* int8 activations of one input (RELU family, LEAKY_RELU, LOGISTIC, TANH, HARD_SWISH, GELU):
 * a 256-entry table the generator made by running toco_py/ops/int8/activation.py's kernel on
 * every int8 value, looked up here. */
#include "toco_kernels.h"

int tk_lookup_s8(const int8_t *input, int8_t *output, int32_t count, const int8_t *table)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        output[i] = table[input[i] + 128];
    }
    return TK_OK;
}
