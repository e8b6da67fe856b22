"""Lowerings (variant "int16") of the 16x8 ops: int16 activations, int8 weights. Kernels in
kernels/*_s16.c (declared in toco_kernels_s16.h); the ops whose int8 kernels take any
quantized type (pooling, MEAN, SUM, requantizing QUANTIZE, the data-moving ops) register
their int8 lowerings for int16 too, with the zero-point checks LiteRT adds for int16.

As for int8, every multiplier, shift, clamp and check comes from the numpy 16x8 kernels'
own functions (toco_py/ops/int16 and the int8 helpers they call), and every table from
their own arrays (SIGMOID_TABLE, SOFTMAX's lut.py tables), so the C only repeats the
per-element integer arithmetic.
"""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..ops.int8 import activation as act8
from ..ops.int8 import conv as conv_int8
from ..ops.int8 import elementwise as ew8
from ..ops.int8.common import activation_range
from ..ops.int8.litert import per_tensor, require_all, require_zero_points
from ..ops.int8.movement import data_inputs
from ..ops.int16 import activation as act16
from ..ops.int16 import elementwise as ew16
from ..ops.int16 import fully_connected as fc16
from ..ops.int16 import movement as movement16
from ..ops.int16 import softmax as sm16
from . import lower_int8_movement as movement8
from .lower_int8_math import _params_struct
from .lower_int8_nn import _requantization, reduce_extreme_q
from .lower_math import _rows
from .lower_nn import window_geometry
from .lowering import OpContext, lowering

# tk_mbqm64 shifts right by 15 - shift, which must stay positive.
MAX_INT64_SHIFT = 14
# SOFTMAX's int32 sum of exps (each at most 2^15) cannot wrap up to this many per row.
MAX_SOFTMAX_DEPTH = 1 << 16


def _like(t: Tensor | None) -> np.ndarray | None:
    """A stand-in for the numpy kernels' checks, which read only a tensor's type and shape."""
    return None if t is None else np.zeros(t.shape, t.dtype)


def _clamp(ctx: OpContext) -> tuple[str, str]:
    """The fused activation as an int16 clamp (zero point 0)."""
    scale, _ = per_tensor(ctx.op, ctx.graph, ctx.op.outputs[0])
    return tuple(str(v) for v in activation_range(ctx.op, float(scale), 0, "int16"))


# ---- convolutions and FULLY_CONNECTED ------------------------------------------------------

def _conv_s16(ctx: OpContext, function: str) -> None:
    x, w, b, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output()
    sh, sw, dh, dw, top, left = window_geometry(ctx, x, w, out)
    channels = int(w.shape[3] if ctx.op.type == "DEPTHWISE_CONV_2D" else w.shape[0])
    conv_int8.check_tensors(ctx.op, ctx.graph, _like(b), channels, "int16")
    multipliers, shifts = conv_int8.channel_multipliers(ctx.op, ctx.graph, channels)
    ctx.call("conv_s16", function, ctx.pointer(x), ctx.dims(x), ctx.pointer(w), ctx.dims(w),
             ctx.pointer(b), ctx.pointer(out), ctx.dims(out), str(sh), str(sw), str(dh), str(dw),
             str(top), str(left), *_requantization(ctx, multipliers, shifts, MAX_INT64_SHIFT),
             *_clamp(ctx))


@lowering("CONV_2D", variant="int16")
def conv2d_s16(ctx: OpContext) -> None:
    _conv_s16(ctx, "tk_conv2d_s16")


@lowering("DEPTHWISE_CONV_2D", variant="int16")
def depthwise_conv2d_s16(ctx: OpContext) -> None:
    _conv_s16(ctx, "tk_depthwise_conv2d_s16")


