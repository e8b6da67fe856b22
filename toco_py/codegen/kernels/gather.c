/* GATHER with int32 or int64 indices on any element type (element_size bytes each): whole
 * slices copied per index, which is checked (LiteRT fails the call on a bad one). */
#include <string.h>

#include "toco_kernels.h"

typedef unsigned char byte;

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

/* Every slice, the indices read as int64 when `wide`, else as int32. */
static int gather_all(const void *params, struct gather_shape s, const void *indices, int wide,
                      int32_t index_count, void *output, size_t element_size)
{
    byte *dst = (byte *)output;
    int32_t b, o, j;
    for (b = 0; b < s.batches; ++b) {
        for (o = 0; o < s.outer; ++o) {
            for (j = 0; j < index_count; ++j) {
                int32_t k = b * index_count + j;
                int64_t index = wide ? ((const int64_t *)indices)[k]
                                     : (int64_t)((const int32_t *)indices)[k];
                if (gather_one(params, s, b, o, index, dst, element_size) != TK_OK) {
                    return TK_ERROR_INDEX_OUT_OF_RANGE;
                }
                dst += (size_t)s.inner * element_size;
            }
        }
    }
    return TK_OK;
}

int tk_gather_i32(const void *params, const int32_t *params_dims, int rank, int axis,
                  int batch_dims, const int32_t *indices, int32_t index_count, void *output,
                  size_t element_size)
{
    return gather_all(params, gather_shape(params_dims, rank, axis, batch_dims), indices, 0,
                      index_count, output, element_size);
}

int tk_gather_i64(const void *params, const int32_t *params_dims, int rank, int axis,
                  int batch_dims, const int64_t *indices, int32_t index_count, void *output,
                  size_t element_size)
{
    return gather_all(params, gather_shape(params_dims, rank, axis, batch_dims), indices, 1,
                      index_count, output, element_size);
}
