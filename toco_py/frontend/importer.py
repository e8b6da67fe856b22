"""GraphDef -> IR Graph: choose inputs and outputs, keep the part between them, map each node."""
from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import InternalError, TocoError
from ..ir import Graph, Op, Tensor, const_tensor
from ..tflite.options import MAX_TENSOR_ELEMENTS
from .context import NodeContext, split_ref, tensor_name
from .dead_accumulators import drop_dead_accumulators
from .frames import TF1_WHILE, functionalize_frames
from .functions import inline_functions
from .loops import WHILE_OPS, FunctionCall, add_functional_while, add_while
from .node_types import input_dtype, output_dtype, shape_attr
from .tensor_arrays import drop_handles, set_element_shape
from .tensors import shape_of, to_numpy
from .tf_ops import MAPPERS

# Nodes that never carry an inference output, so they are not candidate outputs.
_NOT_OUTPUTS = {
    "Const", "Placeholder", "PlaceholderWithDefault", "NoOp", "Assert", "Print", "PrintV2",
    "SaveV2", "RestoreV2", "Save", "Restore", "MergeV2Checkpoints", "VariableV2", "Variable",
    "VarHandleOp", "VarIsInitializedOp", "AssignVariableOp", "Assign", "AssignAdd", "AssignSub",
    "ScalarSummary", "HistogramSummary", "ImageSummary", "MergeSummary", "TensorSummary",
    "TensorSummaryV2", "WriteScalarSummary", "ReadVariableOp", "IsVariableInitialized",
}
_TRAINING_PREFIXES = ("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply")
_TRAINING_SCOPES = ("gradients/", "gradients_", "train/", "save/", "init")

_SWITCHES = ("Switch", "RefSwitch")
_CLOSE_BRANCH = ("Merge", "RefMerge", "Exit", "RefExit")

_PLACEHOLDERS = ("Placeholder", "PlaceholderV2", "PlaceholderWithDefault")


@dataclass
class InputSpec:
    name: str
    shape: tuple | None  # None (unknown rank) and -1 sizes only with plan(keep_unknown=True)
    dtype: str
    interior: bool  # not a placeholder of the graph: a cut through it


@dataclass
class Cut:
    outputs: list[str]
    inputs: list[InputSpec]
    part: list[str]  # the nodes between them, in topological order


def parse_array_name(name: str) -> str:
    """Accepts 'node', 'node:0' and 'node:1' and returns the IR tensor name."""
    return tensor_name(name.strip())


