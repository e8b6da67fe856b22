"""_UnaryOpsComposition (grappler's fusion of a chain of unary ops) -> the chain again: each op
its op_names lists mapped as that TF op alone on the previous one's output, as TF's converter
expands it (Relu, Tanh -> RELU, TANH)."""
from __future__ import annotations

from ...errors import ConversionError
from ..context import NodeContext
from .registry import MAPPERS, tf_op

# The ops TensorFlow's kernel composes (unary_ops_composition.cc).
COMPOSABLE = frozenset({
    "Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh", "Expm1", "Exp",
    "Floor", "Inv", "Log", "Log1p", "Neg", "Reciprocal", "Rint", "Round", "Rsqrt", "Sigmoid", "Sin",
    "Sinh", "Sqrt", "Square", "Tan", "Tanh", "Elu", "Relu", "Relu6", "Selu"})


@tf_op("_UnaryOpsComposition")
def unary_ops_composition(ctx: NodeContext) -> None:
    names = ctx.strings_attr("op_names")
    unknown = [n for n in names if n not in COMPOSABLE]
    if unknown:
        raise ConversionError(f"node {ctx.name!r} (_UnaryOpsComposition): op_names {unknown} are not "
                              "unary ops TensorFlow composes; the graph is malformed")
    missing = [n for n in names if n not in MAPPERS]
    if missing:
        raise ConversionError(f"node {ctx.name!r} (_UnaryOpsComposition): {', '.join(missing)} "
                              "does not convert (no TFLite builtin or lowering); remove it from the graph")
    source = ctx.input(0)
    for k, name in enumerate(names):
        step = type(ctx.node)()
        step.CopyFrom(ctx.node)  # keeps T
        step.op = name
        del step.attr["op_names"]
        step.name = ctx.name if k == len(names) - 1 else ctx.graph.unique_name(f"{ctx.name}/{name}")
        del step.input[:]
        step.input.append(source)
        MAPPERS[name](ctx.for_node(step))
        source = step.name
    if not names:
        ctx.emit("Identity", [source])
