"""Lowerings of the quantized (variant "int8") convolutions, FULLY_CONNECTED, pooling,
reductions and requantizing QUANTIZE. Pooling, MEAN, SUM and QUANTIZE are the 16x8 ones
(variant "int16") too: their kernels take any quantized type, and their numpy kernels are
the same for int16 (ops/int16/pool.py, reduce.py; QUANTIZE has one kernel).

Everything the numpy int8 kernels (toco_py/ops/int8) work out from the tensors' params is
worked out here with their own functions — multipliers and shifts, activation clamps, zero
points, and the checks that refuse what LiteRT refuses — and passed to the C kernels as
literals, so the two sides share one computation and cannot drift apart. Some of those
checks are module-private helpers of the numpy kernels; they are called rather than copied
for the same reason.
"""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..ops.fixed_point import wrap32
from ..ops.int8 import conv as conv_int8
from ..ops.int8 import pool as pool_int8
from ..ops.int8 import reduce as reduce_int8
from ..ops.int8.common import activation_range, fc_multipliers, params
from ..ops.int8.litert import per_tensor, require_dtype, require_same_params
from ..ops.quantize_ops import REQUANTIZATIONS, requantize_multiplier
from .constants import S8_LANES
from .lower_math import reduced_flags
from .lower_nn import window_geometry
from .lowering import OpContext, lowering

# The C code of each quantized type, for the kernels that take any of them (*_q).
QTYPES = {"int8": "TK_QTYPE_INT8", "uint8": "TK_QTYPE_UINT8", "int16": "TK_QTYPE_INT16"}
# The shifts tk_mbqm handles (a quantize_multiplier never gives less than -31).
MAX_DOUBLE_SHIFT = 62
# FULLY_CONNECTED's single rounding shifts right by 31 - shift, which must stay positive.
MAX_SINGLE_SHIFT = 30


def _check_shifts(ctx: OpContext, shifts, limit: int) -> None:
    worst = int(np.max(shifts, initial=0))
    if worst > limit:
        raise ctx.fail(f"its requantization multiplier needs a left shift of {worst} bits "
                       f"(input/output scale ratio far too large); the kernel handles {limit}")


def _requantization(ctx: OpContext, multipliers, shifts, limit: int = MAX_DOUBLE_SHIFT) -> list[str]:
    """Per-channel multipliers (int32) and shifts (int8: they lie in [-31, limit])."""
    _check_shifts(ctx, shifts, limit)
    if int(np.min(shifts, initial=0)) < -128:  # never from quantize_multiplier
        raise ctx.fail(f"a requantization shift of {int(np.min(shifts))} does not fit int8")
    return [ctx.table("int32_t", multipliers, "multipliers per output channel"),
            ctx.table("int8_t", shifts, "shifts per output channel")]


def _clamp(ctx: OpContext, out: Tensor) -> tuple[int, int, int]:
    """(output zero point, activation min, activation max) of an int8 output."""
    scale, zero = per_tensor(ctx.op, ctx.graph, out.name)
    lo, hi = activation_range(ctx.op, scale, zero)
    return zero, lo, hi


# ---- convolutions --------------------------------------------------------------------------

def _check_conv(ctx: OpContext, x: Tensor, w: Tensor, b: Tensor | None,
                out: Tensor) -> tuple[int, list[int]]:
    """conv_int8's checks: int8 tensors, a symmetric filter, NHWC shapes, an int32 bias per
    channel. Returns (output channels, window_geometry)."""
    op, graph = ctx.op, ctx.graph
    for t in (x, out, w):
        require_dtype(op, graph, t.name, ("int8",))
    if np.any(np.asarray(params(graph, w.name).zero_point) != 0):
        raise ctx.fail("int8 filters must be symmetric (zero point 0)")
    geometry = window_geometry(ctx, x, w, out)
    channels = int(out.shape[3] if op.type == "DEPTHWISE_CONV_2D" else w.shape[0])
    if b is not None and (b.dtype != "int32" or b.size != channels):
        raise ctx.fail(f"the bias must be {channels} int32 values, not {b.size} {b.dtype}")
    return channels, geometry


