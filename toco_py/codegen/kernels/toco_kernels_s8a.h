/* Quantized kernels of toco-py's C bundles (part a): convolutions, FULLY_CONNECTED,
 * pooling, reductions, requantization and the data-moving kernels the quantized ops add.
 * Included from toco_kernels.h.
 *
 * Every kernel reproduces toco-py's numpy int8 kernels (toco_py/ops/int8, themselves
 * bit-exact with LiteRT's reference kernels) bit for bit. The generator works out every
 * multiplier, shift, zero point and activation clamp in Python, with the very functions the
 * numpy kernels use, and passes them in; the kernels only do integer arithmetic.
 *
 * Where the numpy code wraps a value to 32 bits (as LiteRT's int32 registers do), the C
 * wraps it with unsigned arithmetic: never a signed overflow, never an
 * implementation-defined conversion or right shift of a negative number.
 *
 * Kernels ending in _q take any quantized integer type, named by a TK_QTYPE_* code (the
 * TFLite type numbers); the others are int8 only.
 */
#ifndef TOCO_KERNELS_S8A_H
#define TOCO_KERNELS_S8A_H

#include <stddef.h>
#include <stdint.h>

#include "fixedpoint_s8.h"

#define TK_QTYPE_UINT8 3
#define TK_QTYPE_INT16 7
#define TK_QTYPE_INT8 9

/* ---- fixed-point primitives (toco_py/ops/fixed_point.py) ------------------------------
 * tk_wrap32, tk_s8a_wrap64, tk_asr64 (floor shift), tk_clamp_s32 and tk_mbqm
 * (MultiplyByQuantizedMultiplier with gemmlowp's two roundings: convolutions, MEAN, SUM,
 * requantization) come from fixedpoint_s8.h. tk_mbqm(tk_wrap32(x), ...) takes x modulo 2^32, as the numpy kernels'
 * wrap32 does; shift in [-31, 62]. */

/* MultiplyByQuantizedMultiplier with TFLITE_SINGLE_ROUNDING's one rounding
 * (FULLY_CONNECTED): round(x * multiplier * 2^(shift - 31)), half up, in 64 bits (wrapping
 * as numpy's int64 would). shift in [-31, 30]. */
static inline int64_t tk_s8a_scale_single(int64_t x, int32_t multiplier, int32_t shift)
{
    int total = 31 - (int)shift;
    uint64_t product = (uint64_t)x * (uint64_t)(int64_t)multiplier;
    return tk_asr64(tk_s8a_wrap64(product + ((uint64_t)1 << (total - 1))), total);
}

/* ---- elements of any quantized type ---------------------------------------------------- */

static inline int32_t tk_s8a_load(const void *data, size_t i, int type)
{
    if (type == TK_QTYPE_UINT8) {
        return ((const uint8_t *)data)[i];
    }
    if (type == TK_QTYPE_INT16) {
        return ((const int16_t *)data)[i];
    }
    return ((const int8_t *)data)[i];
}

/* value must already lie in the type's range. */
static inline void tk_s8a_store(void *data, size_t i, int type, int32_t value)
{
    if (type == TK_QTYPE_UINT8) {
        ((uint8_t *)data)[i] = (uint8_t)value;
    } else if (type == TK_QTYPE_INT16) {
        ((int16_t *)data)[i] = (int16_t)value;
    } else {
        ((int8_t *)data)[i] = (int8_t)value;
    }
}

static inline int32_t tk_s8a_type_min(int type)
{
    return type == TK_QTYPE_UINT8 ? 0 : (type == TK_QTYPE_INT16 ? INT16_MIN : INT8_MIN);
}

static inline int32_t tk_s8a_type_max(int type)
{
    return type == TK_QTYPE_UINT8 ? UINT8_MAX : (type == TK_QTYPE_INT16 ? INT16_MAX : INT8_MAX);
}

/* ---- convolutions and FULLY_CONNECTED ------------------------------------------------
 * Constant filters and weights arrive packed in blocks of TK_S8_LANES output channels (see
 * "packed filters" in toco_kernels.h). Integer sums are exact in any order; the kernels
 * add int16 products (|input - zero| <= 255 and |filter| <= 128, so each product fits)
 * into 32-bit lanes, which the compiler vectorizes. */
#define TK_S8_LANES 16

/* The int8 result of a convolution channel: acc (the sum plus the bias, modulo 2^32: all
 * that the numpy kernel's wrap32 keeps of it) requantized by the channel's multiplier and
 * shift, plus the output zero point (wrapping), clamped to the fused activation. */
static inline int8_t tk_s8a_requantize(uint32_t acc, int32_t multiplier, int32_t shift,
                                       int32_t output_zero, int32_t act_min, int32_t act_max)
{
    int32_t scaled = tk_mbqm(tk_wrap32((int64_t)acc), multiplier, shift);
    int32_t shifted = tk_wrap32((int64_t)scaled + output_zero);
    return (int8_t)tk_clamp_s32(shifted, act_min, act_max);
}

