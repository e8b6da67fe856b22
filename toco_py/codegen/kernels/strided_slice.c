/* STRIDED_SLICE and SLICE on any element type (element_size bytes each): output element i
 * reads input begin[d] + i[d] * strides[d] on every axis d. */
#include <string.h>

#include "toco_kernels.h"

typedef unsigned char byte;

int tk_strided_slice(const void *input, const int32_t *input_dims, int rank,
                     const int32_t *begin, const int32_t *strides, void *output,
                     const int32_t *output_dims, size_t element_size)
{
    int32_t in[TK_MAX_RANK], out[TK_MAX_RANK], in_strides[TK_MAX_RANK];
    int32_t start[TK_MAX_RANK], step[TK_MAX_RANK];
    int32_t index[TK_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    int lead = TK_MAX_RANK - rank;
    byte *dst = (byte *)output;
    int d;
    tk_pad_dims(input_dims, rank, in);
    tk_pad_dims(output_dims, rank, out);
    tk_strides(in, in_strides);
    for (d = 0; d < TK_MAX_RANK; ++d) {
        start[d] = d < lead ? 0 : begin[d - lead];
        step[d] = d < lead ? 1 : strides[d - lead];
    }
    if (tk_element_count(out, TK_MAX_RANK) == 0) {
        return TK_OK;
    }
    do {
        int32_t at = 0;
        for (d = 0; d < TK_MAX_RANK; ++d) {
            at += (start[d] + index[d] * step[d]) * in_strides[d];
        }
        memcpy(dst, (const byte *)input + (size_t)at * element_size, element_size);
        dst += element_size;
    } while (tk_next_index(index, out));
    return TK_OK;
}
