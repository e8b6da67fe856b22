"""A reduction (MEAN, SUM, REDUCE_*) followed by a RESHAPE to what the reduction gives with
keep_dims the other way -> the reduction with keep_dims flipped (squeeze-and-excite blocks
take a MEAN without keep_dims and reshape it back to [N, 1, 1, C]; TF's converter folds it)."""
from __future__ import annotations

from ..ir import Graph, Op
from ..ops import REGISTRY
from .base import Pass
from .patterns import private


def _flipped(reduction: Op) -> Op:
    return Op(reduction.type, list(reduction.inputs), list(reduction.outputs),
              {**reduction.attrs, "keep_dims": not reduction.attrs["keep_dims"]}, reduction.name)


def fold_reshape_into_reduction(graph: Graph, op: Op) -> bool:
    if op.type != "RESHAPE":
        return False
    reduction = graph.producer(op.inputs[0])
    # Reducer ops, and only they, carry TFLite's ReducerOptions.keep_dims as an attr.
    if reduction is None or "keep_dims" not in reduction.attrs or not private(graph, op.inputs[0], op):
        return False
    out = graph.tensors[op.outputs[0]]
    data, axes = reduction.inputs
    if not out.static_shape or graph.tensors[data].shape is None or graph.const_value(axes) is None:
        return False
    flipped = _flipped(reduction)
    shape, _ = REGISTRY[reduction.type].infer(flipped, graph.tensors[data], graph.tensors[axes])
    if tuple(shape) != out.shape:
        return False
    reduction.attrs["keep_dims"] = flipped.attrs["keep_dims"]
    graph.remove_op(op)
    graph.tensors.pop(reduction.outputs[0])
    graph.set_outputs(reduction, [op.outputs[0]])
    graph.drop_unused(op.inputs[1:])
    return True


PASS = Pass("fold_reshape_into_reduction", fold_reshape_into_reduction)
