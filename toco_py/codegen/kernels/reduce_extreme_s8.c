/* Quantized REDUCE_MAX and REDUCE_MIN over any set of axes (toco_py/ops/int8/reduce.py,
 * after LiteRT's reference reductions), on the raw integers; keep_dims only changes the
 * output's shape, not its layout. */
#include "reduce_s8.h"

static int extreme(const void *input, const int32_t *input_dims, int rank,
                   const int32_t *reduced, void *output, int type, enum tk_fold how)
{
    struct tk_split_axes s = tk_split_axes(input_dims, rank, reduced);
    int32_t index[TK_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    size_t i = 0;
    if (tk_element_count(input_dims, rank) == 0) {
        return TK_ERROR_BAD_SHAPE; /* the extreme of nothing: numpy fails too */
    }
    do {
        uint32_t best = tk_fold_group(input, type, &s, tk_offset_of(index, s.strides), how);
        tk_s8a_store(output, i++, type, tk_wrap32(best));
    } while (tk_next_index(index, s.kept));
    return TK_OK;
}

int tk_reduce_max_q(const void *input, const int32_t *input_dims, int rank,
                    const int32_t *reduced, void *output, int type)
{
    return extreme(input, input_dims, rank, reduced, output, type, TK_FOLD_MAX);
}

int tk_reduce_min_q(const void *input, const int32_t *input_dims, int rank,
                    const int32_t *reduced, void *output, int type)
{
    return extreme(input, input_dims, rank, reduced, output, type, TK_FOLD_MIN);
}
