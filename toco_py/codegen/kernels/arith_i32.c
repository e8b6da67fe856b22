/* int32 ADD, SUB, MUL, FLOOR_DIV, FLOOR_MOD, MAXIMUM and MINIMUM with broadcasting and a
 * clamp (a fused activation: ADD, SUB and MUL only): loop counters and index arithmetic.
 * The arithmetic wraps as two's complement, as LiteRT's int32 kernels do on every machine
 * it runs on (computed on unsigned values, where C defines the wrap). FLOOR_DIV and
 * FLOOR_MOD fail on a zero divisor anywhere in b, as LiteRT's do, before writing anything. */
#include "toco_kernels.h"

static int32_t wrap(uint32_t x)
{
    return x <= (uint32_t)INT32_MAX ? (int32_t)x : -(int32_t)(~x) - 1;
}

static int32_t op_add(int32_t a, int32_t b) { return wrap((uint32_t)a + (uint32_t)b); }
static int32_t op_sub(int32_t a, int32_t b) { return wrap((uint32_t)a - (uint32_t)b); }
static int32_t op_mul(int32_t a, int32_t b) { return wrap((uint32_t)a * (uint32_t)b); }
/* Rounded toward minus infinity (LiteRT: floor of the double quotient, exact for int32);
 * in int64, where INT32_MIN / -1 does not trap: it wraps to INT32_MIN, as LiteRT's
 * conversion of 2^31 to int32 gives on x86. */
static int32_t op_floor_div(int32_t a, int32_t b)
{
    int64_t q = (int64_t)a / b;
    if (q * b != a && (a < 0) != (b < 0)) {
        --q;
    }
    return wrap((uint32_t)q);
}
/* The remainder takes the divisor's sign (LiteRT's FloorMod: C's remainder, plus b when
 * their signs differ); in int64, where INT32_MIN % -1 does not trap. */
static int32_t op_floor_mod(int32_t a, int32_t b)
{
    int32_t r = (int32_t)((int64_t)a % b);
    return r != 0 && (r < 0) != (b < 0) ? r + b : r;
}

static int32_t op_maximum(int32_t a, int32_t b) { return a < b ? b : a; }
static int32_t op_minimum(int32_t a, int32_t b) { return b < a ? b : a; }

static int has_zero(const int32_t *b, const int32_t *b_dims, int rank)
{
    int32_t count = tk_element_count(b_dims, rank), i;
    for (i = 0; i < count; ++i) {
        if (b[i] == 0) {
            return 1;
        }
    }
    return 0;
}

#define DEFINE_BINARY_I32(op, divides)                                                     \
    int tk_##op##_i32(const int32_t *a, const int32_t *a_dims, const int32_t *b,            \
                      const int32_t *b_dims, int32_t *output, const int32_t *output_dims,   \
                      int rank, int32_t act_min, int32_t act_max)                           \
    {                                                                                       \
        tk_walk walk;                                                                       \
        int32_t count, i;                                                                   \
        if (divides && has_zero(b, b_dims, rank)) {                                         \
            return TK_ERROR_DIVISION_BY_ZERO;                                               \
        }                                                                                   \
        count = tk_walk_start(&walk, a_dims, b_dims, output_dims, rank);                    \
        for (i = 0; i < count; ++i, tk_walk_next(&walk)) {                                  \
            int32_t x = op_##op(a[walk.a], b[walk.b]);                                      \
            output[i] = x < act_min ? act_min : (x > act_max ? act_max : x);                \
        }                                                                                   \
        return TK_OK;                                                                       \
    }
DEFINE_BINARY_I32(add, 0)
DEFINE_BINARY_I32(sub, 0)
DEFINE_BINARY_I32(mul, 0)
DEFINE_BINARY_I32(floor_div, 1)
DEFINE_BINARY_I32(floor_mod, 1)
DEFINE_BINARY_I32(maximum, 0)
DEFINE_BINARY_I32(minimum, 0)
#undef DEFINE_BINARY_I32
