/* Broadcasting binary ops (numpy rules, inputs given at the output's rank, up to
 * TK_MAX_RANK); the unary math is in unary.c. FLOOR_DIV fails on a zero divisor anywhere
 * in b, as LiteRT's does; FLOOR_MOD gives NaN there (LiteRT checks integer divisors only). */
#include <math.h>

#include "toco_kernels.h"

typedef float (*binary_fn)(float, float);

static float op_add(float a, float b) { return a + b; }
static float op_sub(float a, float b) { return a - b; }
static float op_mul(float a, float b) { return a * b; }
static float op_div(float a, float b) { return a / b; }
/* NaN-propagating like std::max/std::min on the first argument, as LiteRT. */
static float op_maximum(float a, float b) { return a < b ? b : a; }
static float op_minimum(float a, float b) { return b < a ? b : a; }
static float op_squared_difference(float a, float b) { return (a - b) * (a - b); }
static float op_prelu(float x, float alpha) { return x >= 0.0f ? x : x * alpha; }
/* LiteRT's FloorDiv: the floor of the quotient computed in double. */
static float op_floor_div(float a, float b) { return (float)floor((double)a / (double)b); }
/* LiteRT's FloorMod: fmodf's remainder, plus b when their signs differ. */
static float op_floor_mod(float a, float b)
{
    float r = fmodf(a, b);
    return r != 0.0f && (r < 0.0f) != (b < 0.0f) ? r + b : r;
}

static int has_zero(const float *b, const int32_t *b_dims, int rank)
{
    int32_t count = tk_element_count(b_dims, rank), i;
    for (i = 0; i < count; ++i) {
        if (b[i] == 0.0f) {
            return 1;
        }
    }
    return 0;
}

/* Walks the output over six axes; the innermost axis runs as a plain strided loop. Static
 * so that the compiler can specialise it for each `fn` below. */
static void broadcast_binary(const float *a, const int32_t *a_dims, const float *b,
                             const int32_t *b_dims, float *output, const int32_t *output_dims,
                             int rank, float act_min, float act_max, binary_fn fn)
{
    int32_t ad[TK_MAX_RANK], bd[TK_MAX_RANK], od[TK_MAX_RANK], as[TK_MAX_RANK], bs[TK_MAX_RANK];
    int32_t i0, i1, i2, i3, i4, i5;
    float *out = output;
    tk_pad_dims(a_dims, rank, ad);
    tk_pad_dims(b_dims, rank, bd);
    tk_pad_dims(output_dims, rank, od);
    tk_broadcast_strides(ad, od, as);
    tk_broadcast_strides(bd, od, bs);
    for (i0 = 0; i0 < od[0]; ++i0)
    for (i1 = 0; i1 < od[1]; ++i1)
    for (i2 = 0; i2 < od[2]; ++i2)
    for (i3 = 0; i3 < od[3]; ++i3)
    for (i4 = 0; i4 < od[4]; ++i4) {
        const float *pa = a + i0 * as[0] + i1 * as[1] + i2 * as[2] + i3 * as[3] + i4 * as[4];
        const float *pb = b + i0 * bs[0] + i1 * bs[1] + i2 * bs[2] + i3 * bs[3] + i4 * bs[4];
        for (i5 = 0; i5 < od[5]; ++i5) {
            *out++ = tk_clamp_f32(fn(pa[i5 * as[5]], pb[i5 * bs[5]]), act_min, act_max);
        }
    }
}

#define DEFINE_BINARY(op, divides)                                                         \
    int tk_##op##_f32(const float *a, const int32_t *a_dims, const float *b,                \
                      const int32_t *b_dims, float *output, const int32_t *output_dims,     \
                      int rank, float act_min, float act_max)                               \
    {                                                                                       \
        if (divides && has_zero(b, b_dims, rank)) {                                         \
            return TK_ERROR_DIVISION_BY_ZERO;                                               \
        }                                                                                   \
        broadcast_binary(a, a_dims, b, b_dims, output, output_dims, rank, act_min, act_max, \
                         op_##op);                                                          \
        return TK_OK;                                                                       \
    }

DEFINE_BINARY(add, 0)
DEFINE_BINARY(sub, 0)
DEFINE_BINARY(mul, 0)
DEFINE_BINARY(div, 0)
DEFINE_BINARY(maximum, 0)
DEFINE_BINARY(minimum, 0)
DEFINE_BINARY(squared_difference, 0)
DEFINE_BINARY(prelu, 0)
DEFINE_BINARY(floor_div, 1)
DEFINE_BINARY(floor_mod, 0)
