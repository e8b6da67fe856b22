/* int8 LESS, LESS_EQUAL, GREATER, GREATER_EQUAL, EQUAL, NOT_EQUAL (comparisons.cc): both
 * sides in real units times 2^left_shift, then compared; the outputs are bool bytes.
 *
 * One walk (binary_s8.h) serves the six: it stores how each pair compares (0 less, 1
 * equal, 2 greater), and a second pass turns that into the op's truth value, so the file
 * holds one copy of the walk rather than one per op. */
#include "binary_s8.h"

static int32_t three_way(int32_t a, int32_t b, const tk_binary_s8_params *p)
{
    int32_t ra = tk_rescale_a_s8(a, p), rb = tk_rescale_b_s8(b, p);
    return (ra > rb) - (ra < rb) + 1;
}

/* truth: the op's result for less, equal, greater. */
static void compare(const int8_t *a, const int32_t *a_dims, const int8_t *b,
                    const int32_t *b_dims, uint8_t *output, const int32_t *output_dims,
                    int rank, const tk_binary_s8_params *params, const uint8_t *truth)
{
    size_t count = (size_t)tk_element_count(output_dims, rank), i;
    tk_broadcast_s8(a, a_dims, b, b_dims, NULL, output, output_dims, rank, params, three_way);
    for (i = 0; i < count; ++i) {
        output[i] = truth[output[i]];
    }
}

#define DEFINE_COMPARISON(op, if_less, if_equal, if_greater)                               \
    int tk_##op##_s8(const int8_t *a, const int32_t *a_dims, const int8_t *b,               \
                     const int32_t *b_dims, uint8_t *output, const int32_t *output_dims,    \
                     int rank, const tk_binary_s8_params *params)                           \
    {                                                                                       \
        static const uint8_t truth[3] = {if_less, if_equal, if_greater};                   \
        compare(a, a_dims, b, b_dims, output, output_dims, rank, params, truth);            \
        return TK_OK;                                                                       \
    }
DEFINE_COMPARISON(less, 1, 0, 0)
DEFINE_COMPARISON(less_equal, 1, 1, 0)
DEFINE_COMPARISON(greater, 0, 0, 1)
DEFINE_COMPARISON(greater_equal, 0, 1, 1)
DEFINE_COMPARISON(equal, 0, 1, 0)
DEFINE_COMPARISON(not_equal, 1, 0, 1)
#undef DEFINE_COMPARISON
