"""Shape and dtype inference over the whole graph, in op order."""
from __future__ import annotations

import math

from ..errors import ConversionError
from ..ir import Graph, Op
from ..ops import REGISTRY, has_trait
from ..ops.common import ShapeUnknown

# What a shape rule raises when an op's inputs do not fit it: many rules check what they
# rely on by relying on it (unpacking a filter's four dims, indexing an axis).
_RULE_ERRORS = (ValueError, IndexError, TypeError, KeyError, OverflowError, ZeroDivisionError)


def _rule_args(graph: Graph, op: Op, ins: list) -> list:
    """A shape rule's arguments: the op and its input tensors; an op that runs subgraphs
    (the runs_model trait) also gets its graph, whose subgraphs give its shapes."""
    return [op, graph, *ins] if has_trait(op.type, "runs_model") else [op, *ins]


def infer_op(graph: Graph, op: Op) -> list[tuple] | None:
    """(shape, dtype) per output, or None while an input is still unknown."""
    opdef = REGISTRY.get(op.type)
    if opdef is None:
        return None
    ins = [graph.tensors[n] if n else None for n in op.inputs]
    if any(t is not None and t.shape is None and not t.is_const for t in ins):
        return None
    try:
        result = opdef.infer(*_rule_args(graph, op, ins))
    except ShapeUnknown:
        return None
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], str):
        result = [result]
    if len(result) != len(op.outputs):
        raise ConversionError(f"{op!r}: computes {len(result)} outputs, the graph names {len(op.outputs)}")
    return [(tuple(int(d) for d in shape), dtype) for shape, dtype in result]


def check_op(graph: Graph, op: Op, max_elements: float = math.inf) -> list[tuple] | None:
    """infer_op, judging the op's inputs: a rule that fails on them (a Conv2D fed a vector, a
    Pack of mismatched tensors), or an output of a negative size (or of more than
    max_elements elements), means the graph is malformed, which is reported naming the node
    (a ConversionError; see errors.py)."""
    try:
        result = infer_op(graph, op)
    except _RULE_ERRORS as err:
        shapes = [list(graph.tensors[n].shape) if n in graph.tensors and
                  graph.tensors[n].shape is not None else None for n in op.inputs]
        raise ConversionError(
            f"node {op.name!r} ({op.type}) cannot take inputs of shapes {shapes} "
            f"({type(err).__name__}: {err}); the GraphDef is malformed") from None
    for name, (shape, _) in zip(op.outputs, result or ()):
        if any(d < -1 or d > max_elements for d in shape) or (
                all(d >= 0 for d in shape) and math.prod(shape) > max_elements):
            raise ConversionError(
                f"node {op.name!r} ({op.type}) would compute {name!r} of shape {list(shape)}, "
                "which no TFLite tensor can have (sizes from 0 to 2^31 - 1 elements); the "
                "GraphDef or its constants are malformed")
    return result


def propagate_shapes(graph: Graph) -> None:
    for op in graph.ops:
        result = check_op(graph, op)
        if result is None:
            continue
        for name, (shape, dtype) in zip(op.outputs, result):
            t = graph.tensors[name]
            t.shape, t.dtype = shape, dtype


def require_static_shapes(graph: Graph, called: bool = False) -> None:
    """Fails with the first op whose output shape could not be resolved, and why.

    Tensors downstream of a custom op are exempt: the custom op's implementation sets its
    output shapes when the runtime prepares the model, and the runtime then resizes the rest.
    Downstream of an op whose output size depends on its input values (WHERE, UNIQUE, RANGE of
    run-time bounds: the "value_shaped" trait) sizes may be -1, which the runtime sets when it
    runs the model; the shape rules must still give every rank (and so every type). So may
    they downstream of the inputs of a `called` subgraph (IF's, WHILE's) that are -1 sizes,
    and of the IF and WHILE ops: the caller passes tensors sized at run time (a loop's
    growing TensorArray), which the subgraphs pass back.
    """
    propagate_shapes(graph)
    after_custom: set[str] = set()
    run_time = {n for n in graph.inputs if called and not graph.tensors[n].static_shape}
    for op in graph.ops:
        if op.type == "CUSTOM" or any(n in after_custom for n in op.inputs):
            after_custom.update(op.outputs)
            continue
        # An IF's or WHILE's outputs have the sizes their subgraphs give, checked on their own.
        sized_at_run_time = has_trait(op.type, "value_shaped") or has_trait(op.type, "runs_model") or any(
            n in run_time for n in op.inputs)
        if sized_at_run_time:
            run_time.update(op.outputs)
        for name in op.outputs:
            t = graph.tensors[name]
            if t.static_shape or (sized_at_run_time and t.shape is not None):
                continue
            if sized_at_run_time:
                raise ConversionError(
                    f"cannot infer the shape of {name!r} computed by {op.type} (node {op.name!r}) "
                    f"from inputs of sizes known at run time only: {_why_unknown(graph, op, True)}")
            raise ConversionError(
                f"cannot resolve the shape of {name!r} computed by {op.type} (node {op.name!r}): "
                f"{_why_unknown(graph, op)}. Give fixed input shapes with --input_shapes.")


def _why_unknown(graph: Graph, op: Op, run_time_sizes: bool = False) -> str:
    opdef = REGISTRY.get(op.type)
    if opdef is None:
        return f"no shape rule for {op.type}"
    for n in op.inputs:
        if n and not run_time_sizes and not graph.tensors[n].static_shape:
            return f"its input {n!r} has unknown shape {graph.tensors[n].shape}"
    try:
        opdef.infer(*_rule_args(graph, op, [graph.tensors[n] if n else None for n in op.inputs]))
    except ShapeUnknown as e:
        return e.why or str(e)
    return "its size depends on input values"
