"""Lowerings (variant "int8") of the quantized elementwise math, activations and softmaxes:
kernels in kernels/<op>_s8.c (one file per binary op, sharing binary_s8.h), activation_s8.c
(table lookups), l2_normalization_s8.c, softmax_s8.c and log_softmax_s8.c.

Every multiplier, shift, zero point and clamp is computed here with the functions (and the
float32-versus-double arithmetic) of the numpy int8 kernels in toco_py/ops/int8, so the C
only repeats their per-element integer steps; their checks (parameters LiteRT refuses)
raise here too, naming the op. The activations of one input (RELU family, LEAKY_RELU,
LOGISTIC, TANH, HARD_SWISH, GELU) go further: their table is made by running the numpy kernel
on every int8 value, and the C looks it up (bit-exact by construction).
"""
from __future__ import annotations

import numpy as np

from ..ops import REGISTRY
from ..ops.common import RELU_OPS
from ..ops.int8 import activation as act8
from ..ops.int8 import elementwise as ew8
from ..ops.int8 import softmax as sm8
from ..ops.int8.litert import require_int8
from . import cformat
from .lower_math import _rows
from .lowering import OpContext, lowering

ALL_INT8 = np.arange(-128, 128, dtype=np.int8)
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

def _add_sub(ctx: OpContext, is_sub: bool) -> ew8.BinaryParams:
    p = ew8.add_sub_params(ctx.op, ctx.graph, is_sub)
    _below_32(ctx, p.out_shift, "the output")
    return p


def _extremum(ctx: OpContext) -> ew8.BinaryParams:
    require_int8(ctx.op, ctx.graph, [ctx.op.inputs[0], ctx.op.inputs[1], ctx.op.outputs[0]])
    return ew8.BinaryParams()


def _comparison(ctx: OpContext) -> ew8.BinaryParams:
    op, graph = ctx.op, ctx.graph
    require_int8(op, graph, [op.inputs[0], op.inputs[1]])
    ctx.require_dtype([ctx.output()], ("bool",))
    p = ew8.comparison_params(op, graph)
    _below_32(ctx, p.a_shift, "input 1's")
    _below_32(ctx, p.b_shift, "input 2's")
    return p


def _prelu(ctx: OpContext) -> ew8.BinaryParams:
    p = act8.prelu_params(ctx.op, ctx.graph)
    if ctx.shape(ctx.output()) != ctx.shape(ctx.input(0)):
        raise ctx.fail("alpha broadcasts the input to a larger shape; LiteRT needs the input's")
    return p


_COMPARISONS = ("LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL")
_BINARY = {"ADD": lambda ctx: _add_sub(ctx, False), "SUB": lambda ctx: _add_sub(ctx, True),
           "MUL": lambda ctx: ew8.mul_params(ctx.op, ctx.graph),
           "SQUARED_DIFFERENCE": lambda ctx: ew8.squared_difference_params(ctx.op, ctx.graph),
           "MAXIMUM": _extremum,
           "MINIMUM": _extremum, "PRELU": _prelu,
           **dict.fromkeys(_COMPARISONS, _comparison)}
# The kernel file of each binary op: its own, except for the ones sharing one.
_BINARY_FAMILY = {"MAXIMUM": "maximum_minimum_s8", "MINIMUM": "maximum_minimum_s8",
                  **dict.fromkeys(_COMPARISONS, "comparison_s8")}


def _params_struct(ctx: OpContext, params: ew8.BinaryParams) -> str:
    """A tk_binary_s8_params in NAME_weights.c; unset fields are 0, the clamp int8's range."""
    items = ", ".join(f".{k} = {cformat.int_literal(v)}" for k, v in params._asdict().items())
    return ctx.struct("tk_binary_s8_params", f"{{{items}}}", "quantization")


@lowering(*_BINARY, variant="int8")
def binary(ctx: OpContext) -> None:
    a, b, out = ctx.input(0), ctx.input(1), ctx.output()
    ctx.require_rank([a, b, out])
    params = _BINARY[ctx.op.type](ctx)
    rank = max(len(out.shape), 1)  # scalars as shape [1]: the kernel wants an axis
    dims = [ctx.dims_at_rank(t, rank) for t in (a, b, out)]
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
    zi, (multiplier, shift), zo = ew8.rsqrt_params(ctx.op, ctx.graph)
    _unary_call(ctx, "rsqrt_s8", "tk_rsqrt_s8", zi, multiplier, shift, zo)


# Ops of one int8 input whose output depends on that value alone: their numpy kernel run
# on every int8 value is the op's 256-entry table (and checks the params); the C looks it up,
# bit-exact by construction.
_TABLE_OPS = (*RELU_OPS, "LEAKY_RELU", "LOGISTIC", "TANH", "HARD_SWISH", "GELU")


@lowering(*_TABLE_OPS, variant="int8")
def table_activation(ctx: OpContext) -> None:
    table = REGISTRY[ctx.op.type].int8_kernel(ctx.op, ctx.graph, ALL_INT8)
    _unary_call(ctx, "activation_s8", "tk_lookup_s8", ctx.table("int8_t", table, "lookup table"))


# ---- normalizations over the last axis ------------------------------------------------------

def _row_call(ctx: OpContext, family: str, function: str, *args: int) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.call(family, function, ctx.pointer(x), ctx.pointer(out), *_rows(ctx),
             *[cformat.int_literal(a) for a in args])


@lowering("L2_NORMALIZATION", variant="int8")
def l2_normalization(ctx: OpContext) -> None:
    zi = act8.l2_normalization_params(ctx.op, ctx.graph)
    _row_call(ctx, "l2_normalization_s8", "tk_l2_normalization_s8", zi)


@lowering("SOFTMAX", variant="int8")
def softmax(ctx: OpContext) -> None:
    _row_call(ctx, "softmax_s8", "tk_softmax_s8", *sm8.softmax_params(ctx.op, ctx.graph))


@lowering("LOG_SOFTMAX", variant="int8")
def log_softmax(ctx: OpContext) -> None:
    multiplier, left_shift, diff_min, reverse = sm8.log_softmax_params(ctx.op, ctx.graph)
    depth = int(ctx.input(0).shape[-1]) if ctx.input(0).shape else 1
    if depth > MAX_LOG_SOFTMAX_DEPTH:
        raise ctx.fail(f"rows of {depth} elements; the int8 kernel handles up to "
                       f"{MAX_LOG_SOFTMAX_DEPTH} (its int32 sum of exponentials could wrap)")
    _row_call(ctx, "log_softmax_s8", "tk_log_softmax_s8", multiplier, left_shift, diff_min, *reverse)
