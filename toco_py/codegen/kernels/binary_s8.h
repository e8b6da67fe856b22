/* What the int8 broadcasting binary ops share (add_s8.c, sub_s8.c, mul_s8.c ... one file
 * per op, so that a bundle compiles only the ops it calls): the walk over the output and
 * the rescaling of the inputs, after toco_py/ops/int8/elementwise.py.
 *
 * Static inline: each op's file gets its own copy of the walk with its element function
 * inlined into the loops. */
#ifndef TOCO_BINARY_S8_H
#define TOCO_BINARY_S8_H

#include "toco_kernels.h"
#include "fixedpoint_s8.h"

typedef int32_t (*tk_element_s8_fn)(int32_t a, int32_t b, const tk_binary_s8_params *p);

/* Stores fn's result as int8, or as a bool byte when out_bool is given instead. */
static inline void tk_store_s8(int8_t *out_s8, uint8_t *out_bool, size_t i, int32_t v)
{
    if (out_s8) {
        out_s8[i] = (int8_t)v;
    } else {
        out_bool[i] = (uint8_t)v;
    }
}

/* Walks the output over six axes (numpy broadcasting, like the float kernels); inputs of
 * the output's own shape (the common case: residual ADDs) take one flat loop instead. */
static inline void tk_broadcast_s8(const int8_t *a, const int32_t *a_dims, const int8_t *b,
                                   const int32_t *b_dims, int8_t *out_s8, uint8_t *out_bool,
                                   const int32_t *output_dims, int rank,
                                   const tk_binary_s8_params *p, tk_element_s8_fn fn)
{
    int32_t ad[TK_MAX_RANK], bd[TK_MAX_RANK], od[TK_MAX_RANK], as[TK_MAX_RANK], bs[TK_MAX_RANK];
    int32_t i0, i1, i2, i3, i4, i5, d, same = 1;
    size_t i = 0;
    tk_pad_dims(a_dims, rank, ad);
    tk_pad_dims(b_dims, rank, bd);
    tk_pad_dims(output_dims, rank, od);
    for (d = 0; d < TK_MAX_RANK; ++d) {
        same = same && ad[d] == od[d] && bd[d] == od[d];
    }
    if (same) {
        size_t count = (size_t)tk_element_count(od, TK_MAX_RANK);
        for (i = 0; i < count; ++i) {
            tk_store_s8(out_s8, out_bool, i, fn(a[i], b[i], p));
        }
        return;
    }
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
            tk_store_s8(out_s8, out_bool, i++, fn(pa[i5 * as[5]], pb[i5 * bs[5]], p));
        }
    }
}

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

#endif /* TOCO_BINARY_S8_H */
