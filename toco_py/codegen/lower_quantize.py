"""Lowerings of QUANTIZE (float32 -> int8 / uint8 / int16) and DEQUANTIZE (float16 and
int8 / uint8 / int16 -> float32), per tensor or per channel.

The parameters come from the tensors (the QUANTIZE output, the DEQUANTIZE input) and are
written as literal arrays: scales as float32 values, zero points as int32."""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from .lowering import OpContext, lowering

_SUFFIX = {"int8": "s8", "uint8": "u8", "int16": "s16"}


def _channel_layout(ctx: OpContext, t: Tensor) -> tuple[int, int, np.ndarray, np.ndarray]:
    """(inner, channels, scales, zero points): element i uses channel (i / inner) % channels."""
    if t.quant is None:
        raise ctx.fail(f"tensor {t.name!r} has no quantization parameters")
    scales = np.asarray(t.quant.scale, np.float32).reshape(-1)
    zeros = np.asarray(t.quant.zero_point, np.int64).reshape(-1)
    if scales.size == 1:
        return max(t.size, 1), 1, scales, zeros
    axis = t.quant.axis
    inner = int(np.prod(t.shape[axis + 1:], dtype=np.int64))
    return max(inner, 1), int(scales.size), scales, zeros


def _call(ctx: OpContext, family: str, function: str, src: Tensor, dst: Tensor,
          params_of: Tensor) -> None:
    inner, channels, scales, zeros = _channel_layout(ctx, params_of)
    ctx.call(family, function, ctx.pointer(src), ctx.pointer(dst), str(dst.size), str(inner),
             str(channels), ctx.float_array(scales), ctx.int_array(zeros))


@lowering("DEQUANTIZE")
def dequantize(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.require_dtype([out], ("float32",))
    if x.dtype == "float16":
        ctx.call("dequantize", "tk_dequantize_f16", ctx.pointer(x), ctx.pointer(out), str(out.size))
        return
    if x.dtype not in _SUFFIX:
        raise ctx.fail(f"cannot dequantize {x.dtype}")
    if x.dtype == "int16" and x.quant is not None and np.any(np.asarray(x.quant.zero_point) != 0):
        raise ctx.fail("LiteRT dequantizes int16 with a zero point of 0 only")
    _call(ctx, "dequantize", f"tk_dequantize_{_SUFFIX[x.dtype]}", x, out, x)


@lowering("QUANTIZE")
def quantize(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.require_dtype([x], ("float32",))
    if out.dtype not in _SUFFIX:
        raise ctx.fail(f"cannot quantize to {out.dtype}")
    _call(ctx, "quantize", f"tk_quantize_f32_{_SUFFIX[out.dtype]}", x, out, out)
