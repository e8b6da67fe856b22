/* CAST between float32, int8, uint8, int16, int32, int64 and bool, element by element as
 * C converts (LiteRT's static_cast): floats to integers truncate toward zero, anything to
 * bool is "not zero", bool to a number 0 or 1. Each value is read into an int64 (integer
 * sources) or a float (float32), so that every conversion is the direct one. */
#include "toco_kernels.h"

static int64_t read_int(const void *data, int type, int32_t i)
{
    switch (type) {
    case TK_TYPE_I8: return ((const int8_t *)data)[i];
    case TK_TYPE_U8: return ((const uint8_t *)data)[i];
    case TK_TYPE_I16: return ((const int16_t *)data)[i];
    case TK_TYPE_I32: return ((const int32_t *)data)[i];
    case TK_TYPE_I64: return ((const int64_t *)data)[i];
    default: return ((const uint8_t *)data)[i] != 0; /* TK_TYPE_BOOL */
    }
}

/* Element i of the output, of type `to`, is value converted as C converts it. */
#define STORE(value)                                                                       \
    switch (to) {                                                                          \
    case TK_TYPE_F32: ((float *)output)[i] = (float)(value); break;                        \
    case TK_TYPE_I8: ((int8_t *)output)[i] = (int8_t)(value); break;                       \
    case TK_TYPE_U8: ((uint8_t *)output)[i] = (uint8_t)(value); break;                     \
    case TK_TYPE_I16: ((int16_t *)output)[i] = (int16_t)(value); break;                    \
    case TK_TYPE_I32: ((int32_t *)output)[i] = (int32_t)(value); break;                    \
    case TK_TYPE_I64: ((int64_t *)output)[i] = (int64_t)(value); break;                    \
    default: ((uint8_t *)output)[i] = (uint8_t)((value) != 0); break;                      \
    }

int tk_cast(const void *input, int from, void *output, int to, int32_t count)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        if (from == TK_TYPE_F32) {
            float x = ((const float *)input)[i];
            STORE(x)
        } else {
            int64_t x = read_int(input, from, i);
            STORE(x)
        }
    }
    return TK_OK;
}
#undef STORE
