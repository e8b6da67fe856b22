/* int32 ADD, SUB and MUL with broadcasting and a clamp (a fused activation): loop counters
 * and index arithmetic. The arithmetic wraps as two's complement, as LiteRT's int32 kernels
 * do on every machine it runs on (computed on unsigned values, where C defines the wrap). */
#include "toco_kernels.h"

static int32_t wrap(uint32_t x)
{
    return x <= (uint32_t)INT32_MAX ? (int32_t)x : -(int32_t)(~x) - 1;
}

static int32_t op_add(int32_t a, int32_t b) { return wrap((uint32_t)a + (uint32_t)b); }
static int32_t op_sub(int32_t a, int32_t b) { return wrap((uint32_t)a - (uint32_t)b); }
static int32_t op_mul(int32_t a, int32_t b) { return wrap((uint32_t)a * (uint32_t)b); }

#define DEFINE_BINARY_I32(op)                                                              \
    int tk_##op##_i32(const int32_t *a, const int32_t *a_dims, const int32_t *b,            \
                      const int32_t *b_dims, int32_t *output, const int32_t *output_dims,   \
                      int rank, int32_t act_min, int32_t act_max)                           \
    {                                                                                       \
        tk_walk walk;                                                                       \
        int32_t count = tk_walk_start(&walk, a_dims, b_dims, output_dims, rank), i;         \
        for (i = 0; i < count; ++i, tk_walk_next(&walk)) {                                  \
            int32_t x = op_##op(a[walk.a], b[walk.b]);                                      \
            output[i] = x < act_min ? act_min : (x > act_max ? act_max : x);                \
        }                                                                                   \
        return TK_OK;                                                                       \
    }
DEFINE_BINARY_I32(add)
DEFINE_BINARY_I32(sub)
DEFINE_BINARY_I32(mul)
#undef DEFINE_BINARY_I32
