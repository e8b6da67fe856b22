/* Kernels of toco-py's C bundles: plain C99, no heap, no global state.
 *
 * Every kernel takes plain pointers, shapes as int32_t arrays (with their rank where it
 * varies) and its options as scalars, and returns TK_OK or an error code. Float kernels
 * compute and accumulate in float32, as LiteRT's reference kernels do. Data-movement
 * kernels work on any element type: they take the element size in bytes.
 *
 * Names: tk_<op>_<type>, where the type suffix says what the kernel computes in (f32,
 * s8 for int8, u8 ...); a family's kernels live in <family>.c. New element types of an op
 * (e.g. int8 with per-channel multipliers) are new functions beside the float ones.
 */
#ifndef TOCO_KERNELS_H
#define TOCO_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* The kernels' float expressions must round exactly as written: a fused multiply-add
 * would change sums that match LiteRT's reference kernels bit for bit. GCC keeps them
 * apart in ISO C mode (-std=c99); Clang needs to be told. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define TK_OK 0
#define TK_ERROR_INDEX_OUT_OF_RANGE 1
#define TK_ERROR_BAD_SHAPE 2
#define TK_ERROR_DIVISION_BY_ZERO 3

/* 16-byte alignment for weights and the arena where the compiler can give it (GCC and
 * Clang); other compilers give each array its element type's alignment, which is all the
 * kernels need. */
#if defined(__GNUC__) || defined(__clang__)
#define TK_ALIGN16 __attribute__((aligned(16)))
#else
#define TK_ALIGN16
#endif

/* The highest rank the general kernels (broadcasting, transpose, slicing ...) handle. */
#define TK_MAX_RANK 6

/* ---- common.c: helpers shared by the families ---------------------------------------- */

/* Number of elements of a shape (1 for rank 0). */
int32_t tk_element_count(const int32_t *dims, int rank);
/* dims left-padded with 1s to TK_MAX_RANK, so loops can always run over six axes. */
void tk_pad_dims(const int32_t *dims, int rank, int32_t *padded);
/* Row-major strides (in elements) of padded dims; a broadcast axis (size 1 where the
 * output's is not) gets stride 0, so the same index walks both shapes. */
void tk_broadcast_strides(const int32_t *padded, const int32_t *out_padded, int32_t *strides);
/* Row-major strides (in elements) of padded dims. */
void tk_strides(const int32_t *padded, int32_t *strides);
/* Advances a six-axis index over padded dims, last axis fastest; 0 once it wraps. */
int tk_next_index(int32_t *index, const int32_t *padded);
/* A walk over the output of a broadcasting binary op (inputs at the output's rank), element
 * by element in row-major order, with the offsets of the matching input elements: for the
 * kernels whose loops need not be fast (comparisons, int32 arithmetic). */
typedef struct {
    int32_t out[TK_MAX_RANK], a_strides[TK_MAX_RANK], b_strides[TK_MAX_RANK], index[TK_MAX_RANK];
    int32_t a, b; /* the current output element's input offsets */
} tk_walk;
/* Starts at the first element; returns the number of output elements. */
int32_t tk_walk_start(tk_walk *walk, const int32_t *a_dims, const int32_t *b_dims,
                      const int32_t *output_dims, int rank);
void tk_walk_next(tk_walk *walk);
/* When the reduced axes (flags per axis) are adjacent, the input is [outer][count][inner]
 * with the count elements of each group `inner` apart: sets the three and returns 1.
 * Returns 0 for other sets of axes (and for an empty input: a 0 among the dims). */
int tk_reduced_run(const int32_t *dims, int rank, const int32_t *reduced, int32_t *outer,
                   int32_t *count, int32_t *inner);