/* conv_s8.c (filter OHWI, packed), depthwise_conv_s8.c (filter 1HW(C*M) as in the model),
 * unpacked_s8.c (OHWI as in the model, for filters computed at run time): NHWC.
 * acc = sum of filter * (input - input_zero) over the taps inside the image (+ bias), then
 * per output channel c: tk_s8a_requantize(acc, multipliers[c], shifts[c], ...).
 * output_steps: NULL for an output laid out as its dims say; else each output pixel's
 * channels are contiguous, pixels output_steps[1] elements apart in a row and rows
 * output_steps[0] apart: the convolution writes its part of a CONCATENATION's output in
 * place (codegen/planner.py). */
#define TK_CONV_S8(name, filter_type)                                                       \
    int name(const int8_t *input, const int32_t *input_dims, int32_t input_zero,            \
             const filter_type *filter, const int32_t *filter_dims, const int32_t *bias,    \
             int8_t *output, const int32_t *output_dims, const int32_t *output_steps,       \
             int stride_h, int stride_w, int dilation_h, int dilation_w, int pad_top,       \
             int pad_left, const int32_t *multipliers, const int8_t *shifts,                \
             int32_t output_zero, int32_t act_min, int32_t act_max)
TK_CONV_S8(tk_conv2d_s8, int8_t);
TK_CONV_S8(tk_depthwise_conv2d_s8, int8_t);
TK_CONV_S8(tk_conv2d_unpacked_s8, int8_t);

/* Clustered int8 filters: tk_weights_s8, tk_weight_s8, tk_s8_block, tk_s8_block_taps (toco_kernels.h). */
TK_LUT_WEIGHTS(int8_t, s8, TK_S8_LANES)

/* conv_s8.c and depthwise_conv_s8.c: the convolutions above on clustered filters, packed
 * as tk_conv2d_s8's (in blocks) and as tk_depthwise_conv2d_s8's (as in the model). */
TK_CONV_S8(tk_conv2d_lut_s8, tk_weights_s8);
TK_CONV_S8(tk_depthwise_conv2d_lut_s8, tk_weights_s8);
#undef TK_CONV_S8

/* Output pixel `at` (counted in N, H, W order) of a convolution's output (output_steps
 * above): where its channels start. */
static inline int8_t *tk_s8a_pixel(int8_t *output, const int32_t *output_dims, const int32_t *output_steps,
                                   size_t at)
{
    if (!output_steps) {
        return output + at * (size_t)output_dims[3];
    }
    return output + at / (size_t)output_dims[2] * (size_t)output_steps[0]
           + at % (size_t)output_dims[2] * (size_t)output_steps[1];
}

/* fc_s8.c (weights [units][depth], packed) and unpacked_s8.c (as in the model):
 * output[b][u] = clamp(scale_single(sum_k (input[b][k] - input_zero) * weights[u][k] +
 * bias[u], multipliers[u], shifts[u]) + output_zero); the sums in 64 bits, unwrapped. */
#define TK_FC_S8(name)                                                                      \
    int name(const int8_t *input, int32_t batches, int32_t depth, int32_t input_zero,       \
             const int8_t *weights, const int32_t *bias, int8_t *output, int32_t units,     \
             const int32_t *multipliers, const int8_t *shifts, int32_t output_zero,         \
             int32_t act_min, int32_t act_max)
TK_FC_S8(tk_fully_connected_s8);
TK_FC_S8(tk_fully_connected_unpacked_s8);
#undef TK_FC_S8

/* fc_s8.c: FULLY_CONNECTED on clustered weights, packed in tk_fully_connected_s8's blocks. */
int tk_fully_connected_lut_s8(const int8_t *input, int32_t batches, int32_t depth,
                              int32_t input_zero, const tk_weights_s8 *weights,
                              const int32_t *bias, int8_t *output, int32_t units,
                              const int32_t *multipliers, const int8_t *shifts,
                              int32_t output_zero, int32_t act_min, int32_t act_max);

/* The FULLY_CONNECTED result of one unit: the exact sum plus bias, requantized with one
 * rounding; numpy adds the zero point in 64 bits, so no wrap before the clamp. */
static inline int8_t tk_s8a_fc_output(int64_t acc, int32_t multiplier, int32_t shift,
                                      int32_t output_zero, int32_t act_min, int32_t act_max)
{
    int64_t scaled = tk_s8a_scale_single(acc, multiplier, shift);
    return (int8_t)tk_clamp_s32(scaled + output_zero, act_min, act_max);
}

/* ---- pool_s8.c: NHWC windows clipped to the image, on the raw integers ----------------- */

