/* QUANTIZE of an integer input: int8 / uint8 -> int8 / uint8 and int16 -> int8 / int16
 * (toco_py/ops/quantize_ops.py requantize, after LiteRT's reference_ops::Requantize). The
 * multiplier is double(input scale) / double(output scale); equal scales give an exact
 * identity, so LiteRT's XOR shortcut for int8 <-> uint8 needs no case of its own. */
#include "toco_kernels.h"

int tk_requantize_q(const void *input, int input_type, void *output, int output_type,
                    int32_t count, int32_t input_zero, int32_t multiplier, int32_t shift,
                    int32_t output_zero)
{
    int32_t lo = tk_s8a_type_min(output_type), hi = tk_s8a_type_max(output_type);
    int32_t i;
    for (i = 0; i < count; ++i) {
        int64_t q = tk_s8a_load(input, (size_t)i, input_type);
        int32_t scaled = tk_mbqm(tk_wrap32(q - input_zero), multiplier, shift);
        /* numpy adds the zero point in 64 bits: no wrap before the clamp. */
        tk_s8a_store(output, (size_t)i, output_type,
                     tk_clamp_s32((int64_t)scaled + output_zero, lo, hi));
    }
    return TK_OK;
}