/* Clamp that keeps NaN (as std::min/std::max in LiteRT's activation clamps). */
static inline float tk_clamp_f32(float x, float lo, float hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* ---- packed filters ----------------------------------------------------------------
 * Constant CONV_2D filters (OHWI) and FULLY_CONNECTED weights (OI) reach the kernels
 * repacked by the generator as [ceil(O / lanes)][taps][lanes]: blocks of `lanes` output
 * channels side by side for each tap (KH * KW * I taps for a filter, depth for weights),
 * the lanes past O zero. A kernel then sums each block's channels in one loop over
 * contiguous lanes, which the compiler vectorizes at -O2, while every channel still adds
 * its taps in the model's order. Filters computed at run time keep the model's layout and
 * go to the *_unpacked kernels. */
#define TK_F32_LANES 8

/* ---- clustered filters ---------------------------------------------------------------
 * Constant filters that take few values (clustered) may arrive as packed indices into
 * tables of values instead (toco_py/lut.py: TFLM's LutTensor bit order), in the model's
 * element order or in the blocks of the packed filters above: element e of output channel
 * c is values[c * stride + index e] (stride 0: one table), index e the `bits` bits at bit
 * e * bits of `indices`, high-order bits first. The *_lut_* kernels decode the weights as
 * they read them (tk_weight_f32, tk_f32_block_taps and their _s8 twins), so only the packed
 * form is ever stored. bits is 2, 4 or 8: an index never spans two bytes.
 *
 * A pruned filter (mostly zeros) may skip its zeros (toco_py/codegen/nonzero_lut.py): then
 * bit e of the bitmap `nonzero` (high-order bits first) says whether element e is nonzero,
 * only the nonzero elements have indices (in order), the tables hold no zero, and
 * ranks[r] counts the nonzero elements before element r * TK_LUT_RANK_SPAN, so that any
 * element's index is found by counting at most one span's bits. */
#define TK_LUT_RANK_SPAN 128

/* The forms this bundle's filters take: the generator sets each to 0 when no filter takes
 * it, so that decoding a form the bundle does not hold costs no code. */
#define TK_LUT_FILTERS 1
#define TK_NONZERO_FILTERS 1

static inline uint32_t tk_lut_index(const uint8_t *indices, size_t element, int32_t bits)
{
    size_t bit = element * (size_t)bits;
    uint32_t shift = 8u - (uint32_t)bits - (uint32_t)(bit & 7u);
    return ((uint32_t)indices[bit >> 3] >> shift) & ((1u << (uint32_t)bits) - 1u);
}

static inline uint32_t tk_lut_is_nonzero(const uint8_t *nonzero, size_t element)
{
    return ((uint32_t)nonzero[element >> 3] >> (7u - (uint32_t)(element & 7u))) & 1u;
}

static inline uint32_t tk_popcount8(uint32_t byte)
{
    byte = byte - ((byte >> 1) & 0x55u);
    byte = (byte & 0x33u) + ((byte >> 2) & 0x33u);
    return (byte + (byte >> 4)) & 0x0Fu;
}

/* The nonzero elements before `element`: its span's count plus the bits set before it. */
static inline size_t tk_lut_rank(const uint8_t *nonzero, const uint32_t *ranks, size_t element)
{
    size_t rank = ranks[element / TK_LUT_RANK_SPAN];
    size_t byte = element / TK_LUT_RANK_SPAN * (TK_LUT_RANK_SPAN / 8u);
    for (; byte < (element >> 3); ++byte) {
        rank += tk_popcount8(nonzero[byte]);
    }
    /* The bits of element's byte above it (a shift by 8 leaves none). */
    return rank + tk_popcount8((uint32_t)nonzero[byte] >> (8u - (uint32_t)(element & 7u)));
}

/* A constant filter of element type T read one element at a time: `plain` in the model's
 * layout, or (plain NULL) clustered, as packed indices into `values`, with or without its
 * zeros (nonzero NULL: every element has an index). `lanes`: set by the block function;
 * `base`: the block's first element. TK_LUT_WEIGHTS(T, S, LANES) defines, for the float
 * (S f32, conv.c, fully_connected.c) and int8 (S s8, conv_s8.c, fc_s8.c) kernels:
 * - tk_weights_S: the filter; tk_weight_S(w, element, channel): one weight;
 * - tk_S_block(filter, first_channel, channels, size): one block of a packed filter, LANES
 *   output channels from first_channel, `size` weights (taps x LANES). A clustered filter's
 *   elements come in the same blocks, but the last one holds only the channels left (`lanes`
 *   per tap, so no element is stored for the padding lanes);
 * - tk_S_block_taps(block, k, decoded): the LANES weights of tap k of a block, in place or
 *   decoded into `decoded` (the lanes past the filter's channels 0). */
#define TK_LUT_WEIGHTS(T, S, LANES)                                                              \
    typedef struct {                                                                             \
        const T *plain;                                                                          \
        const uint8_t *indices;                                                                  \
        const T *values;                                                                         \
        const uint8_t *nonzero;                                                                  \
        const uint32_t *ranks;                                                                   \
        int32_t bits, stride, lanes;                                                             \
        size_t base;                                                                             \
    } tk_weights_##S;                                                                            \
                                                                                                 \
    static inline T tk_weight_##S(const tk_weights_##S *w, size_t element, int32_t channel)      \
    {                                                                                            \
        const T *table;                                                                          \
        if (!TK_LUT_FILTERS || w->plain) {                                                       \
            return w->plain[element];                                                            \
        }                                                                                        \
        table = w->values + (size_t)channel * (size_t)w->stride;                                 \
        element += w->base;                                                                      \
        if (!TK_NONZERO_FILTERS || !w->nonzero) {                                                \
            return table[tk_lut_index(w->indices, element, w->bits)];                            \
        }                                                                                        \
        if (!tk_lut_is_nonzero(w->nonzero, element)) {                                           \
            return (T)0;                                                                         \
        }                                                                                        \
        return table[tk_lut_index(w->indices, tk_lut_rank(w->nonzero, w->ranks, element),       \
                                  w->bits)];                                                     \
    }                                                                                            \
                                                                                                 \
    static inline tk_weights_##S tk_##S##_block(const tk_weights_##S *filter,                    \
                                                int32_t first_channel, int32_t channels,         \
                                                size_t size)                                     \
    {                                                                                            \
        tk_weights_##S block = *filter;                                                          \
        size_t index = (size_t)(first_channel / (LANES));                                        \
        block.lanes = channels - first_channel < (LANES) ? channels - first_channel : (LANES);   \
        if (!TK_LUT_FILTERS || block.plain) {                                                    \
            block.plain += index * size;                                                         \
        } else {                                                                                 \
            block.base = index * size;                                                           \
            block.values += (size_t)first_channel * (size_t)block.stride;                        \
        }                                                                                        \
        return block;                                                                            \
    }                                                                                            \
                                                                                                 \
    static inline const T *tk_##S##_block_taps(const tk_weights_##S *block, size_t k,            \
                                               T *decoded)                                       \
    {                                                                                            \
        size_t first = block->base + k * (size_t)block->lanes, rank;                             \
        int32_t j;                                                                               \
        if (!TK_LUT_FILTERS || block->plain) {                                                   \
            return block->plain + k * (LANES);                                                   \
        }                                                                                        \
        if (!TK_NONZERO_FILTERS || !block->nonzero) {                                            \
            for (j = 0; j < block->lanes; ++j) {                                                 \
                uint32_t index = tk_lut_index(block->indices, first + (size_t)j, block->bits);   \
                decoded[j] = block->values[(size_t)j * (size_t)block->stride + index];           \
            }                                                                                    \
        } else {                                                                                 \
            rank = tk_lut_rank(block->nonzero, block->ranks, first);                             \
            for (j = 0; j < block->lanes; ++j) {                                                 \
                decoded[j] = (T)0;                                                               \
                if (tk_lut_is_nonzero(block->nonzero, first + (size_t)j)) {                      \
                    uint32_t index = tk_lut_index(block->indices, rank++, block->bits);          \
                    decoded[j] = block->values[(size_t)j * (size_t)block->stride + index];       \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        for (; j < (LANES); ++j) {                                                               \
            decoded[j] = (T)0;                                                                   \
        }                                                                                        \
        return decoded;                                                                          \
    }

TK_LUT_WEIGHTS(float, f32, TK_F32_LANES)

/* The taps k in [0, taps) of a window whose tap k reads start + k * dilation that land
 * inside [0, extent): [*first, *last), empty when none does. dilation >= 1. */
static inline void tk_tap_range(int32_t start, int32_t dilation, int32_t taps, int32_t extent,
                                int32_t *first, int32_t *last)
{
    int32_t lo = start >= 0 ? 0 : (-start + dilation - 1) / dilation;
    int32_t hi = start >= extent ? 0 : (extent - start + dilation - 1) / dilation;
    *last = hi < taps ? hi : taps;
    *first = lo < *last ? lo : *last;
}

/* ---- conv.c, depthwise_conv.c, transpose_conv.c: NHWC ----------------------------------- */

/* filter: OHWI packed in blocks of TK_F32_LANES; filter_dims: the OHWI shape. */
int tk_conv2d_f32(const float *input, const int32_t *input_dims,
                  const float *filter, const int32_t *filter_dims, const float *bias,
                  float *output, const int32_t *output_dims,
                  int stride_h, int stride_w, int dilation_h, int dilation_w,
                  int pad_top, int pad_left, float act_min, float act_max);
/* filter: 1HW(C*M) as in the model. */
int tk_depthwise_conv2d_f32(const float *input, const int32_t *input_dims,
                            const float *filter, const int32_t *filter_dims, const float *bias,
                            float *output, const int32_t *output_dims,
                            int stride_h, int stride_w, int dilation_h, int dilation_w,
                            int pad_top, int pad_left, float act_min, float act_max);
/* filter: OHWI as in the model. */
int tk_transpose_conv_f32(const float *input, const int32_t *input_dims,
                          const float *filter, const int32_t *filter_dims, const float *bias,
                          float *output, const int32_t *output_dims,
                          int stride_h, int stride_w, int pad_top, int pad_left,
                          float act_min, float act_max);

/* ---- fully_connected.c: output[b][u] = sum_k input[b][k] * weights[u][k] + bias[u] ------ */

/* weights: [units][depth] packed in blocks of TK_F32_LANES. */
int tk_fully_connected_f32(const float *input, int32_t batches, int32_t depth,
                           const float *weights, const float *bias, float *output,
                           int32_t units, float act_min, float act_max);

/* ---- unpacked.c: the same for filters and weights in the model's layout ---------------- */

int tk_conv2d_unpacked_f32(const float *input, const int32_t *input_dims,
                           const float *filter, const int32_t *filter_dims, const float *bias,
                           float *output, const int32_t *output_dims,
                           int stride_h, int stride_w, int dilation_h, int dilation_w,
                           int pad_top, int pad_left, float act_min, float act_max);
int tk_fully_connected_unpacked_f32(const float *input, int32_t batches, int32_t depth,
                                    const float *weights, const float *bias, float *output,
                                    int32_t units, float act_min, float act_max);
/* The convolutions and FULLY_CONNECTED above on clustered filters: conv.c and
 * fully_connected.c (indices in their blocks), depthwise_conv.c (as in the model). */
int tk_conv2d_lut_f32(const float *input, const int32_t *input_dims,
                      const tk_weights_f32 *filter, const int32_t *filter_dims, const float *bias,
                      float *output, const int32_t *output_dims,
                      int stride_h, int stride_w, int dilation_h, int dilation_w,
                      int pad_top, int pad_left, float act_min, float act_max);
int tk_depthwise_conv2d_lut_f32(const float *input, const int32_t *input_dims,
                                const tk_weights_f32 *filter, const int32_t *filter_dims,
                                const float *bias, float *output, const int32_t *output_dims,
                                int stride_h, int stride_w, int dilation_h, int dilation_w,
                                int pad_top, int pad_left, float act_min, float act_max);
int tk_fully_connected_lut_f32(const float *input, int32_t batches, int32_t depth,
                               const tk_weights_f32 *weights, const float *bias, float *output,
                               int32_t units, float act_min, float act_max);

/* ---- pool.c ------------------------------------------------------------------------- */

/* One output pixel's window (pool.c, pool_s8.c), its corner at (top, left) of the NHWC
 * input `in` (negative inside the padding), clipped to the image: rows [y0, y1), columns
 * [x0, x1). */
struct tk_window {
    int32_t y0, y1, x0, x1;
};

static inline struct tk_window tk_clip_window(const int32_t *in, int32_t top, int32_t left,
                                              int filter_h, int filter_w)
{
    struct tk_window w;
    w.y0 = top < 0 ? 0 : top;
    w.x0 = left < 0 ? 0 : left;
    w.y1 = top + filter_h > in[1] ? in[1] : top + filter_h;
    w.x1 = left + filter_w > in[2] ? in[2] : left + filter_w;
    return w;
}

int tk_max_pool_f32(const float *input, const int32_t *input_dims, float *output,
                    const int32_t *output_dims, int filter_h, int filter_w,
                    int stride_h, int stride_w, int pad_top, int pad_left,
                    float act_min, float act_max);
int tk_average_pool_f32(const float *input, const int32_t *input_dims, float *output,
                        const int32_t *output_dims, int filter_h, int filter_w,
                        int stride_h, int stride_w, int pad_top, int pad_left,
                        float act_min, float act_max);

/* ---- elementwise.c: broadcasting binary ops (shapes of one rank) ------------------------ */

#define TK_BINARY_F32(op)                                                                  \
    int tk_##op##_f32(const float *a, const int32_t *a_dims, const float *b,                \
                      const int32_t *b_dims, float *output, const int32_t *output_dims,     \
                      int rank, float act_min, float act_max)
TK_BINARY_F32(add);
TK_BINARY_F32(sub);
TK_BINARY_F32(mul);
TK_BINARY_F32(div);
TK_BINARY_F32(maximum);
TK_BINARY_F32(minimum);
TK_BINARY_F32(squared_difference);
/* x >= 0 ? x : x * alpha, alpha broadcast against x. */
TK_BINARY_F32(prelu);
/* floor_div fails with TK_ERROR_DIVISION_BY_ZERO on a zero in b; floor_mod gives NaN there. */
TK_BINARY_F32(floor_div);
TK_BINARY_F32(floor_mod);
#undef TK_BINARY_F32

/* ---- comparison.c: float32 and int32 comparisons and bool logic (bool bytes out) -------- */

#define TK_COMPARISON(op, suffix, type)                                                    \
    int tk_##op##_##suffix(const type *a, const int32_t *a_dims, const type *b,             \
                           const int32_t *b_dims, uint8_t *output, const int32_t *output_dims, \
                           int rank)
TK_COMPARISON(less, f32, float);
TK_COMPARISON(less_equal, f32, float);
TK_COMPARISON(greater, f32, float);
TK_COMPARISON(greater_equal, f32, float);
TK_COMPARISON(equal, f32, float);
TK_COMPARISON(not_equal, f32, float);
TK_COMPARISON(less, i32, int32_t);
TK_COMPARISON(less_equal, i32, int32_t);
TK_COMPARISON(greater, i32, int32_t);
TK_COMPARISON(greater_equal, i32, int32_t);
TK_COMPARISON(equal, i32, int32_t);
TK_COMPARISON(not_equal, i32, int32_t);
TK_COMPARISON(logical_and, b8, uint8_t);
TK_COMPARISON(logical_or, b8, uint8_t);
#undef TK_COMPARISON
int tk_logical_not_b8(const uint8_t *input, uint8_t *output, int32_t count);

/* ---- arith_i32.c: int32 ADD, SUB, MUL, FLOOR_DIV, FLOOR_MOD, MAXIMUM, MINIMUM ---------- */

#define TK_BINARY_I32(op)                                                                  \
    int tk_##op##_i32(const int32_t *a, const int32_t *a_dims, const int32_t *b,            \
                      const int32_t *b_dims, int32_t *output, const int32_t *output_dims,   \
                      int rank, int32_t act_min, int32_t act_max)
