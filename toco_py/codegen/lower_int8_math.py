"""Lowerings (variant "int8") of the quantized elementwise math, activations and softmaxes:
kernels in kernels/<op>_s8.c (one file per binary op, sharing binary_s8.h), activation_s8.c,
hard_swish_s8.c, l2_normalization_s8.c, softmax_s8.c and log_softmax_s8.c.

Every multiplier, shift, zero point and clamp is computed here with the functions (and the
float32-versus-double arithmetic) of the numpy int8 kernels in toco_py/ops/int8, so the C
only repeats their per-element integer steps; their checks (parameters LiteRT refuses)
raise here too, naming the op. LOGISTIC and TANH go further: their numpy kernels build a
256-entry table in float32 with the C library's expf/tanhf, so the table is made by running
that very kernel on every int8 value, and the C looks it up (bit-exact by construction).
"""
from __future__ import annotations

import numpy as np

from ..ops.int8 import activation as act8
from ..ops.int8 import elementwise as ew8
from ..ops.int8 import fixedpoint as fx
from ..ops.int8 import softmax as sm8
from ..ops.int8.common import activation_range, quantize_value, scale_zero
from . import cformat
from .lower_math import _broadcast_dims, _rows
from .lowering import OpContext, lowering

f32 = np.float32
ALL_INT8 = np.arange(-128, 128, dtype=np.int8)
# The fields of tk_binary_s8_params (toco_kernels_s8b.h), in order.
_PARAM_FIELDS = ("a_zero", "b_zero", "left_shift", "a_multiplier", "a_shift", "b_multiplier",
                 "b_shift", "out_multiplier", "out_shift", "out_zero", "act_min", "act_max")
# LOG_SOFTMAX's int32 sum of exps (Q12.19, 2^19 per element at the row maximum) wraps from
# 4096 elements on, where the log's normalisation shifts would turn negative (undefined).
MAX_LOG_SOFTMAX_DEPTH = 4095


def _below_32(ctx: OpContext, shift: int, what: str) -> int:
    """The positive shifts of MultiplyByQuantizedMultiplierSmallerThanOneExp shift by
    32 - shift: only meaningful below 32 (real multipliers under 2^31)."""
    if shift >= 32:
        raise ctx.fail(f"{what} multiplier is 2^{shift - 1} or more; the kernel cannot apply it")
    return shift


# ---- binary ops: the quantization, as a dict of tk_binary_s8_params fields ---------------

def _add_sub(ctx: OpContext, is_sub: bool) -> dict:
    op, graph = ctx.op, ctx.graph
    (s1, z1), (s2, z2), (so, zo) = ew8._params(graph, op)
    twice_max, m1, m2 = ew8._input_multipliers(s1, s2)
    real_out = twice_max / (float(1 << 20) * float(so))
    if is_sub and real_out > 1.0:  # sub.cc's multiplier above one (see sub_int8)
        mo = fx.multiplier_greater_than_one(real_out, f"{op!r} output")
    else:
        mo = fx.multiplier_smaller_than_one(real_out, f"{op!r} output")
    lo, hi = activation_range(op, so, zo)
    return {"a_zero": z1, "b_zero": z2, "left_shift": 20, "a_multiplier": m1[0], "a_shift": m1[1],
            "b_multiplier": m2[0], "b_shift": m2[1], "out_multiplier": mo[0],
            "out_shift": _below_32(ctx, mo[1], "the output"), "out_zero": zo, "act_min": lo,
            "act_max": hi}


def _mul(ctx: OpContext) -> dict:
    (s1, z1), (s2, z2), (so, zo) = ew8._params(ctx.graph, ctx.op)
    mo = fx.quantize_multiplier(float(f32(s1) * f32(s2) / f32(so)))
    lo, hi = activation_range(ctx.op, so, zo)
    return {"a_zero": z1, "b_zero": z2, "out_multiplier": mo[0], "out_shift": mo[1], "out_zero": zo,
            "act_min": lo, "act_max": hi}


