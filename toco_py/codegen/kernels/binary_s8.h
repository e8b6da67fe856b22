/* What the int8 broadcasting binary ops share (add_s8.c, sub_s8.c, mul_s8.c ... one file
 * per op, so that a bundle compiles only the ops it calls): the walk over the output and
 * the rescaling of the inputs, after toco_py/ops/int8/elementwise.py. The 16x8 ADD, SUB and
 * MUL (add_s16.c ...) share them too: the walk over int16 data, the same element functions
 * (toco_py/ops/int16/elementwise.py computes with the int8 ones), their clamp int16's.
 *
 * Static inline: each op's file gets its own copy of the walk with its element function
 * inlined into the loops. */
#ifndef TOCO_BINARY_S8_H
#define TOCO_BINARY_S8_H

#include "toco_kernels.h"
#include "fixedpoint_s8.h"

typedef int32_t (*tk_element_s8_fn)(int32_t a, int32_t b, const tk_binary_s8_params *p);

/* tk_broadcast_<suffix> for inputs and output of `type` (int8; int16 for the 16x8 ops):
 * walks the output over six axes (numpy broadcasting, like the float kernels); inputs of
 * the output's own shape (the common case: residual ADDs) take one flat loop instead.
 * fn's result is stored as `type`, or as a bool byte when out_bool is given instead. */
#define TK_DEFINE_BROADCAST(suffix, type)                                                    \
static inline void tk_store_##suffix(type *out, uint8_t *out_bool, size_t i, int32_t v)      \
{                                                                                            \
    if (out) {                                                                               \
        out[i] = (type)v;                                                                    \
    } else {                                                                                 \
        out_bool[i] = (uint8_t)v;                                                            \
    }                                                                                        \
}                                                                                            \
                                                                                             \
static inline void tk_broadcast_##suffix(const type *a, const int32_t *a_dims, const type *b, \
                                         const int32_t *b_dims, type *out, uint8_t *out_bool, \
                                         const int32_t *output_dims, int rank,               \
                                         const tk_binary_s8_params *p, tk_element_s8_fn fn)  \
{                                                                                            \
    int32_t ad[TK_MAX_RANK], bd[TK_MAX_RANK], od[TK_MAX_RANK], as[TK_MAX_RANK], bs[TK_MAX_RANK]; \
    int32_t i0, i1, i2, i3, i4, i5, d, same = 1;                                             \
    size_t i = 0;                                                                            \
    tk_pad_dims(a_dims, rank, ad);                                                           \
    tk_pad_dims(b_dims, rank, bd);                                                           \
    tk_pad_dims(output_dims, rank, od);                                                      \
    for (d = 0; d < TK_MAX_RANK; ++d) {                                                      \
        same = same && ad[d] == od[d] && bd[d] == od[d];                                     \
    }                                                                                        \
    if (same) {                                                                              \
        size_t count = (size_t)tk_element_count(od, TK_MAX_RANK);                            \
        for (i = 0; i < count; ++i) {                                                        \
            tk_store_##suffix(out, out_bool, i, fn(a[i], b[i], p));                          \
        }                                                                                    \
        return;                                                                              \
    }                                                                                        \
    tk_broadcast_strides(ad, od, as);                                                        \
    tk_broadcast_strides(bd, od, bs);                                                        \
    for (i0 = 0; i0 < od[0]; ++i0)                                                           \
    for (i1 = 0; i1 < od[1]; ++i1)                                                           \
    for (i2 = 0; i2 < od[2]; ++i2)                                                           \
    for (i3 = 0; i3 < od[3]; ++i3)                                                           \
    for (i4 = 0; i4 < od[4]; ++i4) {                                                         \
        const type *pa = a + i0 * as[0] + i1 * as[1] + i2 * as[2] + i3 * as[3] + i4 * as[4]; \
        const type *pb = b + i0 * bs[0] + i1 * bs[1] + i2 * bs[2] + i3 * bs[3] + i4 * bs[4]; \
        for (i5 = 0; i5 < od[5]; ++i5) {                                                     \
            tk_store_##suffix(out, out_bool, i++, fn(pa[i5 * as[5]], pb[i5 * bs[5]], p));    \
        }                                                                                    \
    }                                                                                        \
}

