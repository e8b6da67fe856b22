/* Reductions over any set of axes (flags in `reduced`); keep_dims only changes the
 * output's shape, not its layout, so the kernels ignore it. ARG_MAX / ARG_MIN at the end. */
#include <float.h>

#include "toco_kernels.h"

enum reduction { REDUCE_SUM, REDUCE_MEAN, REDUCE_MAX };

static float fold(float value, float x, enum reduction kind)
{
    if (kind == REDUCE_MAX) {
        return x > value ? x : value;
    }
    return value + x;
}

/* Every input element folded into the output element its kept axes name, in the input's
 * order (each output's sum adds its elements in that order). */
static void fold_all(const float *input, const int32_t *dims, const int32_t *out_strides,
                     float *output, enum reduction kind)
{
    int32_t index[TK_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    int32_t total = tk_element_count(dims, TK_MAX_RANK), i, d;
    for (i = 0; i < total; ++i) {
        int32_t at = 0;
        for (d = 0; d < TK_MAX_RANK; ++d) {
            at += index[d] * out_strides[d];
        }
        output[at] = fold(output[at], input[i], kind);
        tk_next_index(index, dims);
    }
}

/* The same when the reduced axes are adjacent (tk_reduced_run): an [outer][count][inner]
 * input, walked in the same order without the index arithmetic. */
static void fold_run(const float *input, int32_t outer, int32_t count, int32_t inner,
                     float *output, enum reduction kind)
{
    int32_t o, r, i;
    for (o = 0; o < outer; ++o) {
        float *out = output + (size_t)o * (size_t)inner;
        for (r = 0; r < count; ++r) {
            const float *row = input + ((size_t)o * (size_t)count + (size_t)r) * (size_t)inner;
            for (i = 0; i < inner; ++i) {
                out[i] = fold(out[i], row[i], kind);
            }
        }
    }
}

static void reduce(const float *input, const int32_t *input_dims, int rank,
                   const int32_t *reduced, float *output, enum reduction kind)
{
    int32_t dims[TK_MAX_RANK], out_strides[TK_MAX_RANK];
    int32_t out_count = 1, group = 1, outer, count, inner, i, d;
    int lead = TK_MAX_RANK - rank;
    tk_pad_dims(input_dims, rank, dims);
    for (d = TK_MAX_RANK - 1; d >= 0; --d) {
        int flag = d >= lead && reduced[d - lead];
        out_strides[d] = flag ? 0 : out_count;
        out_count *= flag ? 1 : dims[d];
        group *= flag ? dims[d] : 1;
    }
    for (i = 0; i < out_count; ++i) {
        output[i] = kind == REDUCE_MAX ? -FLT_MAX : 0.0f;
    }
    if (tk_reduced_run(input_dims, rank, reduced, &outer, &count, &inner)) {
        fold_run(input, outer, count, inner, output, kind);
    } else {
        fold_all(input, dims, out_strides, output, kind);
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

/* ARG_MAX and ARG_MIN over one axis, the input seen as [outer][count][inner]: the position
 * of the first largest (smallest) value, as LiteRT's reference kernel (a later value wins
 * only if strictly greater, or less). */
#define DEFINE_ARG(op, suffix, type, index_type, better)                                  \
    int tk_##op##_##suffix(const type *input, int32_t outer, int32_t count, int32_t inner, \
                           index_type *output)                                             \
    {                                                                                      \
        int32_t o, i, k;                                                                   \
        for (o = 0; o < outer; ++o) {                                                      \
            for (i = 0; i < inner; ++i) {                                                  \
                const type *x = input + (size_t)o * count * inner + i;                     \
                type best = x[0];                                                          \
                int32_t at = 0;                                                            \
                for (k = 1; k < count; ++k) {                                              \
                    if (x[(size_t)k * inner] better best) {                                \
                        best = x[(size_t)k * inner];                                       \
                        at = k;                                                            \
                    }                                                                      \
                }                                                                          \
                output[(size_t)o * inner + i] = at;                                        \
            }                                                                              \
        }                                                                                  \
        return TK_OK;                                                                      \
    }
DEFINE_ARG(arg_max, f32_i32, float, int32_t, >)
DEFINE_ARG(arg_max, f32_i64, float, int64_t, >)
DEFINE_ARG(arg_min, f32_i32, float, int32_t, <)
DEFINE_ARG(arg_min, f32_i64, float, int64_t, <)
#undef DEFINE_ARG
