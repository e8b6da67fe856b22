"""Lowerings of the float elementwise ops, activations, normalizations and reductions (ARG_MAX,
ARG_MIN and TOPK_V2 among them)."""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..ops import has_trait
from ..ops.common import RELU_OPS, activation_bounds, normalize_axis
from ..ops.reduce import reduced_axes
from . import cformat
from .lowering import OpContext, lowering

FLOAT = ("float32",)
_BINARY = {"ADD": "tk_add_f32", "SUB": "tk_sub_f32", "MUL": "tk_mul_f32", "DIV": "tk_div_f32",
           "MAXIMUM": "tk_maximum_f32", "MINIMUM": "tk_minimum_f32",
           "SQUARED_DIFFERENCE": "tk_squared_difference_f32", "PRELU": "tk_prelu_f32",
           "FLOOR_DIV": "tk_floor_div_f32", "FLOOR_MOD": "tk_floor_mod_f32"}
_BINARY_I32 = {"ADD": "tk_add_i32", "SUB": "tk_sub_i32", "MUL": "tk_mul_i32",
               "FLOOR_DIV": "tk_floor_div_i32", "FLOOR_MOD": "tk_floor_mod_i32",
               "MAXIMUM": "tk_maximum_i32", "MINIMUM": "tk_minimum_i32"}
# The compared type of each op (its inputs'): LOGICAL_AND and LOGICAL_OR take bools.
_COMPARISONS = {**dict.fromkeys(("LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL"),
                                {"float32": "f32", "int32": "i32"}),
                **dict.fromkeys(("LOGICAL_AND", "LOGICAL_OR"), {"bool": "b8"})}
_UNARY = {"EXP": "tk_exp_f32", "SQRT": "tk_sqrt_f32", "RSQRT": "tk_rsqrt_f32",
          "NEG": "tk_neg_f32", "ABS": "tk_abs_f32", "SQUARE": "tk_square_f32"}
_ACTIVATIONS = {"LOGISTIC": "tk_logistic_f32", "TANH": "tk_tanh_f32",
                "HARD_SWISH": "tk_hard_swish_f32"}
_REDUCTIONS = {"SUM": "tk_sum_f32", "MEAN": "tk_mean_f32", "REDUCE_MAX": "tk_reduce_max_f32"}
_INDEX_TYPES = {"int32": "i32", "int64": "i64"}
_CAST_TYPES = {"float32": "TK_TYPE_F32", "int32": "TK_TYPE_I32", "uint8": "TK_TYPE_U8",
               "int64": "TK_TYPE_I64", "bool": "TK_TYPE_BOOL", "int16": "TK_TYPE_I16",
               "int8": "TK_TYPE_I8"}


def reduced_flags(ctx: OpContext, x: Tensor) -> tuple[list[int], tuple[int, ...]]:
    """(one 0/1 flag per axis of x, the reduced axes) of a reduction's constant axis input."""
    ctx.require_rank([x])
    rank = len(x.shape)
    axes = reduced_axes(ctx.op, ctx.constant(1, "axis"), rank)
    return [1 if d in axes else 0 for d in range(rank)], axes


def _binary_args(ctx: OpContext, a: Tensor, b: Tensor, out: Tensor) -> list[str]:
    """Both inputs and the output with their shapes at the output's rank, and the rank."""
    ctx.require_rank([a, b, out])
    rank = max(len(out.shape), 1)  # scalars as shape [1]: the kernel wants an axis
    dims = [ctx.dims_at_rank(t, rank) for t in (a, b, out)]
    return [ctx.pointer(a), dims[0], ctx.pointer(b), dims[1], ctx.pointer(out), dims[2], str(rank)]


@lowering(*_BINARY)
def binary(ctx: OpContext) -> None:
    a, b, out = ctx.input(0), ctx.input(1), ctx.output()
    if a.dtype == "int32" and ctx.op.type in _BINARY_I32:
        return _binary_i32(ctx, a, b, out)
    ctx.require_dtype([a, b, out], FLOAT)
    lo, hi = ctx.activation() if has_trait(ctx.op.type, "fused_activation") else ("-HUGE_VALF", "HUGE_VALF")
    ctx.call("elementwise", _BINARY[ctx.op.type], *_binary_args(ctx, a, b, out), lo, hi)


def _binary_i32(ctx: OpContext, a: Tensor, b: Tensor, out: Tensor) -> None:
    """int32 arithmetic (loop counters, indices); the fused activation clamps in integers."""
    ctx.require_dtype([b, out], ("int32",))
    lo, hi = activation_bounds(ctx.op)
    ctx.call("arith_i32", _BINARY_I32[ctx.op.type], *_binary_args(ctx, a, b, out),
             "INT32_MIN" if lo is None else cformat.int_literal(int(lo)),
             "INT32_MAX" if hi is None else cformat.int_literal(int(hi)))


@lowering(*_COMPARISONS)
def comparison(ctx: OpContext) -> None:
    a, b, out = ctx.input(0), ctx.input(1), ctx.output()
    compared = _COMPARISONS[ctx.op.type]
    if a.dtype not in compared:
        raise ctx.fail(f"it compares {a.dtype}; the kernels compare {' and '.join(compared)}")
    ctx.require_dtype([b], (a.dtype,))
    ctx.call("comparison", f"tk_{ctx.op.type.lower()}_{compared[a.dtype]}", *_binary_args(ctx, a, b, out))