TK_BINARY_I32(add);
TK_BINARY_I32(sub);
TK_BINARY_I32(mul);
/* Fail with TK_ERROR_DIVISION_BY_ZERO on a zero in b. */
TK_BINARY_I32(floor_div);
TK_BINARY_I32(floor_mod);
TK_BINARY_I32(maximum);
TK_BINARY_I32(minimum);
#undef TK_BINARY_I32

/* ---- unary.c ---------------------------------------------------------------------------- */

int tk_exp_f32(const float *input, float *output, int32_t count);
int tk_sqrt_f32(const float *input, float *output, int32_t count);
int tk_rsqrt_f32(const float *input, float *output, int32_t count);
int tk_neg_f32(const float *input, float *output, int32_t count);
int tk_abs_f32(const float *input, float *output, int32_t count);
int tk_square_f32(const float *input, float *output, int32_t count);

/* ---- cast.c ------------------------------------------------------------------------------ */

/* Element types of CAST, numbered as TFLite's TensorType. */
#define TK_TYPE_F32 0
#define TK_TYPE_I32 2
#define TK_TYPE_U8 3
#define TK_TYPE_I64 4
#define TK_TYPE_BOOL 6
#define TK_TYPE_I16 7
#define TK_TYPE_I8 9
int tk_cast(const void *input, int from, void *output, int to, int32_t count);

