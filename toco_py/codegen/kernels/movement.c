/* Ops that only move data: copies of reshapes, TRANSPOSE, CONCATENATION / PACK, SPLIT /
 * UNPACK, REVERSE_V2 and DYNAMIC_UPDATE_SLICE (PAD, STRIDED_SLICE, TILE and GATHER have files of their
 * own). They work on any element type (element_size bytes each), so the quantized variants
 * of these ops need no kernels of their own. Each walks its output in order and computes
 * where the element comes from (DYNAMIC_UPDATE_SLICE: where each row of the update goes). */
#include <string.h>

#include "toco_kernels.h"

typedef unsigned char byte;

int tk_copy(const void *input, void *output, size_t bytes)
{
    /* A reshape the planner could not alias; never called with overlapping buffers. */
    memcpy(output, input, bytes);
    return TK_OK;
}

int tk_reverse(const void *input, int32_t outer, int32_t count, size_t row_bytes, void *output)
{
    const byte *src = (const byte *)input;
    byte *dst = (byte *)output;
    int32_t o, k;
    for (o = 0; o < outer; ++o) {
        for (k = 0; k < count; ++k) {
            memcpy(dst + ((size_t)o * count + k) * row_bytes,
                   src + ((size_t)o * count + (count - 1 - k)) * row_bytes, row_bytes);
        }
    }
    return TK_OK;
}

int tk_transpose(const void *input, const int32_t *input_dims, int rank, const int32_t *perm,
                 void *output, size_t element_size)
{
    int32_t in[TK_MAX_RANK], in_strides[TK_MAX_RANK], out[TK_MAX_RANK], strides[TK_MAX_RANK];
    int32_t index[TK_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    int lead = TK_MAX_RANK - rank;
    byte *dst = (byte *)output;
    int d;
    tk_pad_dims(input_dims, rank, in);
    tk_strides(in, in_strides);
    /* Output axis d is input axis perm[d]: it steps by that axis's stride. */
    for (d = 0; d < TK_MAX_RANK; ++d) {
        int source = d < lead ? d : lead + perm[d - lead];
        out[d] = in[source];
        strides[d] = in_strides[source];
    }
    if (tk_element_count(out, TK_MAX_RANK) == 0) {
        return TK_OK;
    }
    do {
        int32_t at = 0;
        for (d = 0; d < TK_MAX_RANK; ++d) {
            at += index[d] * strides[d];
        }
        memcpy(dst, (const byte *)input + (size_t)at * element_size, element_size);
        dst += element_size;
    } while (tk_next_index(index, out));
    return TK_OK;
}

/* Elements before and after `axis`: outer rows of axis * inner elements each. */
static void outer_inner(const int32_t *dims, int rank, int axis, int32_t *outer, int32_t *inner)
{
    *outer = tk_element_count(dims, axis);
    *inner = tk_element_count(dims + axis + 1, rank - axis - 1);
}

int tk_concatenation(const void *const *inputs, const int32_t *axis_sizes, int count,
                     void *output, const int32_t *output_dims, int rank, int axis,
                     size_t element_size)
{
    int32_t outer, inner, o;
    byte *dst = (byte *)output;
    int i;
    outer_inner(output_dims, rank, axis, &outer, &inner);
    for (o = 0; o < outer; ++o) {
        for (i = 0; i < count; ++i) {
            size_t chunk = (size_t)axis_sizes[i] * (size_t)inner * element_size;
            /* An input its producer wrote in place (planner.py) is there: as a run of the
             * output (src is dst) or with steps (NULL). */
            const byte *src = inputs[i] ? (const byte *)inputs[i] + (size_t)o * chunk : NULL;
            if (src && src != dst) {
                memcpy(dst, src, chunk);
            }
            dst += chunk;
        }
    }
    return TK_OK;
}

int tk_split(const void *input, const int32_t *input_dims, int rank, int axis,
             void *const *outputs, const int32_t *axis_sizes, int count, size_t element_size)
{
    int32_t outer, inner, o;
    const byte *src = (const byte *)input;
    int i;
    outer_inner(input_dims, rank, axis, &outer, &inner);
    for (o = 0; o < outer; ++o) {
        for (i = 0; i < count; ++i) {
            size_t chunk = (size_t)axis_sizes[i] * (size_t)inner * element_size;
            memcpy((byte *)outputs[i] + (size_t)o * chunk, src, chunk);
            src += chunk;
        }
    }
    return TK_OK;
}

int tk_dynamic_update_slice(const void *operand, const int32_t *operand_dims, int rank,
                            const void *update, const int32_t *update_dims,
                            const int32_t *start, void *output, size_t element_size)
{
    int32_t out[TK_MAX_RANK], part[TK_MAX_RANK], first[TK_MAX_RANK], strides[TK_MAX_RANK];
    int32_t index[TK_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    const byte *src = (const byte *)update;
    size_t row;
    int d, pad = TK_MAX_RANK - rank;
    tk_pad_dims(operand_dims, rank, out);
    tk_pad_dims(update_dims, rank, part);
    tk_strides(out, strides);
    if (output != operand) {
        memcpy(output, operand, (size_t)tk_element_count(out, TK_MAX_RANK) * element_size);
    }
    for (d = 0; d < TK_MAX_RANK; ++d) {
        int32_t s = d < pad ? 0 : start[d - pad], limit = out[d] - part[d];
        first[d] = s < 0 ? 0 : (s > limit ? limit : s);
    }
    if (tk_element_count(part, TK_MAX_RANK) == 0) {
        return TK_OK;
    }
    /* Row by row along the last axis, where both are contiguous. */
    row = (size_t)part[TK_MAX_RANK - 1] * element_size;
    part[TK_MAX_RANK - 1] = 1;
    do {
        int32_t at = first[TK_MAX_RANK - 1];
        for (d = 0; d < TK_MAX_RANK - 1; ++d) {
            at += (first[d] + index[d]) * strides[d];
        }
        memcpy((byte *)output + (size_t)at * element_size, src, row);
        src += row;
    } while (tk_next_index(index, part));
    return TK_OK;
}
