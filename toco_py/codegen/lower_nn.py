"""Lowerings of the float NHWC ops: convolutions, FULLY_CONNECTED and pooling.

Window geometry (SAME padding, output sizes) is worked out here with the same helpers
the numpy kernels use, so the C kernels only see the padding before the input. Constant
CONV_2D filters and FULLY_CONNECTED weights are repacked in blocks of output channels
(constants.pack_blocks) for the vectorized kernels; ones computed at run time go to the
*_unpacked kernels, clustered ones (few distinct values) to the *_lut kernels as packed
indices and value tables when that takes less flash (OpContext.lut: conv and FC indices in
the same blocks)."""
from __future__ import annotations

from ..ir import Tensor
from ..ops.common import same_padding
from ..ops.conv import window
from ..ops.fully_connected import refuse_ignored_activation
from .constants import F32_LANES
from .lowering import OpContext, lowering

FLOAT = ("float32",)


def _pads(ctx: OpContext, in_hw: tuple[int, int], kernel_hw: tuple[int, int]) -> tuple[int, int]:
    """Rows and columns of padding before the input (top, left)."""
    sh, sw, dh, dw, padding = window(ctx.op)
    if padding not in ("SAME", "VALID"):
        raise ctx.fail(f"unknown padding {padding}")
    top, _ = same_padding(in_hw[0], kernel_hw[0], sh, dh, padding)
    left, _ = same_padding(in_hw[1], kernel_hw[1], sw, dw, padding)
    return top, left


def _nhwc(ctx: OpContext, *tensors) -> None:
    for t in tensors:
        if t is not None and len(t.shape) != 4:
            raise ctx.fail(f"tensor {t.name!r} must be 4-D, not of shape {list(t.shape)}")


def window_geometry(ctx: OpContext, x: Tensor, w: Tensor | None, out: Tensor) -> list[int]:
    """[sh, sw, dh, dw, top, left] of a convolution (filter w) or pooling (w None) window,
    after checking that x, w and out are 4-D and that their channels fit the op."""
    _nhwc(ctx, x, w, out)
    if ctx.op.type == "CONV_2D" and x.shape[3] != w.shape[3]:
        raise ctx.fail(f"input has {x.shape[3]} channels, the filter {w.shape[3]} "
                       "(grouped convolutions are not supported)")
    if ctx.op.type == "DEPTHWISE_CONV_2D" and (not x.shape[3] or out.shape[3] % x.shape[3]):
        raise ctx.fail(f"{out.shape[3]} output channels is not a multiple of {x.shape[3]}")
    if w is not None:
        kernel_hw = w.shape[1:3]
    else:
        kernel_hw = (ctx.op.attrs["filter_height"], ctx.op.attrs["filter_width"])
    sh, sw, dh, dw, _ = window(ctx.op)
    top, left = _pads(ctx, x.shape[1:3], kernel_hw)
    return [sh, sw, dh, dw, top, left]


def _conv_common(ctx: OpContext, kernel) -> None:
    """kernel(ctx, w): (family, function, the C expression of the filter), asked for once the
    shapes passed."""
    x, w, b, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output()
    ctx.require_dtype([x, w, b, out], FLOAT)
    sh, sw, dh, dw, top, left = window_geometry(ctx, x, w, out)
    family, function, weights = kernel(ctx, w)
    lo, hi = ctx.activation()
    ctx.call(family, function, ctx.pointer(x), ctx.dims(x), weights, ctx.dims(w),
             ctx.pointer(b), ctx.pointer(out), ctx.dims(out), str(sh), str(sw), str(dh), str(dw),
             str(top), str(left), lo, hi)


def _conv_kernel(ctx: OpContext, w: Tensor) -> tuple[str, str, str]:
    # A clustered filter as indices into value tables (ctx.lut) when that takes less flash;
    # other constant ones packed in blocks of output channels.
    clustered = ctx.lut(w, 0, F32_LANES, blocks=True)
    if clustered:
        return "conv", "tk_conv2d_lut_f32", clustered
    if w.is_const and w.dtype == "float32":
        return "conv", "tk_conv2d_f32", ctx.packed(w, F32_LANES)
    return "unpacked", "tk_conv2d_unpacked_f32", ctx.pointer(w)