def _conv_s8(ctx: OpContext, kernel) -> None:
    """kernel(ctx, w): (family, function, the C expression of the filter), asked for once the
    checks passed."""
    x, w, b, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output()
    channels, (sh, sw, dh, dw, top, left) = _check_conv(ctx, x, w, b, out)
    _, in_zero = per_tensor(ctx.op, ctx.graph, x.name)
    multipliers, shifts = conv_int8.channel_multipliers(ctx.op, ctx.graph, channels)
    zero, lo, hi = _clamp(ctx, out)
    family, function, weights = kernel(ctx, w)
    ctx.call(family, function, ctx.pointer(x), ctx.dims(x), str(in_zero), weights,
             ctx.dims(w), ctx.pointer(b), ctx.pointer(out), ctx.dims(out), ctx.output_steps(out), str(sh), str(sw),
             str(dh), str(dw), str(top), str(left), *_requantization(ctx, multipliers, shifts),
             str(zero), str(lo), str(hi))


def _conv_kernel(ctx: OpContext, w: Tensor) -> tuple[str, str, str]:
    # Constant filters are packed for the vectorized kernel (constants.pack_blocks), as
    # weights or, when clustered and that takes less flash, as indices into value tables
    # (ctx.lut), which the same kernel decodes tap by tap.
    clustered = ctx.lut(w, 0, S8_LANES, blocks=True)
    if clustered:
        return "conv_s8", "tk_conv2d_lut_s8", clustered
    if w.is_const:
        return "conv_s8", "tk_conv2d_s8", ctx.packed(w, S8_LANES)
    return "unpacked_s8", "tk_conv2d_unpacked_s8", ctx.pointer(w)


def _depthwise_kernel(ctx: OpContext, w: Tensor) -> tuple[str, str, str]:
    clustered = ctx.lut(w, 3, None)
    if clustered:
        return "depthwise_conv_s8", "tk_depthwise_conv2d_lut_s8", clustered
    return "depthwise_conv_s8", "tk_depthwise_conv2d_s8", ctx.pointer(w)


@lowering("CONV_2D", variant="int8")
def conv2d_s8(ctx: OpContext) -> None:
    _conv_s8(ctx, _conv_kernel)


@lowering("DEPTHWISE_CONV_2D", variant="int8")
def depthwise_conv2d_s8(ctx: OpContext) -> None:
    _conv_s8(ctx, _depthwise_kernel)


# ---- FULLY_CONNECTED -------------------------------------------------------------------------

