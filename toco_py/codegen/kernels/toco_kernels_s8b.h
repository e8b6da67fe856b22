/* int8 elementwise math, activations and softmaxes (included by toco_kernels.h).
 *
 * Bit-exact with toco-py's numpy int8 kernels (toco_py/ops/int8), hence with LiteRT's
 * reference kernels. Multipliers, shifts, zero points and clamps are computed by the
 * generator with the same Python functions as the numpy kernels and arrive as literals;
 * the kernels only do the per-element integer arithmetic.
 */
#ifndef TOCO_KERNELS_S8B_H
#define TOCO_KERNELS_S8B_H

#include <stdint.h>

/* RSQRT met an input below its zero point (a negative real value), as LiteRT fails. */
#define TK_ERROR_BELOW_ZERO_POINT 5

/* The quantization of a binary op. A multiplier m with shift s stands for m * 2^(s - 31).
 * ADD, SUB, SQUARED_DIFFERENCE and the comparisons rescale each input: (x - zero) <<
 * left_shift, then times its multiplier; MUL multiplies the two (x - zero); PRELU uses
 * a_* for x >= 0 and b_* for x < 0 (times alpha - b_zero); MAXIMUM and MINIMUM use none. */
typedef struct {
    int32_t a_zero, b_zero, left_shift;
    int32_t a_multiplier, a_shift, b_multiplier, b_shift;
    int32_t out_multiplier, out_shift, out_zero;
    int32_t act_min, act_max; /* the fused activation as an int8 (16x8: int16) clamp */
} tk_binary_s8_params;

/* ---- <op>_s8.c (add_s8.c, sub_s8.c ...; MAXIMUM and MINIMUM in maximum_minimum_s8.c, the
 * comparisons in comparison_s8.c): broadcasting (numpy rules, shapes of one rank up to
 * TK_MAX_RANK), with binary_s8.h ------------------------------------------------------- */

#define TK_BINARY_S8(op, out_type)                                                         \
    int tk_##op##_s8(const int8_t *a, const int32_t *a_dims, const int8_t *b,               \
                     const int32_t *b_dims, out_type *output, const int32_t *output_dims,   \
                     int rank, const tk_binary_s8_params *params)
TK_BINARY_S8(add, int8_t);
TK_BINARY_S8(sub, int8_t);
TK_BINARY_S8(mul, int8_t);
TK_BINARY_S8(squared_difference, int8_t);
TK_BINARY_S8(maximum, int8_t);
TK_BINARY_S8(minimum, int8_t);
/* a = x, b = alpha; the output has x's shape. */
TK_BINARY_S8(prelu, int8_t);
/* Comparisons write bools (0 / 1 bytes). */
TK_BINARY_S8(less, uint8_t);
TK_BINARY_S8(less_equal, uint8_t);
TK_BINARY_S8(greater, uint8_t);
TK_BINARY_S8(greater_equal, uint8_t);
TK_BINARY_S8(equal, uint8_t);
TK_BINARY_S8(not_equal, uint8_t);
#undef TK_BINARY_S8

/* rsqrt_s8.c. RSQRT: fails with TK_ERROR_BELOW_ZERO_POINT (writing nothing) if an input is below
 * in_zero. */
int tk_rsqrt_s8(const int8_t *input, int8_t *output, int32_t count, int32_t in_zero,
                int32_t multiplier, int32_t shift, int32_t out_zero);

/* ---- activation_s8.c, l2_normalization_s8.c --------------------------------------------- */

/* RELU family, LEAKY_RELU, LOGISTIC, TANH, HARD_SWISH, GELU: table[x + 128], a table the
 * generator computed. */
int tk_lookup_s8(const int8_t *input, int8_t *output, int32_t count, const int8_t *table);
/* Over the last axis (depth) of `outer` rows; the output is Q0.7 (1/128, zero point 0). */
int tk_l2_normalization_s8(const int8_t *input, int8_t *output, int32_t outer,
                           int32_t depth, int32_t in_zero);

/* ---- softmax_s8.c, log_softmax_s8.c: over the last axis (depth), gemmlowp fixed point,
 * with softmax_s8.h ------------------------------------------------------------------------ */

/* input_beta_multiplier / left_shift scale an input difference to Q5.26; differences
 * below diff_min give exp() = 0. Output 1/256, zero point -128. */
int tk_softmax_s8(const int8_t *input, int8_t *output, int32_t outer, int32_t depth,
                  int32_t input_beta_multiplier, int32_t left_shift, int32_t diff_min);
/* As above with beta 1, plus the reverse scaling (Q5.26 back to input units). Output
 * 16/256, zero point 127. */
int tk_log_softmax_s8(const int8_t *input, int8_t *output, int32_t outer, int32_t depth,
                      int32_t input_multiplier, int32_t left_shift, int32_t diff_min,
                      int32_t reverse_multiplier, int32_t reverse_shift);

#endif /* TOCO_KERNELS_S8B_H */
