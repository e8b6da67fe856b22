"""The conversion pipeline as plain functions; the CLI and the tests call these."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

from .errors import ConversionError, UnsupportedOpsError, op_listing
from .frontend.graphdef import load_graphdef, parse_graphdef
from .frontend.importer import import_graphdef
from .ir import Graph
from .passes import fold_constants
from .passes.driver import PassLog
from .passes.propagate_shapes import infer_op, require_static_shapes
from .passes.stages import run_all
from .quantize.driver import QuantizeOptions, quantize_graph
from .targets import has_builtin, unsupported_on
from .tflite.writer import model_view, write_atomic

CUSTOM_OPS_HINT = ("Pass --allow_custom_ops to emit them as custom ops (the runtime then needs "
                   "your implementation of each), or rewrite the model with supported ops.")


@dataclass
class ConversionResult:
    view: memoryview  # the .tflite, without a copy
    graph: Graph
    notes: list[str] = field(default_factory=list)
    pass_counts: dict[str, int] = field(default_factory=dict)

    @property
    def model(self) -> bytes:
        """The .tflite as bytes (a copy, made on first use)."""
        if not hasattr(self, "_bytes"):
            self._bytes = bytes(self.view)
        return self._bytes


def unsupported_ops(graph: Graph) -> dict[str, list[str]]:
    """Op type -> node names, for every op that has no TFLite builtin."""
    return unsupported_on(graph, "tflite")


CONTROL_FLOW = ("Switch", "Merge", "Enter", "Exit", "NextIteration", "LoopCond", "If",
                "StatelessIf", "While", "StatelessWhile")
# What control flow left after the passes means and how to fix it: convert's error and
# check's hint.
CONTROL_FLOW_CAUSE = "tf.cond/tf.while_loop whose predicate is not a constant at conversion time"
CONTROL_FLOW_FIX = ("fix the predicate (e.g. an is_training flag) to a constant, or cut the "
                    "graph around it with --input_arrays/--output_arrays")


def check_control_flow(unsupported: dict[str, list[str]]) -> None:
    """Control flow left after the passes has a predicate unknown at conversion time."""
    found = {t: names for t, names in unsupported.items() if t in CONTROL_FLOW}
    if found:
        raise ConversionError(
            f"unsupported control flow: {CONTROL_FLOW_CAUSE}: {op_listing(found, 4)}. "
            f"{CONTROL_FLOW_FIX[0].upper()}{CONTROL_FLOW_FIX[1:]}.")


# What a shape rule raises when an op's inputs do not fit it.
_RULE_ERRORS = (ValueError, IndexError, TypeError, KeyError, OverflowError, ZeroDivisionError)
# TFLite's kernels count a tensor's elements in an int.
MAX_ELEMENTS = (1 << 31) - 1


def check_shapes(graph: Graph, in_place: bool = False) -> Graph:
    """Runs every op's shape rule once on the graph as imported, on a shadow copy of its
    tensors (the passes see the graph unchanged): a rule failing on its inputs (a Conv2D fed
    a vector, a Pack of mismatched tensors) means the GraphDef is malformed, which is then
    reported naming the node instead of failing inside a pass. Returns the shadow (the
    graph's ops with the inferred shapes); in_place: infer on the graph itself instead
    (propagate_shapes, checked), for the commands that run no pass."""
    if in_place:
        shadow = graph
    else:
        shadow = Graph()
        shadow.tensors = {name: replace(t) for name, t in graph.tensors.items()}
        shadow.ops, shadow.inputs, shadow.outputs = graph.ops, graph.inputs, graph.outputs
    for op in graph.ops:
        try:
            result = infer_op(shadow, op)
        except _RULE_ERRORS as err:
            shapes = [list(shadow.tensors[n].shape) if n in shadow.tensors and
                      shadow.tensors[n].shape is not None else None for n in op.inputs]
            raise ConversionError(
                f"node {op.name!r} ({op.type}) cannot take inputs of shapes {shapes} "
                f"({type(err).__name__}: {err}); the GraphDef is malformed") from None
        for name, (shape, dtype) in zip(op.outputs, result or ()):
            if any(d < -1 or d > MAX_ELEMENTS for d in shape) or (
                    all(d >= 0 for d in shape) and math.prod(shape) > MAX_ELEMENTS):
                raise ConversionError(
                    f"node {op.name!r} ({op.type}) would compute {name!r} of shape {list(shape)}, "
                    "which no TFLite tensor can have (sizes from 0 to 2^31 - 1 elements); the "
                    "GraphDef or its constants are malformed")
            shadow.tensors[name].shape, shadow.tensors[name].dtype = shape, dtype
    return shadow


def _run_passes_checked(graph: Graph, **pass_options) -> dict[str, int]:
    """run_passes; when a pass fails because an op's shape rule fails on the graph as it
    stands (an input that became constant only after folding, say), the malformed node is
    reported. Any other failure is ours and propagates."""
    try:
        return run_passes(graph, **pass_options)
    except _RULE_ERRORS:
        check_shapes(graph)
        raise


def _as_custom_ops(graph: Graph) -> None:
    for op in graph.ops:
        if op.type != "CUSTOM" and not has_builtin(op):
            op.attrs = {"custom_code": op.type}
            op.type = "CUSTOM"


def run_passes(graph: Graph, log: Callable[[str], None] | None = None,
               after_pass: Callable[[str, Graph], None] | None = None,
               fold_limit: int | None = None, fake_quant: str = "emulate") -> dict[str, int]:
    """All pass stages; returns how often each pass rewrote something. fold_limit: the
    folding size limit in bytes; None keeps the current one (the default's, or that of the
    conversion this runs inside). fake_quant: "emulate" or "drop" activation fake-quant
    nodes (see fake_quant_mode)."""
    pass_log = PassLog(log)
    with fold_constants.limit(fold_limit):
        run_all(graph, pass_log, after_pass, fake_quant)
    return dict(pass_log.counts)


def fake_quant_mode(drop_fake_quant: bool, quantize: QuantizeOptions | None) -> str:
    """What the passes do with activation fake-quant nodes. int8 takes its parameters from
    their ranges, so they go; float models (and dynamic / float16 ones, whose activations
    stay float) keep their rounding, as TensorFlow computes it, unless asked to drop them."""
    if drop_fake_quant or (quantize is not None and quantize.mode == "int8"):
        return "drop"
    return "emulate"


def import_checked(load_graphdef_fn: Callable, input_arrays=None, output_arrays=None,
                   input_shapes=None, fold_limit: int | None = None, propagate: bool = False,
                   on_import: Callable[[Graph], None] | None = None) -> tuple[Graph, list[str]]:
    """How every command reads a .pb: (graph, notes). The parsed GraphDef holds a copy of
    every weight; loading it here, inside the call, lets it go as soon as the import is done,
    before the passes make their own copies. The folding limit (None: the current one) also
    bounds the constants the frontend expands (splats). Every op's shape rule is then checked
    (check_shapes), so a malformed graph is reported naming its node. propagate: leave the
    inferred shapes on the graph (for the commands that run no pass). on_import(graph) sees
    the graph as imported, with the inferred shapes, before any pass (before.dot)."""
    with fold_constants.limit(fold_limit):
        graph, notes = import_graphdef(load_graphdef_fn(), input_arrays, output_arrays, input_shapes)
    shaped = check_shapes(graph, in_place=propagate)
    if on_import is not None:
        on_import(shaped)
    return graph, notes


def graph_from_graphdef(gd, input_arrays=None, output_arrays=None, input_shapes=None, **pass_options):
    """Frontend and all passes: returns (graph, notes, pass counts)."""
    # The parsed GraphDef holds a copy of every weight: handed over (the list emptied when it
    # is taken) so that it goes as soon as the import is done, before the passes.
    holder = [gd]
    del gd
    graph, notes = import_checked(holder.pop, input_arrays, output_arrays, input_shapes,
                                  pass_options.get("fold_limit"))
    return graph, notes, _run_passes_checked(graph, **pass_options)


def _convert(load_graphdef_fn: Callable, input_arrays, output_arrays, input_shapes,
             allow_custom_ops: bool, quantize: QuantizeOptions | None = None,
             release_weights: bool = False, on_import: Callable[[Graph], None] | None = None,
             drop_fake_quant: bool = False, **pass_options) -> ConversionResult:
    """pass_options: log, after_pass, fold_limit (see run_passes); on_import: see
    import_checked; drop_fake_quant: TOCO's flag, see fake_quant_mode."""
    graph, notes = import_checked(load_graphdef_fn, input_arrays, output_arrays, input_shapes,
                                  pass_options.get("fold_limit"), on_import=on_import)
    counts = _run_passes_checked(graph, fake_quant=fake_quant_mode(drop_fake_quant, quantize),
                                 **pass_options)
    unsupported = unsupported_ops(graph)
    check_control_flow(unsupported)
    if unsupported:
        if not allow_custom_ops:
            raise UnsupportedOpsError(unsupported, CUSTOM_OPS_HINT)
        _as_custom_ops(graph)
        notes.append(f"emitted as custom ops: {', '.join(sorted(unsupported))}")
    require_static_shapes(graph)
    if quantize is not None:
        notes += quantize_graph(graph, quantize)
    return ConversionResult(model_view(graph, consume=release_weights), graph, notes, counts)


def convert(graph_def_file: str, output_file: str | None = None, **kwargs) -> ConversionResult:
    """Converts a frozen GraphDef file; writes the .tflite atomically when output_file is set.
    release_weights=True lowers peak memory but leaves result.graph without its constants;
    drop_fake_quant=True drops activation fake-quant nodes in a float model (TOCO's flag)."""
    result = _convert(lambda: load_graphdef(graph_def_file), kwargs.pop("input_arrays", None),
                      kwargs.pop("output_arrays", None), kwargs.pop("input_shapes", None),
                      kwargs.pop("allow_custom_ops", False), **kwargs)
    if output_file:
        write_atomic(output_file, result.view)
    return result


def convert_bytes(graph_def: bytes, input_arrays=None, output_arrays=None, input_shapes=None,
                  allow_custom_ops: bool = False, quantize: QuantizeOptions | None = None,
                  drop_fake_quant: bool = False, **pass_options) -> ConversionResult:
    return _convert(lambda: parse_graphdef(graph_def), input_arrays, output_arrays, input_shapes,
                    allow_custom_ops, quantize, drop_fake_quant=drop_fake_quant, **pass_options)


def quantize_tflite(input_file: str, output_file: str | None, options: QuantizeOptions) -> ConversionResult:
    """Quantizes an existing float .tflite (its main subgraph)."""
    from .tensor_io import load_tflite

    from .passes.emulate_fake_quant import drop_emulation, emulation_tensors

    graph, _ = load_tflite(input_file)
    notes = []
    if options.mode == "int8":  # as convert does: the fake-quant ranges set the int8 params
        dropped = drop_emulation(graph)
        if dropped:
            notes.append(f"{dropped} fake-quant ops dropped, their ranges kept")
    # A float model's fake-quant emulation holds integer tensors; it is no quantized model.
    emulation = emulation_tensors(graph)
    already = [n for n, t in graph.tensors.items()
               if t.dtype in ("int8", "uint8") and t.quant is not None and n not in emulation]
    if already:
        raise ConversionError(f"{input_file} is already quantized (e.g. tensor {already[0]!r}); "
                              "pass the float model")
    notes += quantize_graph(graph, options)
    result = ConversionResult(model_view(graph), graph, notes, {})
    if output_file:
        write_atomic(output_file, result.view)
    return result
