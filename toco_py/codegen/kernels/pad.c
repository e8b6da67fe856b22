/* PAD, PADV2 and MIRROR_PAD on any element type (element_size bytes each). PAD writes a row
 * of contiguous elements at a time, last row first, so that it may run in place: with the
 * input at the output's first byte, every element's output position is at or after its
 * input position (each input element before it has its own output element before it), so
 * walking backward never overwrites input not yet read (planner.py places it so). */
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

/* count elements of the padding value (zero bytes when NULL) at dst. */
static void fill(byte *dst, size_t count, const void *pad_value, size_t element_size)
{
    size_t i;
    if (!pad_value || element_size == 1) {
        memset(dst, pad_value ? *(const byte *)pad_value : 0, count * element_size);
        return;
    }
    for (i = 0; i < count; ++i, dst += element_size) {
        memcpy(dst, pad_value, element_size);
    }
}

/* Copies n bytes to dst from src at or before it, which may overlap it (in place): from the
 * end, in pieces no longer than the distance between them, so that no piece overlaps its
 * source (memcpy alone; a bundle needs no more of libc). */
static void copy_up(byte *dst, const byte *src, size_t n)
{
    size_t gap = (size_t)((uintptr_t)dst - (uintptr_t)src), piece;
    if (gap == 0) {
        return;
    }
    while (n > 0) {
        piece = n < gap ? n : gap;
        n -= piece;
        memcpy(dst + n, src + n, piece);
    }
}

/* The output row by row over the last padded axis, whose elements are runs of the trailing
 * unpadded axes, from the last row to the first: a row outside the input is all padding;
 * inside, the padding after, the input's row (copy_up), the padding before. */
int tk_pad(const void *input, const int32_t *input_dims, int rank, const int32_t *paddings,
           const void *pad_value, void *output, size_t element_size)
{
    int32_t in[TK_MAX_RANK], out[TK_MAX_RANK], before[TK_MAX_RANK], strides[TK_MAX_RANK];
    size_t run = 1, rows = 1, row_bytes, row;
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
    for (d = 0; d < last; ++d) {
        rows *= (size_t)out[d];
    }
    row_bytes = (size_t)out[last] * run * element_size;
    for (row = rows; row-- > 0;) {
        byte *dst = (byte *)output + row * row_bytes;
        size_t rest = row;
        int32_t at = 0;
        int inside = 1;
        for (d = last - 1; d >= 0; --d) {
            int32_t c = (int32_t)(rest % (size_t)out[d]) - before[d];
            rest /= (size_t)out[d];
            inside = inside && c >= 0 && c < in[d];
            at += c * strides[d];
        }
        if (!inside) {
            fill(dst, (size_t)out[last] * run, pad_value, element_size);
            continue;
        }
        fill(dst + (size_t)(before[last] + in[last]) * run * element_size,
             (size_t)(out[last] - before[last] - in[last]) * run, pad_value, element_size);
        copy_up(dst + (size_t)before[last] * run * element_size,
                (const byte *)input + (size_t)at * element_size, (size_t)in[last] * run * element_size);
        fill(dst, (size_t)before[last] * run, pad_value, element_size);
    }
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