/* ---- activation.c ------------------------------------------------------------------- */

/* RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1: a clamp to [lo, hi]. */
int tk_relu_f32(const float *input, float *output, int32_t count, float lo, float hi);
int tk_logistic_f32(const float *input, float *output, int32_t count);
int tk_tanh_f32(const float *input, float *output, int32_t count);
int tk_hard_swish_f32(const float *input, float *output, int32_t count);
int tk_leaky_relu_f32(const float *input, float *output, int32_t count, float alpha);
/* GELU: approximate 0 is the exact (erfc) form, 1 the tanh form. */
int tk_gelu_f32(const float *input, float *output, int32_t count, int32_t approximate);

/* ---- normalization.c: over the last axis (depth), for each of `outer` rows ----------- */

int tk_softmax_f32(const float *input, float *output, int32_t outer, int32_t depth, float beta);
int tk_log_softmax_f32(const float *input, float *output, int32_t outer, int32_t depth);
int tk_l2_normalization_f32(const float *input, float *output, int32_t outer, int32_t depth);

/* ---- reduce.c: `reduced` holds one flag per axis of the input ------------------------- */

int tk_sum_f32(const float *input, const int32_t *input_dims, int rank,
               const int32_t *reduced, float *output);
int tk_mean_f32(const float *input, const int32_t *input_dims, int rank,
                const int32_t *reduced, float *output);
