"""Math ops: elementwise arithmetic, comparisons, MatMul, reductions."""
from __future__ import annotations

import numpy as np

from ..context import NodeContext
from .registry import tf_op

_BINARY = {
    "Add": "ADD", "AddV2": "ADD", "Sub": "SUB", "Mul": "MUL", "RealDiv": "DIV", "Div": "DIV",
    "Maximum": "MAXIMUM", "Minimum": "MINIMUM", "SquaredDifference": "SQUARED_DIFFERENCE",
    "Pow": "POW", "FloorDiv": "FLOOR_DIV", "FloorMod": "FLOOR_MOD",
    "Less": "LESS", "LessEqual": "LESS_EQUAL", "Greater": "GREATER",
    "GreaterEqual": "GREATER_EQUAL", "Equal": "EQUAL", "NotEqual": "NOT_EQUAL",
    "LogicalAnd": "LOGICAL_AND", "LogicalOr": "LOGICAL_OR",
}
_UNARY = {
    "Exp": "EXP", "Log": "LOG", "Sqrt": "SQRT", "Rsqrt": "RSQRT", "Neg": "NEG", "Abs": "ABS",
    "Square": "SQUARE", "Sin": "SIN", "Cos": "COS", "Floor": "FLOOR", "Ceil": "CEIL",
    "Round": "ROUND", "Sign": "SIGN", "LogicalNot": "LOGICAL_NOT",
    # Converter-only (no builtin): passes/fuse_gelu.py makes GELU of them.
    "Erf": "Erf", "Erfc": "Erfc",
}
_REDUCTIONS = {"Mean": "MEAN", "Sum": "SUM", "Max": "REDUCE_MAX", "Min": "REDUCE_MIN",
               "Prod": "REDUCE_PROD", "Any": "REDUCE_ANY", "All": "REDUCE_ALL"}


@tf_op(*_BINARY)
def binary(ctx: NodeContext) -> None:
    ctx.emit(_BINARY[ctx.node.op], [ctx.input(0), ctx.input(1)])


@tf_op(*_UNARY)
def unary(ctx: NodeContext) -> None:
    ctx.emit(_UNARY[ctx.node.op], [ctx.input(0)])


@tf_op("MatMul")
def matmul(ctx: NodeContext) -> None:
    a, b = ctx.input(0), ctx.input(1)
    if ctx.attr("transpose_a", False):
        a_t = ctx.temp("a_transposed")
        ctx.emit("TRANSPOSE", [a, ctx.const("perm_a", np.array([1, 0], np.int32))], outputs=[a_t])
        a = a_t
    if not ctx.attr("transpose_b", False):
        # FULLY_CONNECTED wants weights [out, in]; constant folding transposes them once.
        b_t = ctx.temp("weights_oi")
        ctx.emit("TRANSPOSE", [b, ctx.const("perm_b", np.array([1, 0], np.int32))], outputs=[b_t])
        b = b_t
    ctx.emit("FULLY_CONNECTED", [a, b, ""], {"keep_num_dims": False})


@tf_op("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
def batch_matmul(ctx: NodeContext) -> None:
    ctx.emit("BATCH_MATMUL", [ctx.input(0), ctx.input(1)],
             {"adj_x": ctx.attr("adj_x", False), "adj_y": ctx.attr("adj_y", False)})


@tf_op(*_REDUCTIONS)
def reduction(ctx: NodeContext) -> None:
    ctx.emit(_REDUCTIONS[ctx.node.op], [ctx.input(0), ctx.input(1)],
             {"keep_dims": ctx.attr("keep_dims", False)})


@tf_op("ArgMax", "ArgMin")
def arg_reduction(ctx: NodeContext) -> None:
    ctx.emit("ARG_MAX" if ctx.node.op == "ArgMax" else "ARG_MIN", [ctx.input(0), ctx.input(1)],
             {"output_type": ctx.dtype_attr("output_type", "int64")})
