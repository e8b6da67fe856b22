"""Ops that run other subgraphs of the model (ir.Graph.subgraphs, named by index in their
attrs): IF, WHILE and CALL_ONCE. Their kernels take the interpreter's model
(interpreter.Model: kernel(op, model, *arrays)), which runs a subgraph on given values and
remembers which initializers have run."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Graph, Op, Tensor
from .common import ShapeUnknown
from .registry import register

# Never folded: they run subgraphs, and CALL_ONCE and the variable ops change the model's state.
_RUNS_MODEL = {"foldable": False, "traits": {"runs_model", "tflm"}}


def _truth(value) -> bool:
    """A condition tensor's value, as LiteRT's IF and WHILE read it (its first element)."""
    return bool(np.ravel(value)[0])


def _infer_if(op: Op, graph: Graph, cond: Tensor, *args: Tensor):
    """Shaped and typed as the then-branch's outputs (the else-branch's agree with them)."""
    then = graph.subgraphs[op.attrs["then_subgraph_index"]]
    outputs = [then.tensors[n] for n in then.outputs]
    if any(t.shape is None for t in outputs):
        raise ShapeUnknown(op, op.outputs[0] if op.outputs else "?", "its then-branch's shapes are unknown")
    return [(t.shape, t.dtype) for t in outputs]


def _if(op: Op, model, cond: np.ndarray, *args) -> list:
    """The then-branch on the inputs after the condition when it holds, else the else-branch."""
    branch = op.attrs["then_subgraph_index" if _truth(cond) else "else_subgraph_index"]
    return model.call(branch, list(args))


def _infer_while(op: Op, graph: Graph, *carried: Tensor):
    """The loop carries its tensors: each output is shaped as the body takes it, which is the
    input it starts from unless the loop grows it (a TensorArray of dynamic size: [-1, ...])."""
    body = graph.subgraphs[op.attrs["body_subgraph_index"]]
    return [(body.tensors[name].shape if name in body.tensors else t.shape, t.dtype)
            for name, t in zip(body.inputs, carried)]


def check_settled(label: str, names: list[str], body: Graph) -> None:
    """A WHILE body gives every loop variable (names: the WHILE's inputs) back with the shape
    and dtype the body takes it with, which TFLite's WHILE keeps; a result of unknown shape
    passes until it is known. label: the loop, for the error."""
    for name, arg, result in zip(names, body.inputs, body.outputs):
        before, after = body.tensors[arg], body.tensors[result]
        if after.shape is None:
            continue
        if tuple(after.shape) != tuple(before.shape) or after.dtype != before.dtype:
            raise ConversionError(
                f"{label}: its body turns loop variable {name!r} of shape "
                f"{list(before.shape)} {before.dtype} into {list(after.shape)} {after.dtype}, so "
                "the loop's shapes never settle; TFLite's WHILE keeps each loop variable's shape "
                "and dtype: make the loop keep them")


def _while(op: Op, model, *carried) -> list:
    """The body on the carried values as long as the cond subgraph says so (maybe never)."""
    values = list(carried)
    while _truth(model.call(op.attrs["cond_subgraph_index"], values)[0]):
        values = model.call(op.attrs["body_subgraph_index"], values)
    return values


def _call_once(op: Op, model) -> list:
    model.call_once(op.attrs["init_subgraph_index"])
    return []


register("IF", infer=_infer_if, kernel=_if, **_RUNS_MODEL)
register("WHILE", infer=_infer_while, kernel=_while, **_RUNS_MODEL)
register("CALL_ONCE", infer=lambda op, graph: [], kernel=_call_once, foldable=False,
         traits={"runs_model", "side_effects", "tflm"})