int tk_reduce_max_f32(const float *input, const int32_t *input_dims, int rank,
                      const int32_t *reduced, float *output);
/* ARG_MAX / ARG_MIN over the middle axis of [outer][count][inner]: the first best position. */
#define TK_ARG(op, suffix, index_type)                                                     \
    int tk_##op##_##suffix(const float *input, int32_t outer, int32_t count, int32_t inner, \
                           index_type *output)
TK_ARG(arg_max, f32_i32, int32_t);
TK_ARG(arg_max, f32_i64, int64_t);
TK_ARG(arg_min, f32_i32, int32_t);
TK_ARG(arg_min, f32_i64, int64_t);
#undef TK_ARG

/* ---- movement.c: any element type ----------------------------------------------------- */

int tk_copy(const void *input, void *output, size_t bytes);
int tk_transpose(const void *input, const int32_t *input_dims, int rank, const int32_t *perm,
                 void *output, size_t element_size);
/* Inputs joined along `axis` of the output; axis_sizes[i] is input i's size there (1 for
 * PACK, whose inputs lack that axis). An input already in the output (its producer wrote it
 * there) is skipped: at its own place, or NULL. */
int tk_concatenation(const void *const *inputs, const int32_t *axis_sizes, int count,
                     void *output, const int32_t *output_dims, int rank, int axis,
                     size_t element_size);
