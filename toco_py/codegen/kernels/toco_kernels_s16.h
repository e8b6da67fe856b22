/* 16x8 kernels of toco-py's C bundles: int16 activations, int8 weights (included by
 * toco_kernels.h).
 *
 * Bit-exact with toco-py's numpy 16x8 kernels (toco_py/ops/int16, themselves bit-exact with
 * LiteRT's reference kernels). As for int8, the generator computes every multiplier, shift,
 * clamp and table in Python with the numpy kernels' own functions; the kernels only do the
 * integer arithmetic. LiteRT requires int16 zero points of 0, so none is passed. Pooling,
 * MEAN, SUM, the extremes, requantization and the data-moving ops take int16 through their
 * type-generic kernels (toco_kernels_s8a.h, toco_kernels.h).
 */
#ifndef TOCO_KERNELS_S16_H
#define TOCO_KERNELS_S16_H

#include <stdint.h>

/* ---- conv_s16.c: NHWC, an unpacked filter (CONV_2D: OHWI; DEPTHWISE_CONV_2D: 1HWO, the
 * multiplier from the shapes), an int64 bias or NULL, per-channel multipliers and shifts
 * (tk_mbqm64), the fused activation as an int16 clamp ------------------------------------ */
int tk_conv2d_s16(const int16_t *input, const int32_t *input_dims, const int8_t *filter,
                  const int32_t *filter_dims, const int64_t *bias, int16_t *output,
                  const int32_t *output_dims, int stride_h, int stride_w, int dilation_h,
                  int dilation_w, int pad_top, int pad_left, const int32_t *multipliers,
                  const int8_t *shifts, int32_t act_min, int32_t act_max);
int tk_depthwise_conv2d_s16(const int16_t *input, const int32_t *input_dims,
                            const int8_t *filter, const int32_t *filter_dims,
                            const int64_t *bias, int16_t *output, const int32_t *output_dims,
                            int stride_h, int stride_w, int dilation_h, int dilation_w,
                            int pad_top, int pad_left, const int32_t *multipliers,
                            const int8_t *shifts, int32_t act_min, int32_t act_max);

/* ---- fc_s16.c: weights [units, depth], an int64 bias or NULL; each unit's sums times its
 * scale (input scale * weight scale / output scale, a double) ----------------------------- */
int tk_fully_connected_s16(const int16_t *input, int32_t batches, int32_t depth,
                           const int8_t *weights, const int64_t *bias, int16_t *output,
                           int32_t units, const double *scales, int32_t act_min,
                           int32_t act_max);

/* ---- add_s16.c, sub_s16.c, mul_s16.c: broadcasting as the int8 ones (binary_s8.h), with
 * their params. The _pot kernels are ADD's and SUB's power-of-two path: a_shift / b_shift
 * are the right shifts of the inputs (0: none), act_min / act_max the clamp; ADD's cannot
 * broadcast (count elements), nor can MUL to int8. ------------------------------------------------------------- */
#define TK_BINARY_S16(op)                                                                   \
    int tk_##op##_s16(const int16_t *a, const int32_t *a_dims, const int16_t *b,            \
                      const int32_t *b_dims, int16_t *output, const int32_t *output_dims,   \
                      int rank, const tk_binary_s8_params *params)
TK_BINARY_S16(add);
TK_BINARY_S16(sub);
TK_BINARY_S16(sub_pot);
TK_BINARY_S16(mul);
#undef TK_BINARY_S16
int tk_add_pot_s16(const int16_t *a, const int16_t *b, int16_t *output, int32_t count,
                   const tk_binary_s8_params *params);
/* int16 x int16 -> int8 MUL: the Q0.15 product in 1/256 units, clamped to the fused
 * activation's int8 range [act_min, act_max], plus the output's zero point. */
int tk_mul_s16_s8(const int16_t *a, const int16_t *b, int8_t *output, int32_t count,
                  int32_t output_zero, int32_t act_min, int32_t act_max);

/* ---- activation_s16.c ------------------------------------------------------------------- */

/* RELU, RELU6: the input times multiplier * 2^(shift - 31), clamped to [act_min, act_max]. */
int tk_relu_s16(const int16_t *input, int16_t *output, int32_t count, int32_t multiplier,
                int32_t shift, int32_t act_min, int32_t act_max);
/* LEAKY_RELU: one multiplier for x >= 0, the other (times alpha) for x < 0. */
int tk_leaky_relu_s16(const int16_t *input, int16_t *output, int32_t count,
                      int32_t identity_multiplier, int32_t identity_shift,
                      int32_t alpha_multiplier, int32_t alpha_shift);
/* LOGISTIC, TANH: the input times multiplier >> shift in 1/(3*4096) units, then the 256
 * entries of sigmoid_table (Q0.16) interpolated; output Q0.15. */
int tk_logistic_s16(const int16_t *input, int16_t *output, int32_t count, int32_t multiplier,
                    int32_t shift, const uint16_t *sigmoid_table);
int tk_tanh_s16(const int16_t *input, int16_t *output, int32_t count, int32_t multiplier,
                int32_t shift, const uint16_t *sigmoid_table);

/* ---- softmax_s16.c: over the last axis (depth); differences to the row maximum times
 * multiplier * 2^(shift - 31), then LiteRT's 513-entry tables of exp on [-10, 0] and of
 * 1 / (1 + x) on [0, 1]. Output 1/32768. ---------------------------------------------------- */
int tk_softmax_s16(const int16_t *input, int16_t *output, int32_t outer, int32_t depth,
                   int32_t multiplier, int32_t shift, const int16_t *exp_table,
                   const int16_t *reciprocal_table);

#endif /* TOCO_KERNELS_S16_H */