@lowering("FULLY_CONNECTED", variant="int8")
def fully_connected_s8(ctx: OpContext) -> None:
    x, w, b, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output()
    ctx.require_dtype([x, w, out], ("int8",))
    ctx.require_dtype([b], ("int32",))
    units, depth = (int(d) for d in w.shape)
    if depth == 0 or x.size % depth:
        raise ctx.fail(f"an input of {x.size} values cannot be rows of {depth}")
    if b is not None and b.size != units:
        raise ctx.fail(f"the bias has {b.size} values for {units} units")
    _, in_zero = per_tensor(ctx.op, ctx.graph, x.name)
    multipliers, shifts = fc_multipliers(ctx.graph, x.name, w.name, out.name)
    # One value per unit, so the kernel needs no per-tensor case.
    multipliers, shifts = np.broadcast_to(multipliers, (units,)), np.broadcast_to(shifts, (units,))
    zero, lo, hi = _clamp(ctx, out)
    clustered = ctx.lut(w, 0, S8_LANES, blocks=True)
    if clustered:
        family, function, weights = "fc_s8", "tk_fully_connected_lut_s8", clustered
    elif w.is_const:
        family, function, weights = "fc_s8", "tk_fully_connected_s8", ctx.packed(w, S8_LANES)
    else:
        family, function, weights = "unpacked_s8", "tk_fully_connected_unpacked_s8", ctx.pointer(w)
    ctx.call(family, function, ctx.pointer(x), str(x.size // depth), str(depth),
             str(in_zero), weights, ctx.pointer(b), ctx.pointer(out), str(units),
             *_requantization(ctx, multipliers, shifts, MAX_SINGLE_SHIFT), str(zero), str(lo),
             str(hi))


# ---- pooling ------------------------------------------------------------------------------

@lowering("MAX_POOL_2D", "AVERAGE_POOL_2D", variant="int16")
@lowering("MAX_POOL_2D", "AVERAGE_POOL_2D", variant="int8")
def pool2d_q(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    dtype = pool_int8._check_params(ctx.op, ctx.graph)
    sh, sw, _, _, top, left = window_geometry(ctx, x, None, out)
    fh, fw = ctx.op.attrs["filter_height"], ctx.op.attrs["filter_width"]
    scale, zero = per_tensor(ctx.op, ctx.graph, out.name)
    lo, hi = activation_range(ctx.op, float(scale), zero, dtype)
    function = "tk_max_pool_q" if ctx.op.type == "MAX_POOL_2D" else "tk_average_pool_q"
    ctx.call("pool_s8", function, ctx.pointer(x), ctx.dims(x), ctx.pointer(out), ctx.dims(out),
             str(fh), str(fw), str(sh), str(sw), str(top), str(left), str(lo), str(hi),
             QTYPES[dtype])


# ---- reductions ---------------------------------------------------------------------------

@lowering("MEAN", "SUM", variant="int16")
@lowering("MEAN", "SUM", variant="int8")
def mean_sum_q(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    op, graph = ctx.op, ctx.graph
    dtype, in_scale, in_zero, out_scale, out_zero = reduce_int8.mean_or_sum_params(op, graph)
    flags, axes = reduced_flags(ctx, x)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    multiplier, shift = reduce_int8.mean_or_sum_multiplier(in_scale, out_scale, count,
                                                           op.type == "SUM")
    _check_shifts(ctx, [shift], MAX_DOUBLE_SHIFT)
    # The kernel subtracts in_zero * count from the group sum modulo 2^32, as numpy wraps it.
    offset = int(wrap32(in_zero * count))
    ctx.call("reduce_s8", "tk_mean_sum_q", ctx.pointer(x), ctx.dims(x), str(len(x.shape)),
             ctx.int_array(flags), ctx.pointer(out), QTYPES[dtype], str(offset), str(multiplier),
             str(shift), str(out_zero))


@lowering("REDUCE_MAX", "REDUCE_MIN", variant="int8")
def reduce_extreme_q(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    dtype = reduce_int8._check_types(ctx.op, ctx.graph)
    require_same_params(ctx.op, ctx.graph, [x.name, out.name], "its input and output")
    flags, _ = reduced_flags(ctx, x)
    function = "tk_reduce_max_q" if ctx.op.type == "REDUCE_MAX" else "tk_reduce_min_q"
    ctx.call("reduce_extreme_s8", function, ctx.pointer(x), ctx.dims(x), str(len(x.shape)),
             ctx.int_array(flags), ctx.pointer(out), QTYPES[dtype])


# ---- QUANTIZE of an integer input --------------------------------------------------------

@lowering("QUANTIZE", variant="int16")
@lowering("QUANTIZE", variant="int8")
def requantize_q(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    if out.dtype not in REQUANTIZATIONS.get(x.dtype, ()):
        raise ctx.fail(f"LiteRT cannot requantize {x.dtype} to {out.dtype}")
    in_scale, in_zero = per_tensor(ctx.op, ctx.graph, x.name)
    out_scale, out_zero = per_tensor(ctx.op, ctx.graph, out.name)
    if x.dtype == "int16" and out.dtype == "int16" and (in_zero or out_zero):
        raise ctx.fail("int16 -> int16 requantization needs zero points of 0")
    multiplier, shift = requantize_multiplier(in_scale, out_scale)
    _check_shifts(ctx, [shift], MAX_DOUBLE_SHIFT)
    ctx.call("requantize_s8", "tk_requantize_q", ctx.pointer(x), QTYPES[x.dtype],
             ctx.pointer(out), QTYPES[out.dtype], str(out.size), str(in_zero), str(multiplier),
             str(shift), str(out_zero))
