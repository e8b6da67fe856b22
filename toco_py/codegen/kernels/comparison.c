/* float32 and int32 LESS, LESS_EQUAL, GREATER, GREATER_EQUAL, EQUAL, NOT_EQUAL with
 * broadcasting, and LOGICAL_AND, LOGICAL_OR (broadcasting) and LOGICAL_NOT of bools (a loop's
 * condition); the outputs are bool bytes, 0 or 1. Each pair is classified (0 less, 1 equal,
 * 2 greater, 3 unordered: a NaN) and the op's truth table turns that into its result, so
 * one walk serves the six ops; a NaN makes every comparison false but NOT_EQUAL, as in C. */
#include "toco_kernels.h"

#define DEFINE_CLASSIFY(suffix, type)                                                      \
    static void classify_##suffix(const type *a, const int32_t *a_dims, const type *b,      \
                                  const int32_t *b_dims, uint8_t *output,                  \
                                  const int32_t *output_dims, int rank, const uint8_t *truth) \
    {                                                                                       \
        tk_walk walk;                                                                       \
        int32_t count = tk_walk_start(&walk, a_dims, b_dims, output_dims, rank), i;         \
        for (i = 0; i < count; ++i, tk_walk_next(&walk)) {                                  \
            type x = a[walk.a], y = b[walk.b];                                              \
            output[i] = truth[x < y ? 0 : x == y ? 1 : x > y ? 2 : 3];                      \
        }                                                                                   \
    }
DEFINE_CLASSIFY(f32, float)
DEFINE_CLASSIFY(i32, int32_t)
#undef DEFINE_CLASSIFY

#define DEFINE_COMPARISON(op, suffix, type, if_less, if_equal, if_greater, if_unordered)   \
    int tk_##op##_##suffix(const type *a, const int32_t *a_dims, const type *b,             \
                           const int32_t *b_dims, uint8_t *output, const int32_t *output_dims, \
                           int rank)                                                        \
    {                                                                                       \
        static const uint8_t truth[4] = {if_less, if_equal, if_greater, if_unordered};      \
        classify_##suffix(a, a_dims, b, b_dims, output, output_dims, rank, truth);          \
        return TK_OK;                                                                       \
    }
/* op, type: the truth for less, equal, greater, unordered */
DEFINE_COMPARISON(less, f32, float, 1, 0, 0, 0)
DEFINE_COMPARISON(less_equal, f32, float, 1, 1, 0, 0)
DEFINE_COMPARISON(greater, f32, float, 0, 0, 1, 0)
DEFINE_COMPARISON(greater_equal, f32, float, 0, 1, 1, 0)
DEFINE_COMPARISON(equal, f32, float, 0, 1, 0, 0)
DEFINE_COMPARISON(not_equal, f32, float, 1, 0, 1, 1)
DEFINE_COMPARISON(less, i32, int32_t, 1, 0, 0, 0)
DEFINE_COMPARISON(less_equal, i32, int32_t, 1, 1, 0, 0)
DEFINE_COMPARISON(greater, i32, int32_t, 0, 0, 1, 0)
DEFINE_COMPARISON(greater_equal, i32, int32_t, 0, 1, 1, 0)
DEFINE_COMPARISON(equal, i32, int32_t, 0, 1, 0, 0)
DEFINE_COMPARISON(not_equal, i32, int32_t, 1, 0, 1, 1)
#undef DEFINE_COMPARISON

#define DEFINE_LOGICAL(op, expression)                                                     \
    int tk_logical_##op##_b8(const uint8_t *a, const int32_t *a_dims, const uint8_t *b,      \
                             const int32_t *b_dims, uint8_t *output,                        \
                             const int32_t *output_dims, int rank)                          \
    {                                                                                       \
        tk_walk walk;                                                                       \
        int32_t count = tk_walk_start(&walk, a_dims, b_dims, output_dims, rank), i;         \
        for (i = 0; i < count; ++i, tk_walk_next(&walk)) {                                  \
            uint8_t x = a[walk.a], y = b[walk.b];                                           \
            output[i] = (uint8_t)(expression);                                              \
        }                                                                                   \
        return TK_OK;                                                                       \
    }
DEFINE_LOGICAL(and, x && y)
DEFINE_LOGICAL(or, x || y)
#undef DEFINE_LOGICAL

int tk_logical_not_b8(const uint8_t *input, uint8_t *output, int32_t count)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        output[i] = (uint8_t)!input[i];
    }
    return TK_OK;
}