/* The inverse: SPLIT, SPLIT_V and UNPACK. */
int tk_split(const void *input, const int32_t *input_dims, int rank, int axis,
             void *const *outputs, const int32_t *axis_sizes, int count, size_t element_size);
/* REVERSE_V2 along one axis (split_reverse_axes leaves one per op): `outer` blocks of
 * `count` rows of `row_bytes` each, the rows of each block in reverse order. */
int tk_reverse(const void *input, int32_t outer, int32_t count, size_t row_bytes, void *output);
/* DYNAMIC_UPDATE_SLICE: the operand copied to the output, the update written at `start`,
 * each start clamped to [0, operand - update] on its axis (never fails). */
int tk_dynamic_update_slice(const void *operand, const int32_t *operand_dims, int rank,
                            const void *update, const int32_t *update_dims,
                            const int32_t *start, void *output, size_t element_size);

/* ---- pad.c: any element type ---------------------------------------------------------- */

/* paddings: before/after pairs per axis; pad_value: one element, or NULL for zero bytes. */
int tk_pad(const void *input, const int32_t *input_dims, int rank, const int32_t *paddings,
           const void *pad_value, void *output, size_t element_size);
int tk_mirror_pad(const void *input, const int32_t *input_dims, int rank,
                  const int32_t *paddings, int symmetric, void *output, size_t element_size);

/* ---- strided_slice.c, tile.c, gather.c: any element type ------------------------------- */

/* Output element i reads input begin[d] + i[d] * strides[d] on every axis d. */
int tk_strided_slice(const void *input, const int32_t *input_dims, int rank,
                     const int32_t *begin, const int32_t *strides, void *output,
                     const int32_t *output_dims, size_t element_size);
