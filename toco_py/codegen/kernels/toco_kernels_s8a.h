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

#define TK_QTYPE_UINT8 3
#define TK_QTYPE_INT16 7
#define TK_QTYPE_INT8 9

/* ---- fixed-point primitives (toco_py/quantize/fixed_point.py) ------------------------- */

/* The int32 with the low 32 bits of x: C++'s int32 wrap-around, written so that no
 * conversion depends on the implementation. */
static inline int32_t tk_s8a_wrap32(int64_t x)
{
    uint32_t u = (uint32_t)x;
    return u <= 0x7fffffffu ? (int32_t)u : (int32_t)(u - 0x80000000u) - INT32_MAX - 1;
}

/* The int64 with the bits of u: numpy's int64 wrap-around. */
static inline int64_t tk_s8a_wrap64(uint64_t u)
{
    return u <= (uint64_t)INT64_MAX ? (int64_t)u
                                    : (int64_t)(u - ((uint64_t)1 << 63)) - INT64_MAX - 1;
}

/* floor(x / 2^e), 0 <= e < 63: an arithmetic right shift, spelled out for negative x (whose
 * >> C leaves to the implementation). */
static inline int64_t tk_s8a_floor_shift(int64_t x, int e)
{
    return x >= 0 ? x >> e : -((-(x + 1)) >> e) - 1;
}

/* SaturatingRoundingDoublingHighMul: the high half of 2ab, rounded half away from zero
 * (C's division truncates, as the numpy trunc_div does). */
static inline int32_t tk_s8a_srdhm(int32_t a, int32_t b)
{
    int64_t product = (int64_t)a * (int64_t)b;
    int64_t nudge = product >= 0 ? ((int64_t)1 << 30) : 1 - ((int64_t)1 << 30);
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)((product + nudge) / ((int64_t)1 << 31));
}

/* RoundingDivideByPOT: x / 2^exponent rounded half away from zero, 0 <= exponent <= 31. */
static inline int32_t tk_s8a_rdbpot(int32_t x, int exponent)
{
    int64_t mask = ((int64_t)1 << exponent) - 1;
    int64_t remainder = (int64_t)x & mask; /* int64_t is two's complement by definition */
    int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (int32_t)(tk_s8a_floor_shift(x, exponent) + (remainder > threshold ? 1 : 0));
}

/* MultiplyByQuantizedMultiplier with gemmlowp's two roundings (convolutions, MEAN, SUM,
 * requantization): x wraps to 32 bits after the left part of the shift, as the int32
 * multiplication in C++ does (a shift of 32 or more leaves 0). shift in [-31, 62]. */
static inline int32_t tk_s8a_scale_double(int64_t x, int32_t multiplier, int32_t shift)
{
    int left = shift > 0 ? (int)shift : 0;
    int right = shift > 0 ? 0 : (int)-shift;
    uint32_t shifted = left >= 32 ? 0u : (uint32_t)((uint32_t)x << left);
    return tk_s8a_rdbpot(tk_s8a_srdhm(tk_s8a_wrap32((int64_t)shifted), multiplier), right);
}

/* The same with TFLITE_SINGLE_ROUNDING's one rounding (FULLY_CONNECTED): round(x *
 * multiplier * 2^(shift - 31)), half up, in 64 bits (wrapping as numpy's int64 would).
 * shift in [-31, 30]. */
static inline int64_t tk_s8a_scale_single(int64_t x, int32_t multiplier, int32_t shift)
{
    int total = 31 - (int)shift;
    uint64_t product = (uint64_t)x * (uint64_t)(int64_t)multiplier;
    return tk_s8a_floor_shift(tk_s8a_wrap64(product + ((uint64_t)1 << (total - 1))), total);
}

static inline int32_t tk_s8a_clamp(int64_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : (int32_t)x);
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

/* ---- conv_s8.c: NHWC, filters OHWI (conv) and 1HW(C*M) (depthwise) --------------------
 * acc = sum of filter * (input - input_zero) over the taps inside the image (+ bias), then
 * per output channel c: wrap32(scale_double(wrap32(acc), multipliers[c], shifts[c]) +
 * output_zero), clamped to [act_min, act_max]. */

#define TK_CONV_S8(name)                                                                    \
    int name(const int8_t *input, const int32_t *input_dims, int32_t input_zero,            \
             const int8_t *filter, const int32_t *filter_dims, const int32_t *bias,         \
             int8_t *output, const int32_t *output_dims, int stride_h, int stride_w,        \
             int dilation_h, int dilation_w, int pad_top, int pad_left,                     \
             const int32_t *multipliers, const int32_t *shifts, int32_t output_zero,        \
             int32_t act_min, int32_t act_max)
TK_CONV_S8(tk_conv2d_s8);
TK_CONV_S8(tk_depthwise_conv2d_s8);
#undef TK_CONV_S8

/* ---- fc_s8.c ----------------------------------------------------------------------------
 * output[b][u] = clamp(scale_single(sum_k (input[b][k] - input_zero) * weights[u][k] +
 * bias[u], multipliers[u], shifts[u]) + output_zero); the sums in 64 bits, unwrapped. */

int tk_fully_connected_s8(const int8_t *input, int32_t batches, int32_t depth,
                          int32_t input_zero, const int8_t *weights, const int32_t *bias,
                          int8_t *output, int32_t units, const int32_t *multipliers,
                          const int32_t *shifts, int32_t output_zero, int32_t act_min,
                          int32_t act_max);

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

/* ---- reduce_s8.c: `reduced` holds one flag per axis of the input ---------------------- */

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

#endif /* TOCO_KERNELS_S8A_H */
