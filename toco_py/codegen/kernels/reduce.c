/* Reductions over any set of axes (flags in `reduced`); keep_dims only changes the
 * output's shape, not its layout, so the kernels ignore it. */
#include <float.h>

#include "toco_kernels.h"

enum reduction { REDUCE_SUM, REDUCE_MEAN, REDUCE_MAX };

/* Every input element folded into the output element its kept axes name. */
static void reduce(const float *input, const int32_t *input_dims, int rank,
                   const int32_t *reduced, float *output, enum reduction kind)
{
    int32_t dims[TK_MAX_RANK], flags[TK_MAX_RANK], out_strides[TK_MAX_RANK];
    int32_t index[TK_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    int32_t out_count = 1, group = 1, total, i, d;
    int lead = TK_MAX_RANK - rank;
    tk_pad_dims(input_dims, rank, dims);
    for (d = TK_MAX_RANK - 1; d >= 0; --d) {
        flags[d] = d >= lead && reduced[d - lead];
        out_strides[d] = flags[d] ? 0 : out_count;
        out_count *= flags[d] ? 1 : dims[d];
        group *= flags[d] ? dims[d] : 1;
    }
    for (i = 0; i < out_count; ++i) {
        output[i] = kind == REDUCE_MAX ? -FLT_MAX : 0.0f;
    }
    total = tk_element_count(dims, TK_MAX_RANK);
    for (i = 0; i < total; ++i) {
        int32_t at = 0;
        for (d = 0; d < TK_MAX_RANK; ++d) {
            at += index[d] * out_strides[d];
        }
        if (kind == REDUCE_MAX) {
            output[at] = input[i] > output[at] ? input[i] : output[at];
        } else {
            output[at] += input[i];
        }
        tk_next_index(index, dims);
    }
    if (kind == REDUCE_MEAN && group > 0) {
        for (i = 0; i < out_count; ++i) {
            output[i] /= (float)group;
        }
    }
}

int tk_sum_f32(const float *input, const int32_t *input_dims, int rank,
               const int32_t *reduced, float *output)
{
    reduce(input, input_dims, rank, reduced, output, REDUCE_SUM);
    return TK_OK;
}

int tk_mean_f32(const float *input, const int32_t *input_dims, int rank,
                const int32_t *reduced, float *output)
{
    reduce(input, input_dims, rank, reduced, output, REDUCE_MEAN);
    return TK_OK;
}

int tk_reduce_max_f32(const float *input, const int32_t *input_dims, int rank,
                      const int32_t *reduced, float *output)
{
    reduce(input, input_dims, rank, reduced, output, REDUCE_MAX);
    return TK_OK;
}
