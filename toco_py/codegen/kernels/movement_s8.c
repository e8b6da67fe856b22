/* The data-moving kernels the quantized ops add to movement.c: SELECT / SELECT_V2 and
 * GATHER_ND (any element type), and uint8 CONCATENATION of inputs whose params differ from
 * the output's (toco_py/ops/int8/movement.py). */
#include <math.h>
#include <string.h>

#include "toco_kernels.h" /* which turns FP_CONTRACT off: the float32 steps round as numpy's */

typedef unsigned char byte;

int tk_select(const uint8_t *cond, const int32_t *cond_dims, const void *x,
              const int32_t *x_dims, const void *y, const int32_t *y_dims, void *output,
              const int32_t *output_dims, int rank, size_t element_size)
{
    int32_t out[TK_MAX_RANK], padded[TK_MAX_RANK];
    int32_t c_strides[TK_MAX_RANK], x_strides[TK_MAX_RANK], y_strides[TK_MAX_RANK];
    int32_t index[TK_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    byte *dst = (byte *)output;
    tk_pad_dims(output_dims, rank, out);
    tk_pad_dims(cond_dims, rank, padded);
    tk_broadcast_strides(padded, out, c_strides);
    tk_pad_dims(x_dims, rank, padded);
    tk_broadcast_strides(padded, out, x_strides);
    tk_pad_dims(y_dims, rank, padded);
    tk_broadcast_strides(padded, out, y_strides);
    if (tk_element_count(out, TK_MAX_RANK) == 0) {
        return TK_OK;
    }
    do {
        int32_t at_c = 0, at_x = 0, at_y = 0;
        int d;
        for (d = 0; d < TK_MAX_RANK; ++d) {
            at_c += index[d] * c_strides[d];
            at_x += index[d] * x_strides[d];
            at_y += index[d] * y_strides[d];
        }
        if (cond[at_c]) {
            memcpy(dst, (const byte *)x + (size_t)at_x * element_size, element_size);
        } else {
            memcpy(dst, (const byte *)y + (size_t)at_y * element_size, element_size);
        }
        dst += element_size;
    } while (tk_next_index(index, out));
    return TK_OK;
}

/* Index j of tuple t of GATHER_ND's indices (int32 or int64). */
static int64_t nd_index(const void *indices, int indices_64, int32_t t, int32_t depth, int32_t j)
{
    size_t at = (size_t)t * (size_t)depth + (size_t)j;
    return indices_64 ? ((const int64_t *)indices)[at] : ((const int32_t *)indices)[at];
}

int tk_gather_nd(const void *params, const int32_t *params_dims, int rank,
                 const void *indices, int indices_64, int32_t count, int32_t depth,
                 void *output, size_t element_size)
{
    /* Each tuple names a slice: the elements after its `depth` leading axes. */
    size_t chunk = (size_t)tk_element_count(params_dims + depth, rank - depth) * element_size;
    byte *dst = (byte *)output;
    int32_t t, j;
    for (t = 0; t < count; ++t) {
        size_t from = 0;
        for (j = 0; j < depth; ++j) {
            int64_t i = nd_index(indices, indices_64, t, depth, j);
            if (i < 0 || i >= params_dims[j]) {
                return TK_ERROR_INDEX_OUT_OF_RANGE; /* LiteRT fails the call too */
            }
            from = from * (size_t)params_dims[j] + (size_t)i;
        }
        memcpy(dst, (const byte *)params + from * chunk, chunk);
        dst += chunk;
    }
    return TK_OK;
}

/* One uint8 value in the output's params: round(q * scale + bias) + output_zero, the
 * rounding as numpy's trunc(v + copysign(0.5, v)) in float32. */
static uint8_t rescale_u8(uint8_t q, float scale, float bias, int32_t output_zero)
{
    float real = (float)q * scale + bias;
    float rounded = truncf(real + copysignf(0.5f, real));
    /* Far outside 0..255 either way: saturate before converting (no overflow). */
    if (rounded > 1e9f || rounded < -1e9f) {
        rounded = rounded > 0.0f ? 1e9f : -1e9f;
    }
    return (uint8_t)tk_clamp_s32((int64_t)rounded + output_zero, 0, 255);
}

int tk_concatenation_u8_scaled(const void *const *inputs, const int32_t *axis_sizes,
                               int count, uint8_t *output, const int32_t *output_dims,
                               int rank, int axis, const int32_t *rescale,
                               const float *scales, const float *biases, int32_t output_zero)
{
    /* Outer rows (the axes before `axis`), each the inputs' chunks side by side. */
    int32_t outer = tk_element_count(output_dims, axis);
    int32_t inner = tk_element_count(output_dims + axis + 1, rank - axis - 1);
    uint8_t *dst = output;
    int32_t o, k;
    int i;
    for (o = 0; o < outer; ++o) {
        for (i = 0; i < count; ++i) {
            int32_t chunk = axis_sizes[i] * inner;
            const uint8_t *src = (const uint8_t *)inputs[i] + (size_t)o * (size_t)chunk;
            if (!rescale[i]) {
                if (src != dst) { /* written in place by its producer (planner.py) */
                    memcpy(dst, src, (size_t)chunk);
                }
            } else {
                for (k = 0; k < chunk; ++k) {
                    dst[k] = rescale_u8(src[k], scales[i], biases[i], output_zero);
                }
            }
            dst += chunk;
        }
    }
    return TK_OK;
}
