/* What the quantized reductions share (reduce_s8.c: MEAN and SUM; reduce_extreme_s8.c:
 * REDUCE_MAX and REDUCE_MIN): without a heap there is no room for wide accumulators, so
 * each output element folds its whole group of input elements at once. The input's axes
 * split into the kept ones (one output element per index) and the reduced ones (one group
 * member per index). */
#ifndef TOCO_REDUCE_S8_H
#define TOCO_REDUCE_S8_H

#include "toco_kernels.h"

struct tk_split_axes {
    int32_t kept[TK_MAX_RANK];    /* the input's dims with the reduced axes set to 1 */
    int32_t group[TK_MAX_RANK];   /* the reduced axes' dims, the kept ones set to 1 */
    int32_t strides[TK_MAX_RANK]; /* the input's row-major strides */
};

static inline struct tk_split_axes tk_split_axes(const int32_t *input_dims, int rank,
                                                 const int32_t *reduced)
{
    struct tk_split_axes s;
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

static inline int32_t tk_offset_of(const int32_t *index, const int32_t *strides)
{
    int32_t at = 0;
    int d;
    for (d = 0; d < TK_MAX_RANK; ++d) {
        at += index[d] * strides[d];
    }
    return at;
}

enum tk_fold { TK_FOLD_SUM, TK_FOLD_MAX, TK_FOLD_MIN };

/* The group of the output element whose first input element is at `base`, folded: the
 * sum modulo 2^32 (all the numpy kernel keeps of it), or the largest or smallest value. */
static inline uint32_t tk_fold_group(const void *input, int type,
                                     const struct tk_split_axes *s, int32_t base,
                                     enum tk_fold how)
{
    int32_t index[TK_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    int32_t best = how == TK_FOLD_MAX ? tk_s8a_type_min(type) : tk_s8a_type_max(type);
    uint32_t sum = 0;
    do {
        int32_t v = tk_s8a_load(input, (size_t)(base + tk_offset_of(index, s->strides)), type);
        sum += (uint32_t)v;
        best = how == TK_FOLD_MAX ? (v > best ? v : best) : (v < best ? v : best);
    } while (tk_next_index(index, s->group));
    return how == TK_FOLD_SUM ? sum : (uint32_t)best;
}

#endif /* TOCO_REDUCE_S8_H */
