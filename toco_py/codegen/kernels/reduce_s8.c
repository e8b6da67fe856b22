/* Quantized MEAN and SUM over any set of axes (toco_py/ops/int8/reduce.py, after LiteRT's
 * QuantizedMeanOrSum); keep_dims only changes the output's shape, not its layout. Each
 * output element's group sum (modulo 2^32, all the numpy kernel keeps of it) is requantized
 * on its own. Adjacent reduced axes (a global average pool) sum with plain strided loops;
 * other sets walk their groups with six-axis indices (reduce_s8.h). */
#include <string.h>

#include "reduce_s8.h"

/* The sum of `count` elements `stride` apart from `start`, modulo 2^32; the type decided
 * once rather than per element. */
static uint32_t strided_sum(const void *input, int type, size_t start, int32_t count,
                            size_t stride)
{
    uint32_t sum = 0;
    int32_t r;
    if (type == TK_QTYPE_UINT8) {
        const uint8_t *x = (const uint8_t *)input + start;
        for (r = 0; r < count; ++r) {
            sum += x[(size_t)r * stride];
        }
    } else if (type == TK_QTYPE_INT16) {
        const int16_t *x = (const int16_t *)input + start;
        for (r = 0; r < count; ++r) {
            sum += (uint32_t)x[(size_t)r * stride];
        }
    } else {
        const int8_t *x = (const int8_t *)input + start;
        for (r = 0; r < count; ++r) {
            sum += (uint32_t)x[(size_t)r * stride];
        }
    }
    return sum;
}

/* What turns a group sum into an output element. */
struct requantization {
    int type;
    int32_t zero_offset, multiplier, shift, output_zero, lo, hi;
};

/* wrap32(wrap32(sum - zero_offset) scaled, + output_zero), clamped to the type. */
static void store(void *output, size_t i, uint32_t sum, const struct requantization *q)
{
    int32_t shifted = tk_wrap32((int64_t)(sum - (uint32_t)q->zero_offset));
    int32_t scaled = tk_mbqm(shifted, q->multiplier, q->shift);
    int32_t out = tk_wrap32((int64_t)scaled + q->output_zero);
    tk_s8a_store(output, i, q->type, tk_clamp_s32(out, q->lo, q->hi));
}

static void mean_sum_any_axes(const void *input, const int32_t *input_dims, int rank,
                              const int32_t *reduced, void *output,
                              const struct requantization *q)
{
    struct tk_split_axes s = tk_split_axes(input_dims, rank, reduced);
    int32_t index[TK_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    size_t i = 0;
    do {
        uint32_t sum = tk_fold_group(input, q->type, &s, tk_offset_of(index, s.strides),
                                     TK_FOLD_SUM);
        store(output, i++, sum, q);
    } while (tk_next_index(index, s.kept));
}

int tk_mean_sum_q(const void *input, const int32_t *input_dims, int rank,
                  const int32_t *reduced, void *output, int type, int32_t zero_offset,
                  int32_t multiplier, int32_t shift, int32_t output_zero)
{
    struct requantization q;
    int32_t outer, count, inner, o, i;
    q.type = type;
    q.zero_offset = zero_offset;
    q.multiplier = multiplier;
    q.shift = shift;
    q.output_zero = output_zero;
    q.lo = tk_s8a_type_min(type);
    q.hi = tk_s8a_type_max(type);
    if (tk_element_count(input_dims, rank) == 0) {
        /* LiteRT zero-fills the output (raw zeros, not the zero point). */
        struct tk_split_axes s = tk_split_axes(input_dims, rank, reduced);
        size_t size = type == TK_QTYPE_INT16 ? sizeof(int16_t) : 1;
        memset(output, 0, (size_t)tk_element_count(s.kept, TK_MAX_RANK) * size);
        return TK_OK;
    }
    if (!tk_reduced_run(input_dims, rank, reduced, &outer, &count, &inner)) {
        mean_sum_any_axes(input, input_dims, rank, reduced, output, &q);
        return TK_OK;
    }
    for (o = 0; o < outer; ++o) {
        for (i = 0; i < inner; ++i) {
            size_t start = (size_t)o * (size_t)count * (size_t)inner + (size_t)i;
            store(output, (size_t)o * (size_t)inner + (size_t)i,
                  strided_sum(input, type, start, count, (size_t)inner), &q);
        }
    }
    return TK_OK;
}
