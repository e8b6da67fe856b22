"""What the pipeline checks about a graph, and how it reports it: every op's shape rule on
the graph as imported, the ops no TFLite builtin runs, and control flow the passes could not
resolve. `convert` fails on them; `check` lists them with these same words."""
from __future__ import annotations

from dataclasses import replace

from .errors import ConversionError, UnsupportedOpsError, op_listing
from .frontend.tf_ops.control import UNMAPPED_CONTROL_FLOW
from .ir import Graph
from .ops import has_trait
from .passes.propagate_shapes import check_op
from .targets import unsupported_on
from .tflite.options import MAX_TENSOR_ELEMENTS

# Written to read on its own (`check`'s hint for an op) and after "else" or "or" (its hints
# for ops with a better replacement); convert's error starts it with a capital.
CUSTOM_OPS_HINT = ("rewrite the model with supported ops, or convert with --allow_custom_ops "
                   "to emit them as custom ops (the runtime then needs your implementation of "
                   "each)")

# What control flow left after the passes means and how to fix it: convert's error and
# check's hint.
# A tf.cond with a run-time predicate becomes IF (passes/cond_to_if.py), and a TF1 while
# loop is refused at import; what is left is a cond that could not be cut out as subgraphs.
CONTROL_FLOW_CAUSE = ("a tf.cond whose predicate is not constant at conversion time and whose "
                      "branches could not be made subgraphs (a value leaves a branch other than "
                      "through its Merge)")
CONTROL_FLOW_FIX = ("fix the predicate (e.g. an is_training flag) to a constant, or cut the "
                    "graph around it with --input_arrays/--output_arrays")


def _sentence(clause: str) -> str:
    return f"{clause[0].upper()}{clause[1:]}."


def check_shapes(graph: Graph, in_place: bool = False) -> Graph:
    """Runs every op's shape rule once on the graph as imported, on a shadow copy of its
    tensors (the passes see the graph unchanged): a rule failing on its inputs (a Conv2D fed
    a vector, a Pack of mismatched tensors), or an output no TFLite tensor can have, means
    the GraphDef is malformed, which is then reported naming the node instead of failing
    inside a pass. Returns the shadow (the
    graph's ops with the inferred shapes); in_place: infer on the graph itself instead
    (propagate_shapes, checked), for the commands that run no pass."""
    if in_place:
        shadow = graph
    else:
        shadow = Graph()
        shadow.tensors = {name: replace(t) for name, t in graph.tensors.items()}
        shadow.ops, shadow.inputs, shadow.outputs = graph.ops, graph.inputs, graph.outputs
        shadow.subgraphs = graph.subgraphs  # the loops' shapes are their bodies'
    for op in graph.ops:
        for name, (shape, dtype) in zip(op.outputs, check_op(shadow, op, MAX_TENSOR_ELEMENTS) or ()):
            shadow.tensors[name].shape, shadow.tensors[name].dtype = shape, dtype
    return shadow


def is_control_flow(op_type: str) -> bool:
    """A TF1 control-flow op: mapped to an IR op with the "control_flow" trait (Switch, Merge),
    or one the frontend leaves under its TF name."""
    return has_trait(op_type, "control_flow") or op_type in UNMAPPED_CONTROL_FLOW


def unsupported_ops(graph: Graph) -> dict[str, list[str]]:
    """Op type -> node names, for every op that has no TFLite builtin, in every subgraph."""
    found: dict[str, list[str]] = {}
    for sub in graph.subgraphs or [graph]:
        for kind, names in unsupported_on(sub, "tflite").items():
            found.setdefault(kind, []).extend(names)
    return found


def check_control_flow(unsupported: dict[str, list[str]]) -> None:
    """Control flow left after the passes has a predicate unknown at conversion time."""
    found = {t: names for t, names in unsupported.items() if is_control_flow(t)}
    if found:
        raise ConversionError(f"unsupported control flow: {CONTROL_FLOW_CAUSE}: "
                              f"{op_listing(found, 4)}. {_sentence(CONTROL_FLOW_FIX)}")


def require_builtins(unsupported: dict[str, list[str]]) -> None:
    """Fails naming every op left without a TFLite builtin, and the ways out."""
    if unsupported:
        raise UnsupportedOpsError(unsupported, _sentence(CUSTOM_OPS_HINT))