#define TK_POOL_Q(name)                                                                     \
    int name(const void *input, const int32_t *input_dims, void *output,                    \
             const int32_t *output_dims, int filter_h, int filter_w, int stride_h,          \
             int stride_w, int pad_top, int pad_left, int32_t act_min, int32_t act_max,     \
             int type)
TK_POOL_Q(tk_max_pool_q);
/* The window's sum divided by its pixel count, rounded half away from zero. */
TK_POOL_Q(tk_average_pool_q);
#undef TK_POOL_Q

/* ---- reduce_s8.c, reduce_extreme_s8.c: `reduced` holds one flag per axis of the input -- */

/* MEAN and SUM (QuantizedMeanOrSum): wrap32(wrap32(group sum - zero_offset) scaled by
 * (multiplier, shift) with two roundings, + output_zero), clamped to the type. MEAN's
 * 1/count is folded into the multiplier; zero_offset = input zero point * group size. */
int tk_mean_sum_q(const void *input, const int32_t *input_dims, int rank,
                  const int32_t *reduced, void *output, int type, int32_t zero_offset,
                  int32_t multiplier, int32_t shift, int32_t output_zero);
int tk_reduce_max_q(const void *input, const int32_t *input_dims, int rank,
                    const int32_t *reduced, void *output, int type);
int tk_reduce_min_q(const void *input, const int32_t *input_dims, int rank,
                    const int32_t *reduced, void *output, int type);

/* ---- requantize_s8.c: QUANTIZE of an integer input -------------------------------------
 * clamp(scale_double(q - input_zero, multiplier, shift) + output_zero) into output_type. */

int tk_requantize_q(const void *input, int input_type, void *output, int output_type,
                    int32_t count, int32_t input_zero, int32_t multiplier, int32_t shift,
                    int32_t output_zero);

/* ---- movement_s8.c ---------------------------------------------------------------------- */

/* SELECT / SELECT_V2: output = cond ? x : y, all three broadcast to the output's shape
 * (dims of one rank, <= TK_MAX_RANK); any element type. */
int tk_select(const uint8_t *cond, const int32_t *cond_dims, const void *x,
              const int32_t *x_dims, const void *y, const int32_t *y_dims, void *output,
              const int32_t *output_dims, int rank, size_t element_size);
/* GATHER_ND: `count` tuples of `depth` indices (int64 if indices_64, else int32), each
 * copying the slice of params it names; fails on an index out of range. */
int tk_gather_nd(const void *params, const int32_t *params_dims, int rank,
                 const void *indices, int indices_64, int32_t count, int32_t depth,
                 void *output, size_t element_size);
/* uint8 CONCATENATION whose inputs have other params than the output: input i is copied
 * as is when rescale[i] is 0, else each q becomes clamp(round(q * scales[i] + biases[i])
 * + output_zero) in float32 (ConcatenationWithScaling). */
int tk_concatenation_u8_scaled(const void *const *inputs, const int32_t *axis_sizes,
                               int count, uint8_t *output, const int32_t *output_dims,
                               int rank, int axis, const int32_t *rescale,
                               const float *scales, const float *biases, int32_t output_zero);

/* ---- sequence_lstm_s8.c: UNIDIRECTIONAL_SEQUENCE_LSTM, 8x8_16 ---------------------------
 * What the numpy kernel's _Params computes once. Per gate (input, forget, cell, output):
 * the requantization of the input and recurrent products and of the peephole product (the
 * cell gate has none), and the biases with the zero points folded in (input side: the bias
 * minus input_zero * row sums; recurrent side: -state_zero * row sums). A multiplier m with
 * shift s stands for m * 2^(s - 31). */
typedef struct {
    const int32_t *input_bias[4], *recurrent_bias[4];
    int32_t input_multiplier[4], input_shift[4];
    int32_t recurrent_multiplier[4], recurrent_shift[4];
    int32_t peephole_multiplier[4], peephole_shift[4];
    int32_t hidden_multiplier, hidden_shift, hidden_zero; /* o * tanh(c) to int8 */
    const int32_t *projection_bias;                       /* folded; NULL without projection */
    int32_t projection_multiplier, projection_shift, state_zero;
    int32_t cell_log2;            /* the int16 cell state's scale is 2^cell_log2 */
    int32_t cell_clip, proj_clip; /* quantized; 0 for none */
} tk_lstm_s8_params;

/* weights: the op's inputs 0..17 in its order (NULL where absent; 1..11 and 16 are read;
 * int8 except the int16 peepholes 9..11). The states are updated in place; `hidden` holds
 * n_cell bytes of scratch when there is a projection (else unused). No CIFG, no layer norm. */
int tk_lstm_s8(const int8_t *input, const void *const *weights, const tk_lstm_s8_params *p,
               int8_t *output_state, int16_t *cell_state, int8_t *output, int8_t *hidden,
               int32_t steps, int32_t batch, int32_t n_input, int32_t n_cell, int32_t n_output,
               int time_major);

#endif /* TOCO_KERNELS_S8A_H */
