/* PAD, PADV2 and MIRROR_PAD on any element type (element_size bytes each): the output
 * walked in order with a six-axis index, each element read from the input or filled. */
#include <string.h>

#include "toco_kernels.h"

typedef unsigned char byte;

/* Padded dims of the input and output, and the six-axis paddings before each axis. */
static void padded_shapes(const int32_t *input_dims, int rank, const int32_t *paddings,
                          int32_t *in, int32_t *out, int32_t *before)
{
    int lead = TK_MAX_RANK - rank;
    int d;
    tk_pad_dims(input_dims, rank, in);
    for (d = 0; d < TK_MAX_RANK; ++d) {
        int32_t b = d < lead ? 0 : paddings[2 * (d - lead)];
        int32_t a = d < lead ? 0 : paddings[2 * (d - lead) + 1];
        before[d] = b;
        out[d] = in[d] + b + a;
    }
}

int tk_pad(const void *input, const int32_t *input_dims, int rank, const int32_t *paddings,
           const void *pad_value, void *output, size_t element_size)
{
    int32_t in[TK_MAX_RANK], out[TK_MAX_RANK], before[TK_MAX_RANK], strides[TK_MAX_RANK];
    int32_t index[TK_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    byte *dst = (byte *)output;
    padded_shapes(input_dims, rank, paddings, in, out, before);
    tk_strides(in, strides);
    if (tk_element_count(out, TK_MAX_RANK) == 0) {
        return TK_OK;
    }
    do {
        int32_t at = 0;
        int inside = 1;
        int d;
        for (d = 0; d < TK_MAX_RANK; ++d) {
            int32_t c = index[d] - before[d];
            inside = inside && c >= 0 && c < in[d];
            at += c * strides[d];
        }
        if (inside) {
            memcpy(dst, (const byte *)input + (size_t)at * element_size, element_size);
        } else if (pad_value) {
            memcpy(dst, pad_value, element_size);
        } else {
            memset(dst, 0, element_size);
        }
        dst += element_size;
    } while (tk_next_index(index, out));
    return TK_OK;
}

/* The input position that output position c (relative to the input's start) mirrors;
 * REFLECT leaves out the edge element, SYMMETRIC repeats it. */
static int32_t mirror(int32_t c, int32_t size, int symmetric)
{
    if (c < 0) {
        return symmetric ? -c - 1 : -c;
    }
    if (c >= size) {
        return symmetric ? 2 * size - 1 - c : 2 * size - 2 - c;
    }
    return c;
}

int tk_mirror_pad(const void *input, const int32_t *input_dims, int rank,
                  const int32_t *paddings, int symmetric, void *output, size_t element_size)
{
    int32_t in[TK_MAX_RANK], out[TK_MAX_RANK], before[TK_MAX_RANK], strides[TK_MAX_RANK];
    int32_t index[TK_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    byte *dst = (byte *)output;
    padded_shapes(input_dims, rank, paddings, in, out, before);
    tk_strides(in, strides);
    if (tk_element_count(out, TK_MAX_RANK) == 0) {
        return TK_OK;
    }
    do {
        int32_t at = 0;
        int d;
        for (d = 0; d < TK_MAX_RANK; ++d) {
            at += mirror(index[d] - before[d], in[d], symmetric) * strides[d];
        }
        memcpy(dst, (const byte *)input + (size_t)at * element_size, element_size);
        dst += element_size;
    } while (tk_next_index(index, out));
    return TK_OK;
}