def _squared_difference(ctx: OpContext) -> dict:
    op = ctx.op
    (s1, z1), (s2, z2), (so, zo) = ew8._params(ctx.graph, op)
    twice_max, m1, m2 = ew8._input_multipliers(s1, s2)
    real_out = twice_max * twice_max / float(f32(1 << 14) * f32(so))
    mo = fx.multiplier_smaller_than_one(real_out, f"{op!r} output")
    return {"a_zero": z1, "b_zero": z2, "left_shift": 7, "a_multiplier": m1[0], "a_shift": m1[1],
            "b_multiplier": m2[0], "b_shift": m2[1], "out_multiplier": mo[0], "out_shift": mo[1],
            "out_zero": zo}


def _extremum(ctx: OpContext) -> dict:
    ew8._require_int8(ctx.graph, ctx.op, [ctx.op.inputs[0], ctx.op.inputs[1], ctx.op.outputs[0]])
    return {}


def _comparison(ctx: OpContext) -> dict:
    op, graph = ctx.op, ctx.graph
    ew8._require_int8(graph, op, [op.inputs[0], op.inputs[1]])
    ctx.require_dtype([ctx.output()], ("bool",))
    (s1, z1), (s2, z2) = scale_zero(graph, op.inputs[0]), scale_zero(graph, op.inputs[1])
    m1 = ew8._comparison_multiplier(s1, f"{op!r} input 1")
    m2 = ew8._comparison_multiplier(s2, f"{op!r} input 2")
    return {"a_zero": z1, "b_zero": z2, "left_shift": 8, "a_multiplier": m1[0],
            "a_shift": _below_32(ctx, m1[1], "input 1's"), "b_multiplier": m2[0],
            "b_shift": _below_32(ctx, m2[1], "input 2's")}


def _prelu(ctx: OpContext) -> dict:
    op, graph = ctx.op, ctx.graph
    act8._require_int8(graph, op, [op.inputs[0], op.inputs[1], op.outputs[0]])
    (si, zi), (sa, za) = scale_zero(graph, op.inputs[0]), scale_zero(graph, op.inputs[1])
    so, zo = scale_zero(graph, op.outputs[0])
    if ctx.shape(ctx.output()) != ctx.shape(ctx.input(0)):
        raise ctx.fail("alpha broadcasts the input to a larger shape; LiteRT needs the input's")
    m_positive = fx.quantize_multiplier(float(f32(si) / f32(so)))
    m_negative = fx.quantize_multiplier(float(f32(si) * f32(sa) / f32(so)))
    return {"a_zero": zi, "b_zero": za, "a_multiplier": m_positive[0], "a_shift": m_positive[1],
            "b_multiplier": m_negative[0], "b_shift": m_negative[1], "out_zero": zo}


_BINARY = {"ADD": lambda ctx: _add_sub(ctx, False), "SUB": lambda ctx: _add_sub(ctx, True),
           "MUL": _mul, "SQUARED_DIFFERENCE": _squared_difference, "MAXIMUM": _extremum,
           "MINIMUM": _extremum, "PRELU": _prelu,
           **{name: _comparison for name in ("LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL",
                                             "EQUAL", "NOT_EQUAL")}}
# The kernel file of each binary op: its own, except for the ones sharing one.
_BINARY_FAMILY = {"MAXIMUM": "maximum_minimum_s8", "MINIMUM": "maximum_minimum_s8",
                  **{name: "comparison_s8" for name in ("LESS", "LESS_EQUAL", "GREATER",
                                                        "GREATER_EQUAL", "EQUAL", "NOT_EQUAL")}}


def _params_struct(ctx: OpContext, values: dict) -> str:
    """A tk_binary_s8_params in NAME_weights.c; unset fields are 0, the clamp int8's range."""
    values = {"act_min": -128, "act_max": 127, **values}
    items = ", ".join(f".{k} = {cformat.int_literal(values.get(k, 0))}" for k in _PARAM_FIELDS)
    return ctx.struct("tk_binary_s8_params", f"{{{items}}}", "quantization")


