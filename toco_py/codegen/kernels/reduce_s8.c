/* Quantized MEAN, SUM, REDUCE_MAX and REDUCE_MIN over any set of axes
 * (toco_py/ops/int8/reduce.py, after LiteRT's QuantizedMeanOrSum and its reference
 * reductions). keep_dims only changes the output's shape, not its layout.
 *
 * Without a heap there is no room for wide accumulators, so each output element folds its
 * whole group of input elements at once: the input's axes split into the kept ones (one
 * output element per index) and the reduced ones (one group member per index). */
#include <string.h>

#include "toco_kernels.h"

struct split_axes {
    int32_t kept[TK_MAX_RANK];    /* the input's dims with the reduced axes set to 1 */
    int32_t group[TK_MAX_RANK];   /* the reduced axes' dims, the kept ones set to 1 */
    int32_t strides[TK_MAX_RANK]; /* the input's row-major strides */
};

static struct split_axes split_axes(const int32_t *input_dims, int rank, const int32_t *reduced)
{
    struct split_axes s;
    int32_t dims[TK_MAX_RANK];
    int lead = TK_MAX_RANK - rank;
    int d;
    tk_pad_dims(input_dims, rank, dims);
    tk_strides(dims, s.strides);
    for (d = 0; d < TK_MAX_RANK; ++d) {
        int is_reduced = d >= lead && reduced[d - lead];
        s.kept[d] = is_reduced ? 1 : dims[d];
        s.group[d] = is_reduced ? dims[d] : 1;
    }
    return s;
}

static int32_t offset_of(const int32_t *index, const int32_t *strides)
{
    int32_t at = 0;
    int d;
    for (d = 0; d < TK_MAX_RANK; ++d) {
        at += index[d] * strides[d];
    }
    return at;
}

enum fold { FOLD_SUM, FOLD_MAX, FOLD_MIN };

/* The group of the output element whose first input element is at `base`, folded: the
 * sum modulo 2^32 (all the numpy kernel keeps of it), or the largest or smallest value. */
static uint32_t fold_group(const void *input, int type, const struct split_axes *s,
                           int32_t base, enum fold how)
{
    int32_t index[TK_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    int32_t best = how == FOLD_MAX ? tk_s8a_type_min(type) : tk_s8a_type_max(type);
    uint32_t sum = 0;
    do {
        int32_t v = tk_s8a_load(input, (size_t)(base + offset_of(index, s->strides)), type);
        sum += (uint32_t)v;
        best = how == FOLD_MAX ? (v > best ? v : best) : (v < best ? v : best);
    } while (tk_next_index(index, s->group));
    return how == FOLD_SUM ? sum : (uint32_t)best;
}

int tk_mean_sum_q(const void *input, const int32_t *input_dims, int rank,
                  const int32_t *reduced, void *output, int type, int32_t zero_offset,
                  int32_t multiplier, int32_t shift, int32_t output_zero)
{
    struct split_axes s = split_axes(input_dims, rank, reduced);
    int32_t index[TK_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    int32_t lo = tk_s8a_type_min(type), hi = tk_s8a_type_max(type);
    size_t i = 0;
    if (tk_element_count(input_dims, rank) == 0) {
        /* LiteRT zero-fills the output (raw zeros, not the zero point). */
        int32_t count = tk_element_count(s.kept, TK_MAX_RANK);
        size_t size = type == TK_QTYPE_INT16 ? sizeof(int16_t) : 1;
        memset(output, 0, (size_t)count * size);
        return TK_OK;
    }
    do {
        uint32_t sum = fold_group(input, type, &s, offset_of(index, s.strides), FOLD_SUM);
        int32_t shifted = tk_s8a_wrap32((int64_t)(sum - (uint32_t)zero_offset));
        int32_t scaled = tk_s8a_scale_double(shifted, multiplier, shift);
        int32_t out = tk_s8a_wrap32((int64_t)scaled + output_zero);
        tk_s8a_store(output, i++, type, tk_s8a_clamp(out, lo, hi));
    } while (tk_next_index(index, s.kept));
    return TK_OK;
}

static int extreme(const void *input, const int32_t *input_dims, int rank,
                   const int32_t *reduced, void *output, int type, enum fold how)
{
    struct split_axes s = split_axes(input_dims, rank, reduced);
    int32_t index[TK_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    size_t i = 0;
    if (tk_element_count(input_dims, rank) == 0) {
        return TK_ERROR_BAD_SHAPE; /* the extreme of nothing: numpy fails too */
    }
    do {
        uint32_t best = fold_group(input, type, &s, offset_of(index, s.strides), how);
        tk_s8a_store(output, i++, type, tk_s8a_wrap32(best));
    } while (tk_next_index(index, s.kept));
    return TK_OK;
}

int tk_reduce_max_q(const void *input, const int32_t *input_dims, int rank,
                    const int32_t *reduced, void *output, int type)
{
    return extreme(input, input_dims, rank, reduced, output, type, FOLD_MAX);
}

int tk_reduce_min_q(const void *input, const int32_t *input_dims, int rank,
                    const int32_t *reduced, void *output, int type)
{
    return extreme(input, input_dims, rank, reduced, output, type, FOLD_MIN);
}