def _depthwise_kernel(ctx: OpContext, w: Tensor) -> tuple[str, str, str]:
    clustered = ctx.lut(w, 3, None)
    if clustered:
        return "depthwise_conv", "tk_depthwise_conv2d_lut_f32", clustered
    return "depthwise_conv", "tk_depthwise_conv2d_f32", ctx.pointer(w)


@lowering("CONV_2D")
def conv2d(ctx: OpContext) -> None:
    _conv_common(ctx, _conv_kernel)


@lowering("DEPTHWISE_CONV_2D")
def depthwise_conv2d(ctx: OpContext) -> None:
    _conv_common(ctx, _depthwise_kernel)


@lowering("TRANSPOSE_CONV")
def transpose_conv(ctx: OpContext) -> None:
    # Inputs: output_shape, filter (OHWI), input, optional bias.
    w, x, b, out = ctx.input(1), ctx.input(2), ctx.input(3), ctx.output()
    ctx.require_dtype([w, x, b, out], FLOAT)
    _nhwc(ctx, x, w, out)
    sh, sw = ctx.op.attrs.get("stride_h", 1), ctx.op.attrs.get("stride_w", 1)
    padding = ctx.op.attrs.get("padding", "VALID")
    # LiteRT pads as if the output were the input of the forward convolution.
    top, _ = same_padding(out.shape[1], w.shape[1], sh, 1, padding)
    left, _ = same_padding(out.shape[2], w.shape[2], sw, 1, padding)
    lo, hi = ctx.activation()
    ctx.call("transpose_conv", "tk_transpose_conv_f32", ctx.pointer(x), ctx.dims(x),
             ctx.pointer(w), ctx.dims(w), ctx.pointer(b), ctx.pointer(out), ctx.dims(out),
             str(sh), str(sw), str(top), str(left), lo, hi)


@lowering("FULLY_CONNECTED")
def fully_connected(ctx: OpContext) -> None:
    x, w, b, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output()
    if w is not None and w.dtype != "float32":
        raise ctx.fail(f"weights of type {w.dtype} on a float input (dynamic-range "
                       "quantization) are not supported; convert without --quantize dynamic")
    ctx.require_dtype([x, w, b, out], FLOAT)
    refuse_ignored_activation(ctx.op)
    units, depth = (int(d) for d in w.shape)
    batches = x.size // depth if depth else 0
    lo, hi = ctx.activation()
    clustered = ctx.lut(w, 0, F32_LANES, blocks=True)
    if clustered:
        family, function, weights = "fully_connected", "tk_fully_connected_lut_f32", clustered
    elif w.is_const:
        family, function = "fully_connected", "tk_fully_connected_f32"
        weights = ctx.packed(w, F32_LANES)
    else:
        family, function, weights = "unpacked", "tk_fully_connected_unpacked_f32", ctx.pointer(w)
    ctx.call(family, function, ctx.pointer(x), str(batches), str(depth), weights, ctx.pointer(b),
             ctx.pointer(out), str(units), lo, hi)


@lowering("MAX_POOL_2D", "AVERAGE_POOL_2D")
def pool2d(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.require_dtype([x, out], FLOAT)
    sh, sw, _, _, top, left = window_geometry(ctx, x, None, out)
    fh, fw = ctx.op.attrs["filter_height"], ctx.op.attrs["filter_width"]
    lo, hi = ctx.activation()
    function = "tk_max_pool_f32" if ctx.op.type == "MAX_POOL_2D" else "tk_average_pool_f32"
    ctx.call("pool", function, ctx.pointer(x), ctx.dims(x), ctx.pointer(out), ctx.dims(out),
             str(fh), str(fw), str(sh), str(sw), str(top), str(left), lo, hi)