@lowering(*_BINARY, variant="int8")
def binary(ctx: OpContext) -> None:
    a, b, out = ctx.input(0), ctx.input(1), ctx.output()
    ctx.require_rank([a, b, out])
    params = _BINARY[ctx.op.type](ctx)
    rank = max(len(out.shape), 1)  # scalars as shape [1]: the kernel wants an axis
    dims = [ctx.int_array(_broadcast_dims(ctx.shape(t), rank)) for t in (a, b, out)]
    name = ctx.op.type.lower()
    family = _BINARY_FAMILY.get(ctx.op.type, f"{name}_s8")
    ctx.call(family, f"tk_{name}_s8", ctx.pointer(a), dims[0], ctx.pointer(b), dims[1],
             ctx.pointer(out), dims[2], str(rank), _params_struct(ctx, params))


# ---- unary ops --------------------------------------------------------------------------

def _unary_call(ctx: OpContext, family: str, function: str, *args) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.call(family, function, ctx.pointer(x), ctx.pointer(out), str(out.size),
             *[a if isinstance(a, str) else cformat.int_literal(a) for a in args])


@lowering("RSQRT", variant="int8")
def rsqrt(ctx: OpContext) -> None:
    op, graph = ctx.op, ctx.graph
    ew8._require_int8(graph, op, [op.inputs[0], op.outputs[0]])
    (si, zi), (so, zo) = scale_zero(graph, op.inputs[0]), scale_zero(graph, op.outputs[0])
    # SetRsqrtOutputMultiplier: sqrt and product in float, the reciprocal in double.
    multiplier, shift = fx.quantize_multiplier(1.0 / float(f32(np.sqrt(f32(si))) * f32(so)))
    _unary_call(ctx, "rsqrt_s8", "tk_rsqrt_s8", zi, multiplier, shift, zo)


# (lowest, highest) real output of each ReluX; None: unbounded.
_RELU_RANGES = {"RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0),
            "RELU_0_TO_1": (0.0, 1.0)}


@lowering(*_RELU_RANGES, variant="int8")
def relu(ctx: OpContext) -> None:
    (si, zi), (so, zo) = act8._io(ctx.graph, ctx.op)
    act_min, act_max = _RELU_RANGES[ctx.op.type]
    multiplier, shift = fx.quantize_multiplier(float(f32(si) / f32(so)))  # ReluPrepare
    lo = max(-128, quantize_value(so, zo, act_min))
    hi = 127 if act_max is None else min(127, quantize_value(so, zo, act_max))
    _unary_call(ctx, "activation_s8", "tk_relu_s8", zi, multiplier, shift, zo, lo, hi)


@lowering("LEAKY_RELU", variant="int8")
def leaky_relu(ctx: OpContext) -> None:
    (si, zi), (so, zo) = act8._io(ctx.graph, ctx.op)
    alpha = f32(ctx.op.attrs.get("alpha", 0.2))
    # LeakyReluPrepare: both ratios in float arithmetic.
    m_alpha = fx.quantize_multiplier(float(f32(si) * alpha / f32(so)))
    m_identity = fx.quantize_multiplier(float(f32(si) / f32(so)))
    _unary_call(ctx, "activation_s8", "tk_leaky_relu_s8", zi, *m_identity, *m_alpha, zo)


_TABLE_KERNELS = {"LOGISTIC": act8.logistic_int8, "TANH": act8.tanh_int8}


@lowering(*_TABLE_KERNELS, variant="int8")
def table_activation(ctx: OpContext) -> None:
    # The numpy kernel on every int8 value is its own table (and checks the params).
    table = _TABLE_KERNELS[ctx.op.type](ctx.op, ctx.graph, ALL_INT8)
    _unary_call(ctx, "activation_s8", "tk_lookup_s8", ctx.table("int8_t", table, "lookup table"))