TK_DEFINE_BROADCAST(s8, int8_t)
TK_DEFINE_BROADCAST(s16, int16_t)

/* (x - zero) << left_shift, then the input's multiplier: both inputs land on one scale
 * with left_shift bits of headroom (ADD, SUB, SQUARED_DIFFERENCE, the comparisons). */
static inline int32_t tk_rescale_a_s8(int32_t a, const tk_binary_s8_params *p)
{
    return tk_mbqm_stoe((a - p->a_zero) * ((int32_t)1 << p->left_shift), p->a_multiplier,
                        p->a_shift);
}

static inline int32_t tk_rescale_b_s8(int32_t b, const tk_binary_s8_params *p)
{
    return tk_mbqm_stoe((b - p->b_zero) * ((int32_t)1 << p->left_shift), p->b_multiplier,
                        p->b_shift);
}

/* The output multiplier (below-one form, as add.cc/sub.cc), the zero point, the clamp. */
static inline int32_t tk_finish_s8(int32_t raw, const tk_binary_s8_params *p)
{
    int32_t out = tk_mbqm_stoe(raw, p->out_multiplier, p->out_shift);
    return tk_clamp_s32(tk_wrap32((int64_t)out + p->out_zero), p->act_min, p->act_max);
}

/* The general multiplier (either sign of shift), the zero point, the clamp (MUL, PRELU). */
static inline int32_t tk_finish_general_s8(int32_t raw, int32_t multiplier, int32_t shift,
                                           const tk_binary_s8_params *p)
{
    int32_t out = tk_mbqm(raw, multiplier, shift);
    return tk_clamp_s32(tk_wrap32((int64_t)out + p->out_zero), p->act_min, p->act_max);
}

/* The element functions of ADD, SUB (add.cc, sub.cc: the rescaled inputs' sum or
 * difference, then the output's multiplier) and MUL (mul.cc: the product of the offset
 * inputs, then the general multiplier), for int8 and the 16x8 general paths alike. */
static inline int32_t tk_add_element(int32_t a, int32_t b, const tk_binary_s8_params *p)
{
    return tk_finish_s8(tk_wrap32((int64_t)tk_rescale_a_s8(a, p) + tk_rescale_b_s8(b, p)), p);
}

static inline int32_t tk_sub_element(int32_t a, int32_t b, const tk_binary_s8_params *p)
{
    return tk_finish_s8(tk_wrap32((int64_t)tk_rescale_a_s8(a, p) - tk_rescale_b_s8(b, p)), p);
}

static inline int32_t tk_mul_element(int32_t a, int32_t b, const tk_binary_s8_params *p)
{
    int32_t product = tk_wrap32((int64_t)(a - p->a_zero) * (b - p->b_zero));
    return tk_finish_general_s8(product, p->out_multiplier, p->out_shift, p);
}

/* ADD's and SUB's 16-bit power-of-two path (PrepareInt16SubOpPOT): a_shift / b_shift
 * shift an input right to the output's scale (0: already there), then the sum or
 * difference, clamped. */
static inline int32_t tk_pot_element_s16(int32_t a, int32_t b, const tk_binary_s8_params *p,
                                         int is_sub)
{
    int32_t x = p->a_shift ? tk_rdbpot16(a, p->a_shift) : a;
    int32_t y = p->b_shift ? tk_rdbpot16(b, p->b_shift) : b;
    return tk_clamp_s32(is_sub ? (int64_t)x - y : (int64_t)x + y, p->act_min, p->act_max);
}

#endif /* TOCO_BINARY_S8_H */
