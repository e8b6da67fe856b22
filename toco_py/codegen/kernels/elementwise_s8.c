/* int8 broadcasting binary ops (ADD, SUB, MUL, SQUARED_DIFFERENCE, MAXIMUM, MINIMUM, PRELU,
 * the six comparisons) and RSQRT: the per-element formulas of toco_py/ops/int8/
 * elementwise.py and activation.py (PRELU), with the multipliers the generator computed. */
#include "toco_kernels.h"
#include "fixedpoint_s8.h"

typedef int32_t (*element_fn)(int32_t a, int32_t b, const tk_binary_s8_params *p);

/* Walks the output over six axes (numpy broadcasting, like the float kernels) and stores
 * fn's result as int8, or as a bool byte when out_bool is given instead. */
static void broadcast_s8(const int8_t *a, const int32_t *a_dims, const int8_t *b,
                         const int32_t *b_dims, int8_t *out_s8, uint8_t *out_bool,
                         const int32_t *output_dims, int rank, const tk_binary_s8_params *p,
                         element_fn fn)
{
    int32_t ad[TK_MAX_RANK], bd[TK_MAX_RANK], od[TK_MAX_RANK], as[TK_MAX_RANK], bs[TK_MAX_RANK];
    int32_t i0, i1, i2, i3, i4, i5;
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
        const int8_t *pa = a + i0 * as[0] + i1 * as[1] + i2 * as[2] + i3 * as[3] + i4 * as[4];
        const int8_t *pb = b + i0 * bs[0] + i1 * bs[1] + i2 * bs[2] + i3 * bs[3] + i4 * bs[4];
        for (i5 = 0; i5 < od[5]; ++i5) {
            int32_t v = fn(pa[i5 * as[5]], pb[i5 * bs[5]], p);
            if (out_s8) {
                *out_s8++ = (int8_t)v;
            } else {
                *out_bool++ = (uint8_t)v;
            }
        }
    }
}

/* (x - zero) << left_shift, then the input's multiplier: both inputs land on one scale
 * with left_shift bits of headroom. */
static int32_t rescale_input(int32_t x, int32_t zero, int32_t left_shift, int32_t multiplier,
                             int32_t shift)
{
    return tk_mbqm_stoe((x - zero) * ((int32_t)1 << left_shift), multiplier, shift);
}

static int32_t rescale_a(int32_t a, const tk_binary_s8_params *p)
{
    return rescale_input(a, p->a_zero, p->left_shift, p->a_multiplier, p->a_shift);
}

static int32_t rescale_b(int32_t b, const tk_binary_s8_params *p)
{
    return rescale_input(b, p->b_zero, p->left_shift, p->b_multiplier, p->b_shift);
}

/* The output multiplier (below-one form, as add.cc/sub.cc), the zero point, the clamp. */
static int32_t finish(int32_t raw, const tk_binary_s8_params *p)
{
    int32_t out = tk_mbqm_stoe(raw, p->out_multiplier, p->out_shift);
    return tk_clamp_s32(tk_wrap32((int64_t)out + p->out_zero), p->act_min, p->act_max);
}

static int32_t add_element(int32_t a, int32_t b, const tk_binary_s8_params *p)
{
    return finish(tk_wrap32((int64_t)rescale_a(a, p) + rescale_b(b, p)), p);
}

static int32_t sub_element(int32_t a, int32_t b, const tk_binary_s8_params *p)
{
    return finish(tk_wrap32((int64_t)rescale_a(a, p) - rescale_b(b, p)), p);
}

static int32_t squared_difference_element(int32_t a, int32_t b, const tk_binary_s8_params *p)
{
    int32_t diff = tk_wrap32((int64_t)rescale_a(a, p) - rescale_b(b, p));
    return finish(tk_wrap32((int64_t)diff * diff), p);
}

/* mul.cc: the product of the offset inputs, then one general (either-sign) multiplier. */
static int32_t mul_element(int32_t a, int32_t b, const tk_binary_s8_params *p)
{
    int32_t product = tk_wrap32((int64_t)(a - p->a_zero) * (b - p->b_zero));
    int32_t out = tk_mbqm(product, p->out_multiplier, p->out_shift);
    return tk_clamp_s32(tk_wrap32((int64_t)out + p->out_zero), p->act_min, p->act_max);
}

