"""Math ops: elementwise arithmetic, comparisons, MatMul, reductions."""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ..context import NodeContext
from .compose import integer_type, scalar
from .registry import tf_op

_BINARY = {
    "Add": "ADD", "AddV2": "ADD", "Sub": "SUB", "Mul": "MUL", "RealDiv": "DIV", "Div": "DIV",
    "Maximum": "MAXIMUM", "Minimum": "MINIMUM", "SquaredDifference": "SQUARED_DIFFERENCE",
    "Pow": "POW", "FloorDiv": "FLOOR_DIV", "FloorMod": "FLOOR_MOD",
    "Less": "LESS", "LessEqual": "LESS_EQUAL", "Greater": "GREATER",
    "GreaterEqual": "GREATER_EQUAL", "Equal": "EQUAL", "NotEqual": "NOT_EQUAL",
    "LogicalAnd": "LOGICAL_AND", "LogicalOr": "LOGICAL_OR",
    "BitwiseXor": "BITWISE_XOR", "RightShift": "RIGHT_SHIFT",
}
_UNARY = {
    "Exp": "EXP", "Log": "LOG", "Sqrt": "SQRT", "Rsqrt": "RSQRT", "Neg": "NEG", "Abs": "ABS",
    "Sin": "SIN", "Cos": "COS", "Floor": "FLOOR", "Ceil": "CEIL",
    "Round": "ROUND", "Rint": "ROUND", "Sign": "SIGN", "LogicalNot": "LOGICAL_NOT",
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


@tf_op("Square")
def square(ctx: NodeContext) -> None:
    x = ctx.input(0)
    if integer_type(ctx):
        ctx.emit("MUL", [x, x])  # LiteRT's SQUARE is float only; TF's converter makes MUL too
    else:
        ctx.emit("SQUARE", [x])


@tf_op("MatMul", "SparseMatMul")
def matmul(ctx: NodeContext) -> None:
    # SparseMatMul is a MatMul whose a_is_sparse / b_is_sparse only hint at TensorFlow's CPU
    # kernel; its operands may be bfloat16 (Ta, Tb), which no builtin takes.
    for key in ("Ta", "Tb"):
        if ctx.dtype_attr(key, "float32") != "float32":
            raise ConversionError(f"node {ctx.name!r} ({ctx.node.op}): {key} is "
                                  f"{ctx.dtype_attr(key)}; cast the operands to float32")
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


# The ops below TF's converter lowers to a few builtins (lower_tf.td); each is lowered here to
# the same builtins, or fewer. Intermediates are ctx.temp tensors.

@tf_op("AddN")
def add_n(ctx: NodeContext) -> None:
    # LiteRT's ADD_N needs two inputs or more; AddN of one tensor is that tensor.
    ctx.emit("ADD_N" if len(ctx.inputs) > 1 else "Identity", [ctx.input(0), *ctx.inputs[1:]])


@tf_op("Atan2")
def atan2(ctx: NodeContext) -> None:
    ctx.emit("ATAN2", [ctx.input(0), ctx.input(1)])


@tf_op("Bucketize")
def bucketize(ctx: NodeContext) -> None:
    boundaries = ctx.floats_attr("boundaries")
    if any(b > a for a, b in zip(boundaries[1:], boundaries)):
        raise ConversionError(f"node {ctx.name!r} (Bucketize): its boundaries {boundaries} are not sorted; "
                              "TensorFlow and LiteRT both need them in increasing order")
    ctx.emit("BUCKETIZE", [ctx.input(0)], {"boundaries": boundaries})


_NO_NAN = {"DivNoNan": "DIV", "MulNoNan": "MUL"}


@tf_op(*_NO_NAN)
def no_nan(ctx: NodeContext) -> None:
    """x / y or x * y, and 0 where y is 0 (even where x is inf or nan)."""
    x, y = ctx.input(0), ctx.input(1)
    zero = scalar(ctx, "zero", 0)
    y_is_zero = ctx.emit("EQUAL", [y, zero], outputs=[ctx.temp("y_is_zero")]).outputs[0]
    value = ctx.emit(_NO_NAN[ctx.node.op], [x, y], outputs=[ctx.temp("value")]).outputs[0]
    ctx.emit("SELECT_V2", [y_is_zero, zero, value])


@tf_op("Xdivy", "Xlogy", "Xlog1py")
def x_times(ctx: NodeContext) -> None:
    """x / y, x * log(y) or x * log(1 + y), and 0 where x is 0 (whatever y is)."""
    x, y = ctx.input(0), ctx.input(1)
    zero = scalar(ctx, "zero", 0)
    x_is_zero = ctx.emit("EQUAL", [x, zero], outputs=[ctx.temp("x_is_zero")]).outputs[0]
    if ctx.node.op == "Xdivy":
        value = ctx.emit("DIV", [x, y], outputs=[ctx.temp("value")]).outputs[0]
    else:
        if ctx.node.op == "Xlog1py":
            y = ctx.emit("ADD", [y, scalar(ctx, "one", 1)], outputs=[ctx.temp("one_plus_y")]).outputs[0]
        log_y = ctx.emit("LOG", [y], outputs=[ctx.temp("log")]).outputs[0]
        value = ctx.emit("MUL", [x, log_y], outputs=[ctx.temp("value")]).outputs[0]
    ctx.emit("SELECT_V2", [x_is_zero, zero, value])


@tf_op("Reciprocal", "Inv")
def reciprocal(ctx: NodeContext) -> None:
    ctx.emit("DIV", [scalar(ctx, "one", 1), ctx.input(0)])


@tf_op("Log1p")
def log1p(ctx: NodeContext) -> None:
    one_plus_x = ctx.emit("ADD", [ctx.input(0), scalar(ctx, "one", 1)], outputs=[ctx.temp("one_plus_x")]).outputs[0]
    ctx.emit("LOG", [one_plus_x])


@tf_op("Expm1")
def expm1(ctx: NodeContext) -> None:
    exp = ctx.emit("EXP", [ctx.input(0)], outputs=[ctx.temp("exp")]).outputs[0]
    ctx.emit("SUB", [exp, scalar(ctx, "one", 1)])


@tf_op("IsFinite")
def is_finite(ctx: NodeContext) -> None:
    # x - x is 0 for a finite x, nan for inf and nan.
    x = ctx.input(0)
    x_minus_x = ctx.emit("SUB", [x, x], outputs=[ctx.temp("x_minus_x")]).outputs[0]
    ctx.emit("EQUAL", [x_minus_x, scalar(ctx, "zero", 0)])


@tf_op("IsInf")
def is_inf(ctx: NodeContext) -> None:
    abs_x = ctx.emit("ABS", [ctx.input(0)], outputs=[ctx.temp("abs")]).outputs[0]
    ctx.emit("EQUAL", [abs_x, scalar(ctx, "inf", np.inf)])


@tf_op("IsNan")
def is_nan(ctx: NodeContext) -> None:
    ctx.emit("NOT_EQUAL", [ctx.input(0), ctx.input(0)])


@tf_op("ClipByValue")
def clip_by_value(ctx: NodeContext) -> None:
    """max(min(t, clip_max), clip_min), TF's kernel's order, which decides what crossed bounds
    give. Constant bounds in order allow min(max(t, clip_min), clip_max), the same values, and
    the order passes/minmax_to_relu.py makes RELU6 or RELU_N1_TO_1 of."""
    t, low, high = ctx.input(0), ctx.input(1), ctx.input(2)
    low_value, high_value = ctx.const_input(1), ctx.const_input(2)
    if low_value is not None and high_value is not None and bool(np.all(low_value <= high_value)):
        above_low = ctx.emit("MAXIMUM", [t, low], outputs=[ctx.temp("above_low")]).outputs[0]
        ctx.emit("MINIMUM", [above_low, high])
    else:
        below_high = ctx.emit("MINIMUM", [t, high], outputs=[ctx.temp("below_high")]).outputs[0]
        ctx.emit("MAXIMUM", [below_high, low])


@tf_op("TruncateDiv")
def truncate_div(ctx: NodeContext) -> None:
    x, y = ctx.input(0), ctx.input(1)
    if integer_type(ctx):
        ctx.emit("DIV", [x, y])  # TFLite's integer DIV truncates
        return
    quotient = ctx.emit("DIV", [x, y], outputs=[ctx.temp("quotient")]).outputs[0]
    negative = ctx.emit("LESS", [quotient, scalar(ctx, "zero", 0)], outputs=[ctx.temp("negative")]).outputs[0]
    ceil = ctx.emit("CEIL", [quotient], outputs=[ctx.temp("ceil")]).outputs[0]
    floor = ctx.emit("FLOOR", [quotient], outputs=[ctx.temp("floor")]).outputs[0]
    ctx.emit("SELECT_V2", [negative, ceil, floor])


@tf_op("L2Loss")
def l2_loss(ctx: NodeContext) -> None:
    """sum(x^2) / 2 over every axis (RANK and RANGE fold away when the rank is known)."""
    x = ctx.input(0)
    rank = ctx.emit("RANK", [x], outputs=[ctx.temp("rank")]).outputs[0]
    start, delta = ctx.const("axis_start", np.int32(0)), ctx.const("axis_step", np.int32(1))
    axes = ctx.emit("RANGE", [start, rank, delta], outputs=[ctx.temp("axes")]).outputs[0]
    square = ctx.emit("SQUARE", [x], outputs=[ctx.temp("square")]).outputs[0]
    total = ctx.emit("SUM", [square, axes], {"keep_dims": False}, outputs=[ctx.temp("sum")]).outputs[0]
    ctx.emit("MUL", [total, scalar(ctx, "half", 0.5)])


# Ops TF's converter has no builtins for (it leaves them to TF Select or custom ops), written
# with builtins here.

@tf_op("Tan")
def tan(ctx: NodeContext) -> None:
    x = ctx.input(0)
    sin = ctx.emit("SIN", [x], outputs=[ctx.temp("sin")]).outputs[0]
    cos = ctx.emit("COS", [x], outputs=[ctx.temp("cos")]).outputs[0]
    ctx.emit("DIV", [sin, cos])


@tf_op("Sinh", "Cosh")
def hyperbolic(ctx: NodeContext) -> None:
    """(e^x - 1/e^x) / 2 or (e^x + 1/e^x) / 2: four ops, one EXP."""
    exp = ctx.emit("EXP", [ctx.input(0)], outputs=[ctx.temp("exp")]).outputs[0]
    inverse = ctx.emit("DIV", [scalar(ctx, "one", 1), exp], outputs=[ctx.temp("exp_neg")]).outputs[0]
    if ctx.node.op == "Sinh":
        twice = ctx.emit("SUB", [exp, inverse], outputs=[ctx.temp("twice")]).outputs[0]
    else:
        twice = ctx.emit("ADD", [exp, inverse], outputs=[ctx.temp("twice")]).outputs[0]
    ctx.emit("MUL", [twice, scalar(ctx, "half", 0.5)])


@tf_op("Asin", "Acos")
def arc_sin_cos(ctx: NodeContext) -> None:
    """asin(x) = atan2(x, sqrt(1 - x^2)) and acos(x) = atan2(sqrt(1 - x^2), x): both operands
    have x's shape, as LiteRT's ATAN2 needs."""
    x = ctx.input(0)
    square = ctx.emit("SQUARE", [x], outputs=[ctx.temp("square")]).outputs[0]
    one_minus = ctx.emit("SUB", [scalar(ctx, "one", 1), square], outputs=[ctx.temp("one_minus_square")]).outputs[0]
    root = ctx.emit("SQRT", [one_minus], outputs=[ctx.temp("root")]).outputs[0]
    ctx.emit("ATAN2", [x, root] if ctx.node.op == "Asin" else [root, x])
