/* TOPK_V2 along the last axis: the k largest values of each row, largest first, equal values
 * by ascending index (LiteRT's order), with their indices. Pick j is the best element the
 * ordering puts after pick j - 1: k passes over the row, no scratch memory (k is small in
 * decoders: beams). */
#include "toco_kernels.h"

#define DEFINE_TOPK(suffix, type)                                                          \
    int tk_topk_##suffix(const type *input, int32_t rows, int32_t depth, int32_t k,         \
                         type *values, int32_t *indices)                                    \
    {                                                                                       \
        int32_t r, j, i;                                                                    \
        for (r = 0; r < rows; ++r) {                                                        \
            const type *x = input + (size_t)r * depth;                                      \
            int32_t *picked = indices + (size_t)r * k;                                      \
            for (j = 0; j < k; ++j) {                                                       \
                int32_t best = -1, last = j > 0 ? picked[j - 1] : -1;                       \
                for (i = 0; i < depth; ++i) {                                               \
                    /* only what the order puts after the previous pick */                  \
                    if (last >= 0 && (x[i] > x[last] || (x[i] == x[last] && i <= last))) {  \
                        continue;                                                           \
                    }                                                                       \
                    if (best < 0 || x[i] > x[best]) {                                       \
                        best = i;                                                           \
                    }                                                                       \
                }                                                                           \
                picked[j] = best;                                                           \
                values[(size_t)r * k + j] = x[best];                                        \
            }                                                                               \
        }                                                                                   \
        return TK_OK;                                                                       \
    }
DEFINE_TOPK(f32, float)
DEFINE_TOPK(i32, int32_t)
#undef DEFINE_TOPK
