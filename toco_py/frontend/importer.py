"""GraphDef -> IR Graph: choose inputs and outputs, keep the part between them, map each node."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np

from ..errors import TocoError
from ..ir import Graph, Op, Tensor, const_tensor
from .context import NodeContext, output_name, tensor_name
from .tensors import attr_value, dtype_name, to_numpy
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


@dataclass
class ImportResult:
    graph: Graph
    # What was inferred rather than given, for the user to see.
    notes: list[str] = field(default_factory=list)


def parse_array_name(name: str) -> str:
    """Accepts 'node', 'node:0' and 'node:1' and returns the IR tensor name."""
    return tensor_name(name.strip())


def _node_of(tensor: str) -> str:
    return tensor.rsplit(":", 1)[0] if ":" in tensor and tensor.rsplit(":", 1)[1].isdigit() else tensor


def _suggest(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Importer:
    def __init__(self, gd, input_arrays=None, output_arrays=None, input_shapes=None) -> None:
        self.gd = gd
        self.nodes = {}
        for node in gd.node:
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

    # ---- choosing the cut ------------------------------------------------------

    def _check_exists(self, names: list[str], what: str) -> None:
        for name in names:
            if _node_of(name) not in self.nodes:
                raise TocoError(
                    f"unknown {what} array {name!r}: the graph has no node of that name"
                    f"{_suggest(_node_of(name), self.nodes)}; check --{what}_arrays")

    def choose_outputs(self) -> list[str]:
        if self.output_arrays:
            self._check_exists(self.output_arrays, "output")
            return self.output_arrays
        consumed = {_node_of(tensor_name(i)) for n in self.gd.node for i in n.input
                    if not i.startswith("^")}
        outputs = [
            n.name for n in self.gd.node
            if n.name not in consumed and n.op not in _NOT_OUTPUTS
            and not n.op.startswith(_TRAINING_PREFIXES)
            and not n.name.startswith(_TRAINING_SCOPES)
        ]
        if not outputs:
            raise TocoError("could not infer the output arrays; name them with --output_arrays")
        self.notes.append(f"output arrays (inferred): {','.join(outputs)}")
        return outputs

    def _upstream(self, outputs: list[str], stop: set[str]) -> list[str]:
        """Node names the outputs depend on through data edges, stopping at `stop`, in
        topological order."""
        order: list[str] = []
        seen: set[str] = set()
        stack = [(_node_of(o), False) for o in reversed(outputs)]
        while stack:
            name, expanded = stack.pop()
            if expanded:
                order.append(name)
                continue
            if name in seen:
                continue
            seen.add(name)
            node = self.nodes.get(name)
            if node is None:
                raise TocoError(f"the graph reads node {name!r}, which does not exist; it is malformed")
            stack.append((name, True))
            if name in stop:
                continue
            for ref in reversed(node.input):
                if not ref.startswith("^"):
                    dep = _node_of(tensor_name(ref))
                    if dep not in seen:
                        stack.append((dep, False))
        return order

    def choose_inputs(self, outputs: list[str]) -> list[str]:
        if self.input_arrays:
            self._check_exists(self.input_arrays, "input")
            return self.input_arrays
        needed = self._upstream(outputs, set())
        inputs = [n for n in needed if self.nodes[n].op == "Placeholder"]
        if inputs:
            self.notes.append(f"input arrays (inferred): {','.join(inputs)}")
        return inputs

    # ---- building the IR ---------------------------------------------------------

    def _input_shapes(self, inputs: list[str]) -> list[tuple | None]:
        if self.input_shapes is None:
            return [None] * len(inputs)
        if len(self.input_shapes) != len(inputs):
            raise TocoError(
                f"--input_shapes gives {len(self.input_shapes)} shapes for {len(inputs)} inputs "
                f"({','.join(inputs)}); separate one shape per input with ':'")
        return list(self.input_shapes)

    def _add_input(self, name: str, given: tuple | None) -> None:
        node = self.nodes[_node_of(name)]
        dtype = "float32"
        for key in ("dtype", "T"):
            if key in node.attr:
                dtype = attr_value(node.attr[key])
                break
        declared = attr_value(node.attr["shape"]) if "shape" in node.attr else None
        if given is not None:
            if declared is not None and len(declared) != len(given) or declared and any(
                d >= 0 and d != g for d, g in zip(declared, given)
            ):
                raise TocoError(
                    f"--input_shapes gives {list(given)} for input {name!r}, whose shape in the "
                    f"graph is {list(declared)}")
            shape = tuple(given)
        elif declared is None:
            raise TocoError(
                f"input {name!r} has an unknown shape; give it with --input_shapes "
                "(e.g. --input_shapes=1,224,224,3, one shape per input separated by ':')")
        else:
            shape = declared
            if shape and shape[0] == -1:
                shape = (1,) + shape[1:]
                self.notes.append(f"input {name!r}: unknown batch size set to 1 "
                                  "(use --input_shapes to choose another)")
            if any(d < 0 for d in shape):
                raise TocoError(
                    f"input {name!r} has unknown dimensions {list(declared)}; give its shape with "
                    "--input_shapes (e.g. --input_shapes=1,224,224,3, one per input, ':' between)")
        self.graph.add_tensor(Tensor(name, tuple(int(d) for d in shape), dtype))
        self.graph.inputs.append(name)

    def _add_const(self, node) -> None:
        value = self.viewed.get(node.name)
        if value is None and "value" in node.attr:
            value = to_numpy(node.attr["value"].tensor, node.name)
        if value is None:
            raise TocoError(f"constant node {node.name!r} has no value; the graph is malformed")
        self.graph.add_tensor(const_tensor(node.name, value))
        self.consts[node.name] = value

    def _map_node(self, node) -> None:
        ctx = NodeContext(self.graph, node, self.consts)
        mapper = MAPPERS.get(node.op)
        if mapper is None:
            self._add_opaque(node, ctx)
            return
        mapper(ctx)
        if node.op in ("Identity", "Snapshot", "StopGradient") and ctx.inputs[0] in self.consts:
            self.consts[node.name] = self.consts[ctx.inputs[0]]

    def _add_opaque(self, node, ctx: NodeContext) -> None:
        """An op with no mapping becomes a CUSTOM op, so that every unsupported op can be
        reported at once after the passes (or emitted as a custom op if the user allows)."""
        shapes = attr_value(node.attr["_output_shapes"]) if "_output_shapes" in node.attr else None
        count = max(len(shapes or []), 1 + max(self._max_output_index.get(node.name, 0), 0))
        outputs = [output_name(node.name, i) for i in range(count)]
        for i, out in enumerate(outputs):
            shape = shapes[i] if shapes and i < len(shapes) else None
            dtype = "float32"
            for key in ("T", "dtype", "out_type"):
                if key in node.attr and node.attr[key].WhichOneof("value") == "type":
                    dtype = dtype_name(node.attr[key].type)
                    break
            self.graph.add_tensor(Tensor(out, shape, dtype))
        attrs = {"custom_code": node.op}
        self.graph.add_op(Op("CUSTOM", ctx.inputs, outputs, attrs, node.name))

    def run(self) -> Graph:
        outputs = self.choose_outputs()
        inputs = self.choose_inputs(outputs)
        overlap = set(inputs) & set(outputs)
        if overlap:
            raise TocoError(f"{sorted(overlap)} named as both input and output arrays")
        self._max_output_index: dict[str, int] = {}
        for n in self.gd.node:
            for ref in n.input:
                if not ref.startswith("^"):
                    t = tensor_name(ref)
                    if ":" in t:
                        node, idx = t.rsplit(":", 1)
                        self._max_output_index[node] = max(self._max_output_index.get(node, 0), int(idx))
        for name, shape in zip(inputs, self._input_shapes(inputs)):
            self._add_input(name, shape)
        input_nodes = {_node_of(n) for n in inputs}
        for name in self._upstream(outputs, input_nodes):
            if name in input_nodes:
                continue
            node = self.nodes[name]
            if node.op == "Placeholder":
                raise TocoError(
                    f"output depends on placeholder {name!r}, which is not among the input "
                    f"arrays; add it to --input_arrays")
            if node.op == "Const":
                self._add_const(node)
            else:
                self._map_node(node)
        for name in outputs:
            if name not in self.graph.tensors:
                raise TocoError(
                    f"output array {name!r} is not produced by the graph (node "
                    f"{_node_of(name)!r} has no such output); check --output_arrays")
        self.graph.outputs = list(outputs)
        return self.graph


def import_graphdef(gd, input_arrays=None, output_arrays=None, input_shapes=None):
    """Returns (graph, notes on what was inferred)."""
    importer = Importer(gd, input_arrays, output_arrays, input_shapes)
    return importer.run(), importer.notes
