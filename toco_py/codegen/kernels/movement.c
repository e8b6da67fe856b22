/* Ops that only move data. They work on any element type (element_size bytes each), so
 * the quantized variants of these ops need no kernels of their own. Each walks its output
 * in order with a six-axis index and computes where the element comes from. */
#include <string.h>

#include "toco_kernels.h"

typedef unsigned char byte;

int tk_copy(const void *input, void *output, size_t bytes)
{
    /* A reshape the planner could not alias; never called with overlapping buffers. */
    memcpy(output, input, bytes);
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
            memcpy(dst, (const byte *)inputs[i] + (size_t)o * chunk, chunk);
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

/* The sizes a gather works with: batch entries, rows before the axis within one, the
 * axis's size and the elements after it. */
struct gather_shape {
    int32_t batches, outer, axis_size, inner;
};

static struct gather_shape gather_shape(const int32_t *dims, int rank, int axis, int batch_dims)
{
    struct gather_shape s;
    s.batches = tk_element_count(dims, batch_dims);
    s.outer = tk_element_count(dims + batch_dims, axis - batch_dims);
    s.axis_size = dims[axis];
    s.inner = tk_element_count(dims + axis + 1, rank - axis - 1);
    return s;
}

/* One gathered slice: checks the index (LiteRT fails the call on a bad one). */
static int gather_one(const void *params, struct gather_shape s, int32_t batch, int32_t row,
                      int64_t index, byte *dst, size_t element_size)
{
    size_t chunk = (size_t)s.inner * element_size;
    size_t from;
    if (index < 0 || index >= s.axis_size) {
        return TK_ERROR_INDEX_OUT_OF_RANGE;
    }
    from = (((size_t)batch * (size_t)s.outer + (size_t)row) * (size_t)s.axis_size
            + (size_t)index) * chunk;
    memcpy(dst, (const byte *)params + from, chunk);
    return TK_OK;
}

int tk_gather_i32(const void *params, const int32_t *params_dims, int rank, int axis,
                  int batch_dims, const int32_t *indices, int32_t index_count, void *output,
                  size_t element_size)
{
    struct gather_shape s = gather_shape(params_dims, rank, axis, batch_dims);
    byte *dst = (byte *)output;
    int32_t b, o, j;
    for (b = 0; b < s.batches; ++b) {
        for (o = 0; o < s.outer; ++o) {
            for (j = 0; j < index_count; ++j) {
                if (gather_one(params, s, b, o, indices[b * index_count + j], dst,
                               element_size) != TK_OK) {
                    return TK_ERROR_INDEX_OUT_OF_RANGE;
                }
                dst += (size_t)s.inner * element_size;
            }
        }
    }
    return TK_OK;
}

int tk_gather_i64(const void *params, const int32_t *params_dims, int rank, int axis,
                  int batch_dims, const int64_t *indices, int32_t index_count, void *output,
                  size_t element_size)
{
    struct gather_shape s = gather_shape(params_dims, rank, axis, batch_dims);
    byte *dst = (byte *)output;
    int32_t b, o, j;
    for (b = 0; b < s.batches; ++b) {
        for (o = 0; o < s.outer; ++o) {
            for (j = 0; j < index_count; ++j) {
                if (gather_one(params, s, b, o, indices[b * index_count + j], dst,
                               element_size) != TK_OK) {
                    return TK_ERROR_INDEX_OUT_OF_RANGE;
                }
                dst += (size_t)s.inner * element_size;
            }
        }
    }
    return TK_OK;
}