@lowering("FULLY_CONNECTED", variant="int16")
def fully_connected_s16(ctx: OpContext) -> None:
    x, w, b, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output()
    w_scales = fc16._check_fc(ctx.op, ctx.graph, _like(w), _like(b))
    units, depth = (int(d) for d in w.shape)
    if depth == 0 or x.size % depth:
        raise ctx.fail(f"an input of {x.size} values cannot be rows of {depth}")
    in_scale, _ = per_tensor(ctx.op, ctx.graph, x.name)
    out_scale, _ = per_tensor(ctx.op, ctx.graph, out.name)
    # The numpy kernel's per-unit scale, the same double arithmetic.
    scales = float(in_scale) * w_scales.astype(np.float64) / float(out_scale)
    ctx.call("fc_s16", "tk_fully_connected_s16", ctx.pointer(x), str(x.size // depth),
             str(depth), ctx.pointer(w), ctx.pointer(b), ctx.pointer(out), str(units),
             ctx.double_table(scales, "scale per unit"), *_clamp(ctx))


# ---- ADD, SUB, MUL -----------------------------------------------------------------------

def _binary_call(ctx: OpContext, function: str, params: ew8.BinaryParams) -> None:
    a, b, out = ctx.input(0), ctx.input(1), ctx.output()
    ctx.require_rank([a, b, out])
    rank = max(len(out.shape), 1)  # scalars as shape [1]: the kernel wants an axis
    family = ctx.op.type.lower() + "_s16"
    ctx.call(family, function, ctx.pointer(a), ctx.dims_at_rank(a, rank), ctx.pointer(b),
             ctx.dims_at_rank(b, rank), ctx.pointer(out), ctx.dims_at_rank(out, rank), str(rank),
             _params_struct(ctx, params))


@lowering("ADD", "SUB", variant="int16")
def add_sub_s16(ctx: OpContext) -> None:
    """ew16's two paths: the power-of-two one when pot_shifts says LiteRT takes it."""
    op, graph, is_sub = ctx.op, ctx.graph, ctx.op.type == "SUB"
    names = [op.inputs[0], op.inputs[1], op.outputs[0]]
    require_all(op, graph, names, "int16")
    require_zero_points(op, graph, names)
    shifts = ew16.pot_shifts(op, graph)
    if shifts is None:
        _binary_call(ctx, f"tk_{op.type.lower()}_s16", ew8.add_sub_params(op, graph, is_sub, "int16"))
        return
    lo, hi = _clamp(ctx)
    params = ew8.BinaryParams(a_shift=-shifts[0], b_shift=-shifts[1], act_min=int(lo), act_max=int(hi))
    if is_sub:
        _binary_call(ctx, "tk_sub_pot_s16", params)
        return
    a, b, out = ctx.input(0), ctx.input(1), ctx.output()
    if ctx.shape(a) != ctx.shape(b):
        raise ctx.fail(f"LiteRT's power-of-two 16-bit ADD cannot broadcast {list(a.shape)} against "
                       f"{list(b.shape)} (it aborts); set pot_scale_int16 false for the general path")
    ctx.call("add_s16", "tk_add_pot_s16", ctx.pointer(a), ctx.pointer(b), ctx.pointer(out),
             str(out.size), _params_struct(ctx, params))


@lowering("MUL", variant="int16")
def mul_s16(ctx: OpContext) -> None:
    op, graph = ctx.op, ctx.graph
    a, b, out = ctx.input(0), ctx.input(1), ctx.output()
    require_all(op, graph, op.inputs[:2], "int16")
    if out.dtype != "int8":
        require_all(op, graph, op.outputs, "int16")
        require_zero_points(op, graph, [op.inputs[0], op.inputs[1], op.outputs[0]])
        _binary_call(ctx, "tk_mul_s16", ew8.mul_params(op, graph, "int16"))
        return
    # ew16._mul_to_int8: the output's zero point and clamp are all it reads of the params.
    if ctx.shape(a) != ctx.shape(b):
        raise ctx.fail(f"LiteRT's int16 x int16 -> int8 MUL cannot broadcast {list(a.shape)} "
                       f"against {list(b.shape)}")
    scale, zero = per_tensor(op, graph, out.name)
    lo, hi = activation_range(op, scale, zero)
    ctx.call("mul_s16", "tk_mul_s16_s8", ctx.pointer(a), ctx.pointer(b), ctx.pointer(out),
             str(out.size), str(zero), str(lo), str(hi))


# ---- activations and SOFTMAX ----------------------------------------------------------------

def _unary_call(ctx: OpContext, family: str, function: str, *args) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.call(family, function, ctx.pointer(x), ctx.pointer(out), str(out.size),
             *(str(a) for a in args))


def _symmetric_io(ctx: OpContext) -> None:
    require_zero_points(ctx.op, ctx.graph, [ctx.op.inputs[0], ctx.op.outputs[0]])


@lowering("RELU", "RELU6", variant="int16")
def relu_s16(ctx: OpContext) -> None:
    _symmetric_io(ctx)
    _, (multiplier, shift), _, lo, hi = act8.relu_params(ctx.op, ctx.graph, "int16")
    _unary_call(ctx, "activation_s16", "tk_relu_s16", multiplier, shift, lo, hi)


@lowering("LEAKY_RELU", variant="int16")
def leaky_relu_s16(ctx: OpContext) -> None:
    _symmetric_io(ctx)
    _, identity, alpha, _ = act8.leaky_relu_params(ctx.op, ctx.graph, "int16")
    _unary_call(ctx, "activation_s16", "tk_leaky_relu_s16", *identity, *alpha)


def _sigmoid_table(ctx: OpContext) -> str:
    return ctx.table("uint16_t", act16.SIGMOID_TABLE, "sigmoid(i / 24) in Q0.16")


@lowering("LOGISTIC", variant="int16")
def logistic_s16(ctx: OpContext) -> None:
    scaling = act16.logistic_input_scaling(ctx.op, ctx.graph)
    _unary_call(ctx, "activation_s16", "tk_logistic_s16", *scaling, _sigmoid_table(ctx))


@lowering("TANH", variant="int16")
def tanh_s16(ctx: OpContext) -> None:
    scaling = act16.tanh_input_scaling(ctx.op, ctx.graph)
    _unary_call(ctx, "activation_s16", "tk_tanh_s16", *scaling, _sigmoid_table(ctx))


@lowering("SOFTMAX", variant="int16")
def softmax_s16(ctx: OpContext) -> None:
    multiplier, shift = sm16.softmax_params(ctx.op, ctx.graph)
    outer, depth = _rows(ctx)
    if int(depth) > MAX_SOFTMAX_DEPTH:
        raise ctx.fail(f"rows of {depth} elements; the 16x8 kernel handles up to "
                       f"{MAX_SOFTMAX_DEPTH} (its int32 sum of exponentials could wrap)")
    exp_lut, reciprocal_lut = sm16._tables()
    ctx.call("softmax_s16", "tk_softmax_s16", ctx.pointer(ctx.input(0)), ctx.pointer(ctx.output()),
             outer, depth, str(multiplier), str(shift),
             ctx.table("int16_t", exp_lut, "exp on [-10, 0]"),
             ctx.table("int16_t", reciprocal_lut, "1 / (1 + x) on [0, 1]"))


# ---- the int8 lowerings that take int16 as well -----------------------------------------------

def _symmetric(int8_lowering):
    """The int8 lowering, once the op's int16 data inputs and outputs have zero points of 0
    (LiteRT's extra checks for int16, as ops/int16/movement.py and reduce.py make them)."""
    def lower(ctx: OpContext) -> None:
        names = data_inputs(ctx.op) + ctx.op.outputs
        require_zero_points(ctx.op, ctx.graph, names)
        int8_lowering(ctx)
    return lower


# The int8 lowerings of the data-moving ops LiteRT runs on int16 (ops/int16/movement.py's
# COPIES and SYMMETRIC: all of these are in one or the other).
_MOVING = {**dict.fromkeys(movement8.AS_FLOAT, movement8.as_float), "PAD": movement8.pad_q,
           "PADV2": movement8.pad_q, "CONCATENATION": movement8.concatenation_q,
           "BROADCAST_TO": movement8.broadcast_to_q, "GATHER_ND": movement8.gather_nd_q}
for _op_type, _lower in _MOVING.items():
    lowering(_op_type, variant="int16")(_symmetric(_lower) if _op_type in movement16.SYMMETRIC else _lower)
lowering("REDUCE_MAX", "REDUCE_MIN", variant="int16")(_symmetric(reduce_extreme_q))