@lowering("LOGICAL_NOT")
def logical_not(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.require_dtype([x, out], ("bool",))
    ctx.call("comparison", "tk_logical_not_b8", ctx.pointer(x), ctx.pointer(out), str(out.size))


def _unary_args(ctx: OpContext) -> list[str]:
    x, out = ctx.input(0), ctx.output()
    ctx.require_dtype([x, out], FLOAT)
    return [ctx.pointer(x), ctx.pointer(out), str(out.size)]


@lowering(*_UNARY)
def unary(ctx: OpContext) -> None:
    ctx.call("unary", _UNARY[ctx.op.type], *_unary_args(ctx))


@lowering("CAST")
def cast(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    for t in (x, out):
        if t.dtype not in _CAST_TYPES:
            raise ctx.fail(f"tensor {t.name!r} is {t.dtype}; the kernel casts between "
                           f"{', '.join(_CAST_TYPES)}")
    ctx.call("cast", "tk_cast", ctx.pointer(x), _CAST_TYPES[x.dtype], ctx.pointer(out),
             _CAST_TYPES[out.dtype], str(out.size))


@lowering(*_ACTIVATIONS)
def activation(ctx: OpContext) -> None:
    ctx.call("activation", _ACTIVATIONS[ctx.op.type], *_unary_args(ctx))


@lowering(*RELU_OPS)
def relu(ctx: OpContext) -> None:
    lo, hi = ctx.clamp_bounds(RELU_OPS[ctx.op.type])
    ctx.call("activation", "tk_relu_f32", *_unary_args(ctx), lo, hi)


@lowering("LEAKY_RELU")
def leaky_relu(ctx: OpContext) -> None:
    alpha = ctx.float_literal(ctx.op.attrs.get("alpha", 0.2))
    ctx.call("activation", "tk_leaky_relu_f32", *_unary_args(ctx), alpha)


@lowering("GELU")
def gelu(ctx: OpContext) -> None:
    ctx.call("activation", "tk_gelu_f32", *_unary_args(ctx), "1" if ctx.op.attrs.get("approximate") else "0")


def _rows(ctx: OpContext) -> tuple[str, str]:
    """(outer, depth): the op works on rows along the last axis."""
    x = ctx.input(0)
    depth = int(x.shape[-1]) if x.shape else 1
    return str(x.size // depth if depth else 0), str(depth)


@lowering("SOFTMAX")
def softmax(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.require_dtype([x, out], FLOAT)
    beta = ctx.float_literal(ctx.op.attrs.get("beta", 1.0))
    ctx.call("normalization", "tk_softmax_f32", ctx.pointer(x), ctx.pointer(out), *_rows(ctx), beta)


@lowering("LOG_SOFTMAX")
def log_softmax(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.require_dtype([x, out], FLOAT)
    ctx.call("normalization", "tk_log_softmax_f32", ctx.pointer(x), ctx.pointer(out), *_rows(ctx))


@lowering("L2_NORMALIZATION")
def l2_normalization(ctx: OpContext) -> None:
    # The fused activation is ignored, as the reference interpreter does.
    x, out = ctx.input(0), ctx.output()
    ctx.require_dtype([x, out], FLOAT)
    ctx.call("normalization", "tk_l2_normalization_f32", ctx.pointer(x), ctx.pointer(out),
             *_rows(ctx))


@lowering(*_REDUCTIONS)
def reduction(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.require_dtype([x, out], FLOAT)
    flags, _ = reduced_flags(ctx, x)
    ctx.call("reduce", _REDUCTIONS[ctx.op.type], ctx.pointer(x), ctx.dims(x), str(len(x.shape)),
             ctx.int_array(flags), ctx.pointer(out))


@lowering("ARG_MAX", "ARG_MIN")
def arg_max_min(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.require_dtype([x], FLOAT)
    ctx.require_dtype([out], tuple(_INDEX_TYPES))
    shape = ctx.shape(x)
    axis = normalize_axis(ctx.op, int(np.ravel(ctx.constant(1, "axis"))[0]), len(shape))
    outer, inner = int(np.prod(shape[:axis], dtype=np.int64)), int(np.prod(shape[axis + 1:], dtype=np.int64))
    ctx.call("reduce", f"tk_{ctx.op.type.lower()}_f32_{_INDEX_TYPES[out.dtype]}", ctx.pointer(x),
             str(outer), str(shape[axis]), str(inner), ctx.pointer(out))


@lowering("TOPK_V2")
def top_k(ctx: OpContext) -> None:
    x, values, indices = ctx.input(0), ctx.output(0), ctx.output(1)
    suffix = {"float32": "f32", "int32": "i32"}.get(x.dtype)
    if suffix is None:
        raise ctx.fail(f"its input is {x.dtype}; the kernels take float32 and int32")
    depth = ctx.shape(x)[-1]
    k = ctx.shape(values)[-1]  # shape inference checked k against the constant
    ctx.call("topk", f"tk_topk_{suffix}", ctx.pointer(x), str(x.size // depth if depth else 0), str(depth),
             str(k), ctx.pointer(values), ctx.pointer(indices))
