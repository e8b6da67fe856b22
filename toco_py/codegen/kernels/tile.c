/* TILE (and quantized BROADCAST_TO) on any element type (element_size bytes each): output
 * index i reads input index i modulo the input's shape. */
#include <string.h>

#include "toco_kernels.h"

typedef unsigned char byte;

int tk_tile(const void *input, const int32_t *input_dims, int rank, const int32_t *multiples,
            void *output, size_t element_size)
{
    int32_t in[TK_MAX_RANK], out[TK_MAX_RANK], strides[TK_MAX_RANK], reps[TK_MAX_RANK];
    int32_t index[TK_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    byte *dst = (byte *)output;
    int d;
    tk_pad_dims(input_dims, rank, in);
    tk_pad_dims(multiples, rank, reps);
    tk_strides(in, strides);
    for (d = 0; d < TK_MAX_RANK; ++d) {
        out[d] = in[d] * reps[d];
    }
    if (tk_element_count(out, TK_MAX_RANK) == 0) {
        return TK_OK;
    }
    do {
        int32_t at = 0;
        for (d = 0; d < TK_MAX_RANK; ++d) {
            at += (index[d] % in[d]) * strides[d];
        }
        memcpy(dst, (const byte *)input + (size_t)at * element_size, element_size);
        dst += element_size;
    } while (tk_next_index(index, out));
    return TK_OK;
}