@lowering("HARD_SWISH", variant="int8")
def hard_swish(ctx: OpContext) -> None:
    (si, zi), (so, zo) = act8._io(ctx.graph, ctx.op)
    # HardSwishPrepare, in float: the input on a scale 128 times finer.
    hires_input_scale = f32(1.0 / 128.0) * f32(si)
    out_multiplier, out_exponent = act8._int16_multiplier(hires_input_scale / f32(so))
    if out_exponent > 0:
        raise ctx.fail(f"input scale {si} is too large for output scale {so}; LiteRT refuses it")
    reluish = act8._int16_multiplier(hires_input_scale / f32(3.0 / 32768.0))
    _unary_call(ctx, "hard_swish_s8", "tk_hard_swish_s8", zi, out_multiplier, out_exponent,
                *reluish, zo)


# ---- normalizations over the last axis ------------------------------------------------------

def _row_call(ctx: OpContext, family: str, function: str, *args: int) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.call(family, function, ctx.pointer(x), ctx.pointer(out), *_rows(ctx),
             *[cformat.int_literal(a) for a in args])


@lowering("L2_NORMALIZATION", variant="int8")
def l2_normalization(ctx: OpContext) -> None:
    (_, zi), (so, zo) = act8._io(ctx.graph, ctx.op)
    if float(so) != 1.0 / 128 or zo != 0:
        raise ctx.fail(f"int8 L2_NORMALIZATION needs output params 1/128, 0 (got {so}, {zo}); "
                       "LiteRT refuses others")
    if ctx.op.attrs.get("fused_activation_function", "NONE") != "NONE":
        raise ctx.fail("LiteRT's L2_NORMALIZATION takes no fused activation")
    _row_call(ctx, "l2_normalization_s8", "tk_l2_normalization_s8", zi)


def _softmax_input(ctx: OpContext, out_ok, wanted: str) -> float:
    """The input scale, after the checks of the numpy kernel on the output params."""
    op, graph = ctx.op, ctx.graph
    sm8._require_int8(graph, op)
    so, zo = scale_zero(graph, op.outputs[0])
    if not out_ok(so, zo):
        raise ctx.fail(f"int8 {op.type} needs output params {wanted} (got {so}, {zo})")
    return scale_zero(graph, op.inputs[0])[0]


@lowering("SOFTMAX", variant="int8")
def softmax(ctx: OpContext) -> None:
    si = _softmax_input(ctx, lambda so, zo: zo == -128 and abs(so - 1.0 / 256) <= 0.001 / 256,
                        "1/256, -128")
    beta = np.float32(ctx.op.attrs.get("beta", 1.0))
    _row_call(ctx, "softmax_s8", "tk_softmax_s8", *sm8.input_beta_multiplier(beta, si, ctx.op))


@lowering("LOG_SOFTMAX", variant="int8")
def log_softmax(ctx: OpContext) -> None:
    op = ctx.op
    si = _softmax_input(ctx, lambda so, zo: float(so) == 16.0 / 256 and zo == 127, "16/256, 127")
    # PreprocessLogSoftmaxScalingExp, beta fixed at 1: also the inverse of the input scaling.
    multiplier, left_shift, diff_min = sm8.input_beta_multiplier(1.0, si, op)
    if left_shift == 0:
        raise ctx.fail(f"input scale {si} is too small for LiteRT's LOG_SOFTMAX")
    reverse = fx.multiplier_smaller_than_one(float(1 << (31 - left_shift)) / float(multiplier),
                                             f"{op!r} reverse scaling")
    depth = int(ctx.input(0).shape[-1]) if ctx.input(0).shape else 1
    if depth > MAX_LOG_SOFTMAX_DEPTH:
        raise ctx.fail(f"rows of {depth} elements; the int8 kernel handles up to "
                       f"{MAX_LOG_SOFTMAX_DEPTH} (its int32 sum of exponentials could wrap)")
    _row_call(ctx, "log_softmax_s8", "tk_log_softmax_s8", multiplier, left_shift, diff_min, *reverse)
