"""`toco-py split`: the part of a GraphDef between chosen arrays, as a GraphDef of its own.

The cut is the one `convert` makes (frontend/importer.py): the nodes the output arrays need,
never crossing an input array. Each input array that is not already a placeholder of the
graph becomes a new Placeholder node (its dtype and, when known, its shape), and the nodes
that read it read the placeholder instead. TensorFlow loads the result and, fed the values
the full graph computes at the cut, gives the same outputs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from google.protobuf import text_format

from .api import frontend_options
from .errors import TocoError
from .frontend.context import split_ref, tensor_name
from .frontend.graphdef import load_graphdef
from .frontend.importer import Importer, InputSpec
from .frontend.proto import NodeDef
from .frontend.tensors import DTYPES

# TensorFlow's quantized types (qint8, quint8, qint32, qint16, quint16), which the frontend
# reads as the plain integer types.
_QUANTIZED_DT = (11, 12, 13, 15, 16)
# IR dtype name -> TensorFlow DataType enum value (the plain, non-reference types).
DT_ENUM = {name: code for code, name in DTYPES.items() if code not in _QUANTIZED_DT}


@dataclass
class SplitResult:
    data: bytes  # the part, serialized (binary, or text for a .pbtxt output)
    nodes: int
    inputs: list[tuple[InputSpec, str]]  # each input array and the placeholder that feeds it
    outputs: list[str]
    notes: list[str] = field(default_factory=list)


def _unique(base: str, taken: set[str]) -> str:
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def _placeholder(name: str, spec: InputSpec, original=None):
    node = NodeDef()
    if original is not None:
        node.CopyFrom(original)
    else:
        node.name, node.op = name, "Placeholder"
        node.attr["dtype"].type = DT_ENUM[spec.dtype]
    shape = node.attr["shape"].shape
    if spec.shape is None:
        if original is None:
            shape.unknown_rank = True
        return node
    shape.Clear()
    for d in spec.shape:
        shape.dim.add().size = int(d)
    return node


def _rewire(node, renames: dict[str, str], names: set[str]) -> None:
    """Points the node's inputs at the placeholders; drops control edges and colocation
    constraints to nodes that are not in the part."""
    inputs = []
    for ref in node.input:
        if ref.startswith("^"):
            if ref[1:] in names:
                inputs.append(ref)
        else:
            inputs.append(renames.get(tensor_name(ref), ref))
    del node.input[:]
    node.input.extend(inputs)
    if "_class" in node.attr:
        locs = [s for s in node.attr["_class"].list.s
                if not s.startswith(b"loc:@") or s[5:].decode("utf-8", "replace") in names]
        if locs:
            del node.attr["_class"].list.s[:]
            node.attr["_class"].list.s.extend(locs)
        else:
            del node.attr["_class"]


def split_graphdef(gd, input_arrays=None, output_arrays=None, input_shapes=None,
                   text: bool = False) -> SplitResult:
    """gd: a whole GraphDef message (load_graphdef(..., view_constants=False)); it is
    reused for the result, so that fields we do not model (the function library) are kept."""
    importer = Importer(gd, input_arrays, output_arrays, input_shapes, **frontend_options())
    cut = importer.plan(keep_unknown=True)
    notes = list(importer.notes)
    taken = set(importer.nodes)
    renames: dict[str, str] = {}
    placeholders = []
    for spec in cut.inputs:
        node_name, index = split_ref(spec.name)
        if not spec.interior:
            node = _placeholder(node_name, spec, importer.nodes[node_name])
        else:
            if spec.dtype not in DT_ENUM:
                raise TocoError(f"input {spec.name!r} has type {spec.dtype}, which a placeholder cannot hold")
            name = node_name if index == 0 else _unique(f"{node_name}_{index}", taken)
            taken.add(name)
            node = _placeholder(name, spec)
            if name != node_name or index:
                notes.append(f"input {spec.name!r} is fed by placeholder {name!r}")
            if spec.shape is None or any(d < 0 for d in spec.shape):
                notes.append(f"input {spec.name!r}: shape unknown "
                             f"{list(spec.shape) if spec.shape is not None else ''}".rstrip()
                             + "; give it with --input_shapes when converting the part")
        renames[spec.name] = node.name
        placeholders.append((spec, node))
    part = set(cut.part)
    names = part | {node.name for _, node in placeholders}
    nodes = [node for _, node in placeholders]
    for original in gd.node:
        if original.name in part:
            node = NodeDef()
            node.CopyFrom(original)
            _rewire(node, renames, names)
            nodes.append(node)
    del gd.node[:]
    gd.node.extend(nodes)
    data = text_format.MessageToString(gd).encode() if text else gd.SerializeToString()
    outputs = [renames.get(o, o) for o in cut.outputs]
    return SplitResult(data, len(nodes), [(spec, node.name) for spec, node in placeholders],
                       outputs, notes)


def split(graph_def_file: str, output_file: str | None = None, input_arrays=None,
          output_arrays=None, input_shapes=None) -> SplitResult:
    """Writes the part atomically (text format when output_file ends with .pbtxt)."""
    from .tflite.writer import write_atomic

    gd = load_graphdef(graph_def_file, view_constants=False)
    text = bool(output_file) and output_file.endswith(".pbtxt")
    result = split_graphdef(gd, input_arrays, output_arrays, input_shapes, text)
    if output_file:
        write_atomic(output_file, result.data)
    return result
