/* PAD, PADV2 and MIRROR_PAD on any element type (element_size bytes each): the output
 * walked in order with a six-axis index, copied from the input or filled (PAD a row of
 * contiguous elements at a time). */
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

/* count elements of the padding value (zero bytes when NULL). */
static byte *fill(byte *dst, size_t count, const void *pad_value, size_t element_size)
{
    size_t i;
    if (!pad_value || element_size == 1) {
        memset(dst, pad_value ? *(const byte *)pad_value : 0, count * element_size);
        return dst + count * element_size;
    }
    for (i = 0; i < count; ++i, dst += element_size) {
        memcpy(dst, pad_value, element_size);
    }
    return dst;
}

/* The output row by row over the last padded axis, whose elements are runs of the trailing
 * unpadded axes: a row outside the input is all padding; inside, padding, one memcpy of the
 * input's row, padding. */
int tk_pad(const void *input, const int32_t *input_dims, int rank, const int32_t *paddings,
           const void *pad_value, void *output, size_t element_size)
{
    int32_t in[TK_MAX_RANK], out[TK_MAX_RANK], before[TK_MAX_RANK], strides[TK_MAX_RANK];
    int32_t rows[TK_MAX_RANK], index[TK_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    byte *dst = (byte *)output;
    size_t run = 1;
    int last = TK_MAX_RANK - 1, d;
    padded_shapes(input_dims, rank, paddings, in, out, before);
    tk_strides(in, strides);
    if (tk_element_count(out, TK_MAX_RANK) == 0) {
        return TK_OK;
    }
    while (last > 0 && before[last] == 0 && out[last] == in[last]) {
        run *= (size_t)in[last];
        --last;
    }
    for (d = 0; d < TK_MAX_RANK; ++d) {
        rows[d] = d < last ? out[d] : 1;
    }
    do {
        int32_t at = 0;
        int inside = 1;
        for (d = 0; d < last; ++d) {
            int32_t c = index[d] - before[d];
            inside = inside && c >= 0 && c < in[d];
            at += c * strides[d];
        }
        if (!inside) {
            dst = fill(dst, (size_t)out[last] * run, pad_value, element_size);
            continue;
        }
        dst = fill(dst, (size_t)before[last] * run, pad_value, element_size);
        memcpy(dst, (const byte *)input + (size_t)at * element_size, (size_t)in[last] * run * element_size);
        dst += (size_t)in[last] * run * element_size;
        dst = fill(dst, (size_t)(out[last] - before[last] - in[last]) * run, pad_value, element_size);
    } while (tk_next_index(index, rows));
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