int tk_tile(const void *input, const int32_t *input_dims, int rank, const int32_t *multiples,
            void *output, size_t element_size);
/* `indices` per batch entry (the first batch_dims axes); fails on an index out of range. */
int tk_gather_i32(const void *params, const int32_t *params_dims, int rank, int axis,
                  int batch_dims, const int32_t *indices, int32_t index_count, void *output,
                  size_t element_size);
int tk_gather_i64(const void *params, const int32_t *params_dims, int rank, int axis,
                  int batch_dims, const int64_t *indices, int32_t index_count, void *output,
                  size_t element_size);

/* ---- topk.c: TOPK_V2 over the last axis of [rows][depth] ------------------------------ */

int tk_topk_f32(const float *input, int32_t rows, int32_t depth, int32_t k, float *values,
                int32_t *indices);
int tk_topk_i32(const int32_t *input, int32_t rows, int32_t depth, int32_t k, int32_t *values,
                int32_t *indices);

/* ---- sequence_lstm.c: UNIDIRECTIONAL_SEQUENCE_LSTM, float -------------------------------- */

/* weights: the op's inputs 0..17 in its order (NULL where absent; 1..17 are read);
 * activation 0 tanh, 1 relu, 2 relu6, 3 relu_n1_to_1. The states are updated in place. */
int tk_lstm_f32(const float *input, const void *const *weights, float *output_state,
                float *cell_state, float *output, int32_t steps, int32_t batch, int32_t n_input,
                int32_t n_cell, int32_t n_output, int time_major, int activation,
                float cell_clip, float proj_clip);

/* ---- resize_bilinear.c, resize_nearest.c: NHWC ------------------------------------------ */

/* Source coordinate = output coordinate * scale (LiteRT's float32 arithmetic). */
static inline float tk_resize_scale(int32_t in_size, int32_t out_size, int align_corners)
{
    if (align_corners && out_size > 1) {
        return (float)(in_size - 1) / (float)(out_size - 1);
    }
    return (float)in_size / (float)out_size;
}

int tk_resize_bilinear_f32(const float *input, const int32_t *input_dims, float *output,
                           int32_t out_h, int32_t out_w, int align_corners,
                           int half_pixel_centers);
int tk_resize_nearest(const void *input, const int32_t *input_dims, void *output,
                      int32_t out_h, int32_t out_w, int align_corners, int half_pixel_centers,
                      size_t element_size);

/* ---- quantize.c, dequantize.c: real = scale * (q - zero_point), per tensor (channels = 1)
 * or per channel, channel c = (i / inner) % channels -------------------------------------- */

static inline int32_t tk_channel_of(int32_t i, int32_t inner, int32_t channels)
{
    return channels == 1 ? 0 : (i / inner) % channels;
}

int tk_dequantize_f16(const uint16_t *input, float *output, int32_t count);
int tk_dequantize_s8(const int8_t *input, float *output, int32_t count, int32_t inner,
                     int32_t channels, const float *scales, const int32_t *zero_points);
int tk_dequantize_u8(const uint8_t *input, float *output, int32_t count, int32_t inner,
                     int32_t channels, const float *scales, const int32_t *zero_points);
int tk_dequantize_s16(const int16_t *input, float *output, int32_t count, int32_t inner,
                      int32_t channels, const float *scales, const int32_t *zero_points);
int tk_quantize_f32_s8(const float *input, int8_t *output, int32_t count, int32_t inner,
                       int32_t channels, const float *scales, const int32_t *zero_points);
int tk_quantize_f32_u8(const float *input, uint8_t *output, int32_t count, int32_t inner,
                       int32_t channels, const float *scales, const int32_t *zero_points);
int tk_quantize_f32_s16(const float *input, int16_t *output, int32_t count, int32_t inner,
                        int32_t channels, const float *scales, const int32_t *zero_points);

#include "toco_kernels_s8a.h"
#include "toco_kernels_dsp.h" /* Arm DSP extension paths of the int8 sums */
#include "toco_kernels_s8b.h" /* int8 elementwise math, activations, softmaxes */
#include "toco_kernels_s16.h" /* 16x8 kernels */

#endif /* TOCO_KERNELS_H */