def _suggest(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Importer:
    """expand_limit: the most bytes a constant stored as one value for many (a splat) may
    expand to. run_passes(graph): the conversion's passes, with which the shape of an input
    cut out of the middle of the graph is inferred from the part upstream of it (None: such
    a shape must be given). The pipeline supplies both (api.frontend_options)."""

    def __init__(self, gd, input_arrays=None, output_arrays=None, input_shapes=None, *,
                 expand_limit: int, run_passes: Callable[[Graph], object] | None = None) -> None:
        self.gd = gd
        self.expand_limit = expand_limit
        self.run_passes = run_passes
        self.nodes = {}
        library = getattr(gd, "library", None)
        self.node_list, self.loops = functionalize_frames(
            drop_dead_accumulators(drop_handles(inline_functions(gd)), library), library)
        for node in self.node_list:
            if node.name in self.nodes:
                raise TocoError(f"the GraphDef has two nodes named {node.name!r}; it is malformed")
            self.nodes[node.name] = node
        self.notes: list[str] = []
        self.input_arrays = [parse_array_name(n) for n in input_arrays] if input_arrays else None
        self.output_arrays = [parse_array_name(n) for n in output_arrays] if output_arrays else None
        self.input_shapes = input_shapes
        self.graph = Graph()
        self.consts: dict[str, np.ndarray] = {}
        # Big constants the loader decoded as views of the file (see frontend/graphdef.py).
        self.viewed: dict[str, np.ndarray] = getattr(gd, "constants", {})
        # Shapes for placeholders that are not input arrays (the upstream shape inference).
        self.placeholder_shapes: dict[str, tuple] = {}
        self._given: dict[str, tuple] = {}
        self.known_elements: dict[str, tuple] = {}

    # ---- choosing the cut ------------------------------------------------------

    def _check_exists(self, names: list[str], what: str) -> None:
        for name in names:
            if split_ref(name)[0] not in self.nodes:
                raise TocoError(
                    f"unknown {what} array {name!r}: the graph has no node of that name"
                    f"{_suggest(split_ref(name)[0], self.nodes)}; check --{what}_arrays")

    def choose_outputs(self) -> list[str]:
        if self.output_arrays:
            self._check_exists(self.output_arrays, "output")
            return self.output_arrays
        refs = [ref for n in self.node_list for ref in n.input]
        consumed = {split_ref(r)[0] for r in refs if not r.startswith("^")}
        # A node others wait on (a control input: a cond's switch_t, an assert's guard) is
        # a dependency, not a result.
        awaited = {split_ref(r[1:])[0] for r in refs if r.startswith("^")}
        in_branch = self._in_cond_branches()
        outputs = [
            n.name for n in self.node_list
            if n.name not in consumed and n.name not in awaited and n.name not in in_branch
            and n.op not in _NOT_OUTPUTS
            and not n.op.startswith(_TRAINING_PREFIXES)
            and not n.name.startswith(_TRAINING_SCOPES)
        ]
        if not outputs:
            raise TocoError("could not infer the output arrays; name them with --output_arrays")
        self.notes.append(f"output arrays (inferred): {','.join(outputs)}")
        return outputs

    def _in_cond_branches(self) -> set[str]:
        """Nodes inside a TF1 cond or loop body: downstream of a Switch before the Merge (or
        Exit) that closes it. Their values exist only when their branch runs (a dead branch
        under a constant predicate never does), so they are never the network's outputs."""
        readers: dict[str, list[str]] = {}
        for node in self.node_list:
            for ref in node.input:
                if not ref.startswith("^"):
                    readers.setdefault(split_ref(ref)[0], []).append(node.name)
        switches = [n.name for n in self.node_list if n.op in _SWITCHES]
        # Depth: how many Switches deep a node is; bounded so that a malformed cycle ends.
        stack = [(reader, 1) for name in switches for reader in readers.get(name, ())]
        seen: set[tuple[str, int]] = set()
        inside: set[str] = set()
        while stack:
            name, depth = stack.pop()
            depth -= self.nodes[name].op in _CLOSE_BRANCH
            if depth <= 0 or depth > len(switches) or (name, depth) in seen:
                continue
            seen.add((name, depth))
            inside.add(name)
            opens = self.nodes[name].op in _SWITCHES
            stack.extend((reader, depth + opens) for reader in readers.get(name, ()))
        return inside

    def _upstream(self, outputs: list[str], stop: set[str]) -> list[str]:
        """Node names the outputs depend on through data edges, in topological order. The
        walk never crosses a tensor in `stop` (the input arrays): what lies upstream of an
        input is not visited at all."""
        order: list[str] = []
        seen: set[str] = set()
        done: set[str] = set()
        stack = [(split_ref(o)[0], False) for o in reversed(outputs)]
        while stack:
            name, expanded = stack.pop()
            if expanded:
                order.append(name)
                done.add(name)
                continue
            if name in seen:
                continue
            seen.add(name)
            node = self.nodes.get(name)
            if node is None:
                raise TocoError(f"the graph reads node {name!r}, which does not exist; it is malformed")
            stack.append((name, True))
            for ref in reversed(node.input):
                if not ref.startswith("^"):
                    tensor = tensor_name(ref)
                    if tensor in stop:
                        continue
                    dep = split_ref(tensor)[0]
                    if dep not in seen:
                        stack.append((dep, False))
                    elif dep not in done:
                        self._check_loop(dep, name, stack)
        return order

    def _check_loop(self, dep: str, name: str, stack: list) -> None:
        """`name` reads `dep`, which is being visited: a cycle. Entered nodes still being
        visited are exactly the ones whose (name, True) marker is on the stack, in order.
        TF1 while loops became loop nodes before (frontend/frames.py): a cycle through a
        NextIteration left is one with no frame around it."""
        path = [n for n, expanded in stack if expanded]
        cycle = path[path.index(dep):] if dep in path else [dep, name]
        listed = " reads ".join((cycle + [dep])[:7]) + (" ..." if len(cycle) > 6 else "")
        if any(self.nodes[n].op in ("NextIteration", "RefNextIteration") for n in cycle):
            raise TocoError(f"the graph has a TF1 loop's cycle with no frame around it: node {name!r} "
                            f"reads {dep!r} ({listed}), and no Enter brings a value into it; the "
                            "GraphDef is malformed")
        raise TocoError(
            f"the graph has a cycle: node {name!r} reads {dep!r}, which depends on it "
            f"({listed}); the GraphDef is malformed")

    def choose_inputs(self, outputs: list[str]) -> list[str]:
        if self.input_arrays:
            self._check_exists(self.input_arrays, "input")
            return self.input_arrays
        needed = self._upstream(outputs, set())
        inputs = [n for n in needed if self.nodes[n].op == "Placeholder"]
        if inputs:
            self.notes.append(f"input arrays (inferred): {','.join(inputs)}")
        return inputs

    def plan(self, keep_unknown: bool = False) -> Cut:
        """Chooses the outputs and inputs, the nodes between them and each input's dtype and
        shape. keep_unknown: leave unknown sizes as -1 (None: unknown rank) instead of
        defaulting the batch size and failing on the rest (for `split`)."""
        outputs = self.choose_outputs()
        inputs = self.choose_inputs(outputs)
        for names, what in ((inputs, "input"), (outputs, "output")):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise TocoError(f"{twice[0]!r} is named twice in --{what}_arrays; name each array once")
        overlap = set(inputs) & set(outputs)
        if overlap:
            raise TocoError(f"{sorted(overlap)} named as both input and output arrays")
        given = self._input_shapes(inputs)
        if self.placeholder_shapes:
            given = [self.placeholder_shapes.get(n, g) for n, g in zip(inputs, given)]
        part = self._upstream(outputs, set(inputs))
        self._check_cut(part, inputs, outputs)
        self._given = {name: shape for name, shape in zip(inputs, given) if shape is not None}
        self._to_infer = [n for n, g in zip(inputs, given) if g is None and not (
            self.nodes[split_ref(n)[0]].op in _PLACEHOLDERS and split_ref(n)[1] == 0)]
        self._inferred = None
        specs = [self._resolve_input(name, shape, part, keep_unknown) for name, shape in zip(inputs, given)]
        return Cut(outputs, specs, part)

    def _check_cut(self, part: list[str], inputs: list[str], outputs: list[str]) -> None:
        """An input array's node must not be needed itself: the part would then need both
        the node's other outputs (and all upstream of it) and a placeholder in its place."""
        by_node: dict[str, str] = {}
        for name in inputs:
            by_node.setdefault(split_ref(name)[0], name)
        clashing = [n for n in part if n in by_node]
        if not clashing:
            return
        node = clashing[0]
        stop = set(inputs)
        needed = sorted({t for n in part for t in (tensor_name(r) for r in self.nodes[n].input
                                                    if not r.startswith("^"))
                         if split_ref(t)[0] == node and t not in stop} |
                        {o for o in outputs if split_ref(o)[0] == node})
        raise TocoError(
            f"input array {by_node[node]!r} cuts node {node!r}, but the outputs also need "
            f"{', '.join(map(repr, needed))}, {'another output' if len(needed) == 1 else 'other outputs'}"
            f" of that node; add "
            f"{'it' if len(needed) == 1 else 'them'} to --input_arrays too")

    # ---- the inputs' dtypes and shapes -------------------------------------------------

    def _input_shapes(self, inputs: list[str]) -> list[tuple | None]:
        if self.input_shapes is None:
            return [None] * len(inputs)
        if len(self.input_shapes) != len(inputs):
            raise TocoError(
                f"--input_shapes gives {len(self.input_shapes)} shapes for {len(inputs)} inputs "
                f"({','.join(inputs)}); separate one shape per input with ':'")
        return list(self.input_shapes)

    def _resolve_input(self, name: str, given: tuple | None, part: list[str],
                       keep_unknown: bool) -> InputSpec:
        node_name, index = split_ref(name)
        node = self.nodes[node_name]

        def inferred():
            if self._inferred is None:
                self._inferred = self.infer_upstream(self._to_infer)
            return self._inferred.get(name)

        interior = not (node.op in _PLACEHOLDERS and index == 0)
        shape, how = self._resolve_shape(name, node, index, given, interior, inferred)
        dtype = output_dtype(node, index) or self._consumer_dtype(name, part)
        if dtype is None:
            dtype = inferred()[1] if interior and inferred() else "float32"
        if keep_unknown:
            if how and shape is not None:
                self.notes.append(f"input {name!r}: shape {list(shape)} {how}")
            return InputSpec(name, shape, dtype, interior)
        if shape is None:
            why = (" (the graph does not record it, and our shape inference cannot compute it "
                   "from the part upstream of it)" if interior else "")
            raise TocoError(
                f"input {name!r} has an unknown shape{why}; give it with --input_shapes "
                "(e.g. --input_shapes=1,224,224,3, one shape per input separated by ':')")
        declared = shape
        if shape and shape[0] == -1:
            shape = (1,) + shape[1:]
            self.notes.append(f"input {name!r}: unknown batch size set to 1 "
                              "(use --input_shapes to choose another)")
        if any(d < 0 for d in shape):
            raise TocoError(
                f"input {name!r} has unknown dimensions {list(declared)}; give its shape with "
                "--input_shapes (e.g. --input_shapes=1,224,224,3, one per input, ':' between)")
        if math.prod(shape) > MAX_TENSOR_ELEMENTS or max(shape, default=0) > MAX_TENSOR_ELEMENTS:
            raise TocoError(
                f"input {name!r} has shape {list(shape)}: {math.prod(shape)} elements, more than a "
                "TFLite tensor can index (2^31 - 1); give a smaller shape with --input_shapes")
        if how:
            self.notes.append(f"input {name!r}: shape {list(shape)} {how}")
        return InputSpec(name, tuple(int(d) for d in shape), dtype, interior)

    def _resolve_shape(self, name, node, index, given, interior, inferred):
        """(shape, how it was found when not given or declared): --input_shapes, a
        placeholder's shape attr, a constant's shape, the _output_shapes attr, or our shape
        inference run on the graph upstream of the input."""
        declared = None
        if not interior:
            declared = shape_attr(node, "shape")
        if given is not None:
            if declared is not None and (len(declared) != len(given) or any(
                    d >= 0 and d != g for d, g in zip(declared, given))):
                raise TocoError(
                    f"--input_shapes gives {list(given)} for input {name!r}, whose shape in the "
                    f"graph is {list(declared)}")
            return tuple(given), None
        if not interior:
            return declared, None
        if node.op == "Const" and index == 0:
            value = self.viewed.get(node.name)
            if value is not None:
                return tuple(value.shape), None
            if "value" in node.attr and node.attr["value"].WhichOneof("value") == "tensor":
                return shape_of(node.attr["value"].tensor.tensor_shape), None
        listed = None
        listed_shapes = node.attr["_output_shapes"].list.shape if "_output_shapes" in node.attr else ()
        if index < len(listed_shapes):
            listed = shape_of(listed_shapes[index])
            if listed is not None and all(d >= 0 for d in listed):
                return listed, "from its node's _output_shapes"
        found = inferred()
        if found is not None:
            return found[0], "inferred from the graph upstream of it"
        return listed, None

    def infer_upstream(self, names: list[str]) -> dict[str, tuple[tuple, str]]:
        """{name: (shape, dtype)} for the tensors whose shape our shape inference finds when
        the graph upstream of them (from its placeholders) is converted: all at once, or one
        by one when that fails. Best effort: whatever that part of the graph makes fail only
        means the user has to give the shape; a bug of ours (InternalError) still shows."""
        if self.run_passes is None:
            return {}

        def infer(outputs: list[str]) -> dict[str, tuple[tuple, str]]:
            sub = Importer(self.gd, None, outputs, None, expand_limit=self.expand_limit,
                           run_passes=self.run_passes)
            sub.placeholder_shapes = self._given
            sub.known_elements = self.known_elements
            graph = sub.run()
            self.run_passes(graph)
            return {n: (tuple(graph.tensors[n].shape), graph.tensors[n].dtype)
                    for n in outputs if n in graph.tensors and graph.tensors[n].static_shape}

        def attempt(outputs: list[str]) -> dict[str, tuple[tuple, str]] | None:
            try:
                return infer(outputs)
            except InternalError:
                raise
            except Exception:  # noqa: BLE001 - see the docstring
                return None

        found = attempt(names)
        if found is None:
            found = {}
            for name in names if len(names) > 1 else ():
                found.update(attempt([name]) or {})
        return found

    def _consumer_dtype(self, name: str, part: list[str]) -> str | None:
        """The dtype the nodes reading `name` expect at that input, from their type attrs."""
        for consumer in part:
            node = self.nodes[consumer]
            data = [tensor_name(r) for r in node.input if not r.startswith("^")]
            for position, ref in enumerate(data):
                if ref == name:
                    dtype = input_dtype(node, position, len(data))
                    if dtype:
                        return dtype
        return None

    # ---- building the IR ---------------------------------------------------------

    def _add_input(self, spec: InputSpec) -> None:
        self.graph.add_tensor(Tensor(spec.name, spec.shape, spec.dtype))
        self.graph.inputs.append(spec.name)

    def _add_const(self, node) -> None:
        value = self.viewed.get(node.name)
        if value is None and "value" in node.attr:
            value = to_numpy(node.attr["value"].tensor, node.name, self.expand_limit)
        if value is None:
            raise TocoError(f"constant node {node.name!r} has no value; the graph is malformed")
        self.graph.add_tensor(const_tensor(node.name, value))
        self.consts[node.name] = value

    def _map_node(self, node) -> None:
        if node.name in self.known_elements:
            set_element_shape(node, self.known_elements[node.name])
        ctx = NodeContext(self.graph, node, self.consts)
        if node.op in WHILE_OPS:
            add_functional_while(ctx, getattr(self.gd, "library", None), self)
            return
        if node.op == TF1_WHILE:
            loop = self.loops[node.name]
            add_while(ctx, {"cond": (loop.cond, f"{loop.frame}/cond"), "body": (loop.body, f"{loop.frame}/body")},
                      self)
            return
        mapper = MAPPERS.get(node.op)
        if mapper is None:
            self._add_opaque(node, ctx)
            return
        try:
            mapper(ctx)
        except (TocoError, MemoryError):
            raise
        except Exception as err:  # what the node holds, the mapper checks (NodeContext)
            raise InternalError(f"the {node.op} mapper on node {node.name!r}") from err
        if node.op in ("Identity", "Snapshot", "StopGradient") and ctx.inputs[0] in self.consts:
            self.consts[node.name] = self.consts[ctx.inputs[0]]

    def import_call(self, call: FunctionCall, shapes: list[tuple], keep_unknown: bool = False) -> Graph:
        """A function's body as a subgraph of this graph's model (frontend/loops.py);
        keep_unknown: shapes may hold -1 sizes (a probe's)."""
        sub = Importer(call, call.inputs, call.outputs, shapes, expand_limit=self.expand_limit,
                       run_passes=self.run_passes)
        sub.graph.subgraphs = self.graph.subgraphs
        sub.known_elements = self.known_elements
        return sub.run(keep_unknown)

    def _add_opaque(self, node, ctx: NodeContext) -> None:
        """An op with no mapping becomes a CUSTOM op, so that every unsupported op can be
        reported at once after the passes (or emitted as a custom op if the user allows)."""
        shapes = [shape_of(s) for s in node.attr["_output_shapes"].list.shape] if (
            "_output_shapes" in node.attr) else None
        count = max(len(shapes or []), 1 + self._max_output_index.get(node.name, 0))
        outputs = ctx.outputs(count, "outputs read")
        for i, out in enumerate(outputs):
            shape = shapes[i] if shapes and i < len(shapes) else None
            self.graph.add_tensor(Tensor(out, shape, output_dtype(node, i) or output_dtype(node, 0)
                                        or "float32"))
        attrs = {"custom_code": node.op}
        self.graph.add_op(Op("CUSTOM", ctx.inputs, outputs, attrs, node.name))

    def run(self, keep_unknown: bool = False) -> Graph:
        cut = self.plan(keep_unknown)
        # The highest output of each node that the part (or an output array) reads: how many
        # outputs an op with no mapping gets.
        self._max_output_index: dict[str, int] = {}
        refs = [r for name in cut.part for r in self.nodes[name].input if not r.startswith("^")]
        for node, index in map(split_ref, refs + cut.outputs):
            self._max_output_index[node] = max(self._max_output_index.get(node, 0), index)
        for spec in cut.inputs:
            self._add_input(spec)
        for name in cut.part:
            node = self.nodes[name]
            if node.op == "Placeholder":
                raise TocoError(
                    f"output depends on placeholder {name!r}, which is not among the input "
                    f"arrays; add it to --input_arrays")
            if node.op == "Const":
                self._add_const(node)
            else:
                self._map_node(node)
        for name in cut.outputs:
            if name not in self.graph.tensors:
                raise TocoError(
                    f"output array {name!r} is not produced by the graph (node "
                    f"{split_ref(name)[0]!r} has no such output); check --output_arrays")
        self.graph.outputs = list(cut.outputs)
        return self.graph


def import_graphdef(gd, input_arrays=None, output_arrays=None, input_shapes=None, **options):
    """Returns (graph, notes on what was inferred); options: those of Importer."""
    importer = Importer(gd, input_arrays, output_arrays, input_shapes, **options)
    return importer.run(), importer.notes