/* maximum_minimum.cc compares the stored integers, whatever the quantization. */
static int32_t maximum_element(int32_t a, int32_t b, const tk_binary_s8_params *p)
{
    (void)p;
    return a > b ? a : b;
}

static int32_t minimum_element(int32_t a, int32_t b, const tk_binary_s8_params *p)
{
    (void)p;
    return a < b ? a : b;
}

/* x >= zero keeps x (requantized); below it, x times alpha. */
static int32_t prelu_element(int32_t x, int32_t alpha, const tk_binary_s8_params *p)
{
    int32_t value = x - p->a_zero, out;
    if (value >= 0) {
        out = tk_mbqm(value, p->a_multiplier, p->a_shift);
    } else {
        int32_t product = tk_wrap32((int64_t)value * (alpha - p->b_zero));
        out = tk_mbqm(product, p->b_multiplier, p->b_shift);
    }
    return tk_clamp_s32(tk_wrap32((int64_t)out + p->out_zero), p->act_min, p->act_max);
}

/* Comparisons: both sides in real units times 2^left_shift, then compared. */
#define COMPARISON(name, relation)                                                         \
    static int32_t name##_element(int32_t a, int32_t b, const tk_binary_s8_params *p)      \
    {                                                                                       \
        return rescale_a(a, p) relation rescale_b(b, p);                                    \
    }
COMPARISON(less, <)
COMPARISON(less_equal, <=)
COMPARISON(greater, >)
COMPARISON(greater_equal, >=)
COMPARISON(equal, ==)
COMPARISON(not_equal, !=)
#undef COMPARISON

#define DEFINE_BINARY(op, out_type, s8_out, bool_out)                                      \
    int tk_##op##_s8(const int8_t *a, const int32_t *a_dims, const int8_t *b,               \
                     const int32_t *b_dims, out_type *output, const int32_t *output_dims,   \
                     int rank, const tk_binary_s8_params *params)                           \
    {                                                                                       \
        broadcast_s8(a, a_dims, b, b_dims, s8_out, bool_out, output_dims, rank, params,     \
                     op##_element);                                                         \
        return TK_OK;                                                                       \
    }
#define DEFINE_S8(op) DEFINE_BINARY(op, int8_t, output, NULL)
#define DEFINE_BOOL(op) DEFINE_BINARY(op, uint8_t, NULL, output)

DEFINE_S8(add)
DEFINE_S8(sub)
DEFINE_S8(mul)
DEFINE_S8(squared_difference)
DEFINE_S8(maximum)
DEFINE_S8(minimum)
DEFINE_S8(prelu)
DEFINE_BOOL(less)
DEFINE_BOOL(less_equal)
DEFINE_BOOL(greater)
DEFINE_BOOL(greater_equal)
DEFINE_BOOL(equal)
DEFINE_BOOL(not_equal)

/* RsqrtEvalQuantizedInt8 for value = x - zero point > 0: 1/sqrt(value) with 20 fraction
 * bits, then the output multiplier; zero stands for the largest output. */
static int8_t rsqrt_value(int32_t value, int32_t multiplier, int32_t shift, int32_t out_zero)
{
    const int k_shift = 20;
    int32_t inv_multiplier, data;
    int inv_shift;
    if (value == 0) {
        return 127;
    }
    tk_inv_sqrt_multiplier(value, &inv_multiplier, &inv_shift);
    data = tk_mbqm(1, inv_multiplier, inv_shift + k_shift);
    data = tk_wrap32((int64_t)tk_mbqm(data, multiplier, shift - k_shift) + out_zero);
    return (int8_t)tk_clamp_s32(data, -128, 127);
}

int tk_rsqrt_s8(const int8_t *input, int8_t *output, int32_t count, int32_t in_zero,
                int32_t multiplier, int32_t shift, int32_t out_zero)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        if (input[i] < in_zero) {
            return TK_ERROR_BELOW_ZERO_POINT; /* before any write, as the numpy kernel */
        }
    }
    for (i = 0; i < count; ++i) {
        output[i] = rsqrt_value(input[i] - in_zero, multiplier, shift, out_zero);
    }
    return TK_OK;
}
