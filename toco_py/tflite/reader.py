"""TFLite schema-3 FlatBuffer bytes -> IR graphs, one per subgraph, checked as they are read.

Any valid model (ours or TensorFlow's converter's) reads back; a malformed, truncated or
hostile one ends in a one-line InvalidModelError, never another exception, a hang or a big
allocation. Every read goes through the checked tables of `checks.py`; constant data stays
a read-only view into the file's bytes.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

import flatbuffers
import numpy as np
import tflite as fb  # the schema's generated readers, e.g. fb.Model
from flatbuffers import number_types as N
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions

from ..errors import TocoError
from ..ir import Graph, Op, QuantParams, Tensor
from . import tflm_compression
from .checks import (
    CheckedTable,
    InvalidModelError,
    Source,
    adopt,
    decode_strings,
    element_count,
    index,
    numbers,
    open_root,
    shape_text,
    tables,
)
from .options import OPTIONS, OUTPUT_TYPE_ATTRS, SUBGRAPH_ATTRS, TENSOR_TYPES
from .sparsity import read_sparse_constant

__all__ = ["InvalidModelError", "Model", "Signature", "read_graph", "read_model", "read_model_file"]

SCHEMA_VERSION = 3
FILE_IDENTIFIER = b"TFL3"
# Root offset, then the identifier (or, without one, at least a vtable offset).
MIN_FILE_SIZE = 8
# Activations are never allocated here, but a model that declares more than this cannot be
# meant seriously and would exhaust the runtime that tries to run it.
MAX_ACTIVATION_BYTES = 16 << 30
# Sparse constants are held dense: a small file could claim a huge tensor with a few values.
# Pruned weights expand 2-100x; more than this many times the whole file's size (or the
# floor) is no plausible model.
SPARSE_EXPANSION = 1024
SPARSE_FLOOR_BYTES = 1 << 20
# OperatorCode.builtin_code: the generated BuiltinCode() does not apply TFLite's rule.
_BUILTIN_CODE_SLOT = 10
# Buffer.offset 1 is what TFLite's serializer writes while the data is not yet placed.
_EXTERNAL_OFFSET_UNSET = 1

_OP_NAMES = {code: name for name, code in vars(BuiltinOperator).items()
             if isinstance(code, int) and name != "PLACEHOLDER_FOR_GREATER_OP_CODES"}
_OPTIONS_NAMES = {code: name for name, code in vars(BuiltinOptions).items()
                  if isinstance(code, int)}
# Tensor types numpy holds as they are stored; "string" has a layout of its own, and the
# rest (int4, bfloat16, resource, variant) cannot be constants here.
_NUMPY_TYPES = ("float32", "float16", "int32", "uint8", "int64", "bool", "int16", "complex64",
                "int8", "float64", "complex128", "uint64", "uint32", "uint16")
# Bytes per element, for the activation total; other types count as 1 (int4 packs 2 a byte).
_ITEM_SIZE = {**{name: np.dtype(name).itemsize for name in _NUMPY_TYPES}, "bfloat16": 2}
# What can go wrong in the flatbuffers and numpy calls if a check above them were missing:
# turned into a one-line error rather than a traceback (the fuzz test expects none).
_LOW_LEVEL_ERRORS = (struct.error, IndexError, ValueError, TypeError, OverflowError, KeyError,
                     AttributeError, RecursionError, UnicodeError)


@dataclass
class Signature:
    """A signature's inputs and outputs: signature name -> tensor name in its subgraph."""
    subgraph: int
    inputs: dict[str, str]
    outputs: dict[str, str]


@dataclass
class Model:
    """Every subgraph as a Graph (graphs[0] is the main one). In each Graph, tensors are
    listed in the file's order, so list(graph.tensors)[i] is the name of tensor i."""
    graphs: list[Graph]
    signatures: dict[str, Signature] = field(default_factory=dict)
    # [subgraph][op index] -> the op's version from its OperatorCode.
    op_versions: list[list[int]] = field(default_factory=list)
    subgraph_names: list[str] = field(default_factory=list)
    description: str = ""

    @property
    def main(self) -> Graph:
        return self.graphs[0]


def read_model(data: bytes, source: str = "<bytes>") -> Model:
    """Reads a .tflite from memory; `source` names it in error messages."""
    # memoryview first: bytes(n) of an int would allocate n zero bytes.
    data = data if isinstance(data, bytes) else bytes(memoryview(data))
    try:
        return _read(data)
    except InvalidModelError as e:
        raise InvalidModelError(f"{source}: {e}") from None
    except _LOW_LEVEL_ERRORS as e:
        # A check is missing if this happens; the cause is kept for whoever debugs it.
        raise InvalidModelError(f"{source}: malformed model ({type(e).__name__}: {e})") from e


def read_graph(path_or_bytes: str | os.PathLike | bytes) -> Graph:
    """The main subgraph of a .tflite given as a path or as bytes."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return read_model(path_or_bytes).main
    return read_model_file(path_or_bytes).main


def read_model_file(path: str | os.PathLike) -> Model:
    """Reads a .tflite file; one that cannot be opened is a TocoError naming it."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise TocoError(f"cannot read {path}: {e.strerror}") from None
    return read_model(data, source=str(path))


def _read(data: bytes) -> Model:
    if len(data) < MIN_FILE_SIZE:
        raise InvalidModelError(f"{len(data)} bytes is too small to be a TFLite model")
    try:
        return _ModelReader(Source(data)).read()
    except InvalidModelError as e:
        if data[4:8] == FILE_IDENTIFIER:
            raise
        # The identifier is optional in FlatBuffers, so a file without one is taken if it
        # reads cleanly; if not, it most likely is something else entirely.
        raise InvalidModelError("not a TFLite model: no 'TFL3' file identifier, and it does "
                                f"not read as one ({e})") from None


def _text(raw: bytes | None) -> str:
    # Names are for people; a damaged byte should not make the whole model unreadable.
    return "" if raw is None else raw.decode("utf-8", "replace")


def _short(name: str) -> str:
    """A name quoted for a message, cut to a readable length."""
    return repr(name if len(name) <= 60 else name[:57] + "...")


def unique_names(raw: list[str]) -> list[str]:
    """Tensor names made unique and non-empty, deterministically: the first holder of a name
    keeps it, empty and repeated names get '#<tensor index>' (plus '#' until free)."""
    taken = set(raw)
    kept: set[str] = set()
    names = []
    for i, name in enumerate(raw):
        if name and name not in kept:
            kept.add(name)
            names.append(name)
            continue
        candidate = f"{name}#{i}"
        while candidate in taken:
            candidate += "#"
        taken.add(candidate)
        names.append(candidate)
    return names


def _empty_table_bytes() -> bytes:
    """A FlatBuffer whose root table has no fields, so generated getters give defaults."""
    b = flatbuffers.Builder(16)
    b.StartObject(0)
    b.Finish(b.EndObject())
    return bytes(b.Output())


# Shared by all reads: it has no fields, so reading it never touches its work budget.
_DEFAULTS = Source(_empty_table_bytes())


def _check_subgraph_references(graphs: list[Graph]) -> None:
    """Every subgraph an op names (IF, WHILE, CALL_ONCE) exists and is not the entry point,
    and no subgraph calls itself, directly or through others: a runtime would recurse
    without end."""
    calls: list[list[tuple[int, str]]] = []  # [subgraph] -> (callee, where the call is)
    for s, graph in enumerate(graphs):
        calls.append([])
        for j, op in enumerate(graph.ops):
            for attr in SUBGRAPH_ATTRS.get(op.type, ()):
                k = op.attrs.get(attr)
                where = f"{_subgraph_text(graphs, s)}, operator {j} ({op.type})"
                if k == 0:
                    raise InvalidModelError(f"{where}: its {attr} 0 names the entry point "
                                            "(subgraph 0), which only the runtime may call")
                if not isinstance(k, int) or not 0 < k < len(graphs):
                    raise InvalidModelError(f"{where}: its {attr} {k} "
                                            f"names no subgraph (the model has {len(graphs)})")
                calls[s].append((k, f"{where}: its {attr} {k}"))
    _check_no_call_cycle(graphs, calls)


def _subgraph_text(graphs: list[Graph], s: int) -> str:
    """'subgraph 2 'while_body'' (a model of one subgraph leaves its name unset)."""
    name = graphs[s].name
    return f"subgraph {s} {_short(name)}" if name else f"subgraph {s}"


def _check_no_call_cycle(graphs: list[Graph], calls: list[list[tuple[int, str]]]) -> None:
    """Depth-first over the calls from the entry point and from every subgraph; iterative,
    so a long chain of calls cannot exhaust Python's stack."""
    done: set[int] = set()
    for root in range(len(graphs)):
        if root in done:
            continue
        path, on_path = [root], {root}
        pending = [iter(calls[root])]
        while pending:
            step = next(pending[-1], None)
            if step is None:
                pending.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
                continue
            k, where = step
            if k in on_path:
                cycle = " -> ".join(str(n) for n in path[path.index(k):] + [k])
                raise InvalidModelError(f"{where} calls {_subgraph_text(graphs, k)} "
                                        f"while it runs (a cycle of calls: {cycle})")
            if k not in done:
                path.append(k)
                on_path.add(k)
                pending.append(iter(calls[k]))


class _ModelReader:
    def __init__(self, src: Source) -> None:
        self.src = src
        self.buffers: list[np.ndarray | None] = []
        self.opcodes: list[tuple[str, str, int]] = []
        self.activation_bytes = 0
        self.sparse_bytes = 0
        self.luts: dict = {}  # TFLM's look-up-table tensors (_tflm_luts)

    def read(self) -> Model:
        model = open_root(fb.Model, self.src)
        version = model.Version()
        if version != SCHEMA_VERSION:
            raise InvalidModelError(f"schema version {version} is not supported "
                                    f"(only {SCHEMA_VERSION})")
        self.buffers = [self._buffer(b, i) for i, b in enumerate(tables(model, "Buffers"))]
        self.opcodes = [self._opcode(c, i) for i, c in enumerate(tables(model, "OperatorCodes"))]
        subgraphs = tables(model, "Subgraphs")
        if not subgraphs:
            raise InvalidModelError("the model has no subgraphs")
        self.luts = self._tflm_luts(model, len(subgraphs))
        read = [self._subgraph(sg, i) for i, sg in enumerate(subgraphs)]
        graphs = [graph for graph, _ in read]
        names = [_text(sg.Name()) for sg in subgraphs]
        if len(graphs) > 1:
            for graph, name in zip(graphs, names):
                graph.subgraphs, graph.name = graphs, name
        _check_subgraph_references(graphs)  # one subgraph too: an IF there names no other
        return Model(graphs=graphs,
                     signatures=self._signatures(model, graphs),
                     op_versions=[versions for _, versions in read],
                     subgraph_names=names,
                     description=_text(model.Description()))

    # ---- model-level tables ---------------------------------------------------------

    def _buffer(self, buf, i: int) -> np.ndarray | None:
        """A buffer's bytes as a uint8 view, or None when it is empty."""
        data = numbers(buf, "Data")
        if data.size:
            return data
        offset, size = buf.Offset(), buf.Size()
        if offset > _EXTERNAL_OFFSET_UNSET and size:
            # Models over 2 GB keep weights after the FlatBuffer, at absolute offsets.
            self.src.check(offset, size, f"buffer {i}'s external data")
            return np.frombuffer(self.src.buf, np.uint8, size, offset)
        return None

    def _tflm_luts(self, model, subgraphs: int) -> dict:
        """TFLM's look-up-table tensors (tflm_compression.py) by (subgraph, tensor index):
        their dense data is decoded as they are read."""
        for i, entry in enumerate(tables(model, "Metadata")):
            if _text(entry.Name()) == tflm_compression.METADATA_KEY:
                data = self.buffers[index(entry.Buffer(), len(self.buffers), f"metadata {i}", "buffer")]
                return tflm_compression.lut_entries(b"" if data is None else data.tobytes(), subgraphs)
        return {}

    def _opcode(self, code, i: int) -> tuple[str, str, int]:
        """(op type, custom code, version) of an OperatorCode."""
        builtin = code._tab.GetSlot(_BUILTIN_CODE_SLOT, 0, N.Int32Flags)
        value = max(code.DeprecatedBuiltinCode(), builtin)
        version = code.Version()
        if value == BuiltinOperator.CUSTOM:
            custom = code.CustomCode()
            if not custom:
                raise InvalidModelError(f"operator code {i} is CUSTOM without a custom_code")
            return "CUSTOM", _text(custom), version
        if value not in _OP_NAMES:
            raise InvalidModelError(f"operator code {i} has builtin code {value}, which this "
                                    "reader's schema does not define")
        return _OP_NAMES[value], "", version

    def _signatures(self, model, graphs: list[Graph]) -> dict[str, Signature]:
        signatures: dict[str, Signature] = {}
        for k, sig in enumerate(tables(model, "SignatureDefs")):
            where = f"signature {k}"
            sub = index(sig.SubgraphIndex(), len(graphs), where, "subgraph")
            names = list(graphs[sub].tensors)
            key = _text(sig.SignatureKey())
            if key in signatures:
                raise InvalidModelError(f"{where}: signature key {key!r} appears twice")
            signatures[key] = Signature(sub, self._tensor_map(sig, "Inputs", names, where),
                                        self._tensor_map(sig, "Outputs", names, where))
        return signatures

    @staticmethod
    def _tensor_map(sig, field_name: str, names: list[str], where: str) -> dict[str, str]:
        return {_text(m.Name()): names[index(m.TensorIndex(), len(names), where, "tensor")]
                for m in tables(sig, field_name)}

    # ---- subgraphs -------------------------------------------------------------------

    def _subgraph(self, sg, s: int) -> tuple[Graph, list[int]]:
        where = f"subgraph {s}"
        fb_tensors = tables(sg, "Tensors")
        names = unique_names([_text(t.Name()) for t in fb_tensors])
        # A writer that sets has_rank on ranked tensors means an unset one has unknown
        # rank; older writers (and ours) never set it, and an empty shape is a scalar.
        marks_rank = any(t.HasRank() for t in fb_tensors)
        graph = Graph()
        for i, (t, name) in enumerate(zip(fb_tensors, names)):
            where_t = f"{where}, tensor {i} ({_short(name)})"
            graph.add_tensor(self._tensor(t, name, marks_rank, where_t, self.luts.get((s, i))))
        graph.inputs = _refs(numbers(sg, "Inputs"), names, f"{where} inputs")
        graph.outputs = _refs(numbers(sg, "Outputs"), names, f"{where} outputs")
        versions = []
        for j, op in enumerate(tables(sg, "Operators")):
            ir_op, version = self._operator(op, names, f"{where}, operator {j}")
            if ir_op.type in OUTPUT_TYPE_ATTRS and ir_op.outputs:
                ir_op.attrs[OUTPUT_TYPE_ATTRS[ir_op.type]] = graph.tensors[ir_op.outputs[0]].dtype
            graph.add_op(ir_op)
            versions.append(version)
        _empty_constants(graph)
        return graph, versions

    def _operator(self, op, names: list[str], where: str) -> tuple[Op, int]:
        code = index(op.OpcodeIndex(), len(self.opcodes), where, "operator code")
        op_type, custom_code, version = self.opcodes[code]
        inputs = ["" if i == -1 else names[index(i, len(names), f"{where} inputs", "tensor")]
                  for i in numbers(op, "Inputs").tolist()]
        outputs = _refs(numbers(op, "Outputs"), names, f"{where} outputs")
        if op_type == "CUSTOM":
            attrs: dict = {"custom_code": custom_code}
            options = numbers(op, "CustomOptions")
            if options.size:
                attrs["custom_options"] = options.tobytes()
        else:
            attrs = self._options(op, op_type, where)
        intermediates = numbers(op, "Intermediates")
        if intermediates.size:
            attrs["intermediates"] = _refs(intermediates, names, f"{where} intermediates")
        return Op(op_type, inputs, outputs, attrs), version

    def _options(self, op, op_type: str, where: str) -> dict:
        """Attrs from the builtin options, by the OPTIONS table; absent options give the
        schema's defaults, as in TFLite. Ops the table does not list get {}."""
        if op_type not in OPTIONS:
            return {}
        table, fields = OPTIONS[op_type]
        kind, found = op.BuiltinOptionsType(), op.BuiltinOptions()
        if kind == BuiltinOptions.NONE or found is None:
            tab = CheckedTable(_DEFAULTS, _DEFAULTS.u32(0, "root offset"))
        elif kind == getattr(BuiltinOptions, table):
            tab = CheckedTable(self.src, found.Pos)
        else:
            raise InvalidModelError(f"{where}: {op_type} carries "
                                    f"{_OPTIONS_NAMES.get(kind, kind)} options, not {table}")
        options = getattr(fb, table)()
        options._tab = tab
        attrs = {}
        for schema_field, attr, value_kind in fields:
            if not value_kind.vector:
                attrs[attr] = value_kind.from_fb(getattr(options, schema_field)())
            elif not getattr(options, schema_field + "IsNone")():
                attrs[attr] = value_kind.from_fb(numbers(options, schema_field))
        return attrs

    # ---- tensors ---------------------------------------------------------------------

    def _tensor(self, t, name: str, marks_rank: bool, where: str, packed=None) -> Tensor:
        """packed: its TFLM LutEntry when its buffer holds look-up-table indices."""
        code = t.Type()
        dtype = TENSOR_TYPES[index(code, len(TENSOR_TYPES), where, "tensor type")]
        dims = _dims(t, where)
        shape = None if not dims and marks_rank and not t.HasRank() else dims
        buffer = self.buffers[index(t.Buffer(), len(self.buffers), where, "buffer")]
        quant, min_max = _quantization(adopt(t, t.Quantization()), shape, where)
        if buffer is not None and packed is not None:
            values = self.buffers[index(packed.value_buffer, len(self.buffers), where, "value buffer")]
            buffer = tflm_compression.decompress(buffer, values, packed.index_bitwidth, dtype,
                                                 shape or (), quant, where)
        # LiteRT reads sparsity parameters of constants only (InterpreterBuilder).
        sparse = adopt(t, t.Sparsity()) if buffer is not None else None
        sparsity = None
        if buffer is None:
            self._count_activation(t, dtype, where)
            data = None
        elif sparse is not None:
            self._count_sparse(_known_shape(shape, where), dtype, where)
            data, sparsity = read_sparse_constant(sparse, _values(buffer, dtype, where),
                                                  shape, where)
        else:
            data = _constant(buffer, dtype, shape, where)
        variable = bool(t.IsVariable())
        if variable and data is not None:
            # LiteRT refuses it too (InterpreterBuilder: "variable tensor with buffer").
            raise InvalidModelError(f"{where}: a variable tensor cannot have constant data")
        return Tensor(name, shape, dtype, data, quant, min_max, variable, sparsity)

    def _count_sparse(self, shape: tuple[int, ...], dtype: str, where: str) -> None:
        limit = max(SPARSE_EXPANSION * self.src.size, SPARSE_FLOOR_BYTES)
        self.sparse_bytes += element_count(shape, limit, where) * _ITEM_SIZE.get(dtype, 1)
        if self.sparse_bytes > limit:
            raise InvalidModelError(f"{where}: the sparse constants would take {self.sparse_bytes} "
                                    f"bytes dense, over {SPARSE_EXPANSION} times the file's size")

    def _count_activation(self, t, dtype: str, where: str) -> None:
        # The concrete shape: -1 dims of the signature are stored there as a size to use.
        count = element_count(numbers(t, "Shape").tolist(), MAX_ACTIVATION_BYTES, where)
        self.activation_bytes += count * _ITEM_SIZE.get(dtype, 1)
        if self.activation_bytes > MAX_ACTIVATION_BYTES:
            raise InvalidModelError(f"{where}: the model's tensors need over "
                                    f"{MAX_ACTIVATION_BYTES >> 30} GiB")


def _empty_constants(graph: Graph) -> None:
    """A constant with no elements has no bytes, so its buffer is as empty as an activation's:
    a zero-element tensor that no op writes and that is no graph input can only be one (the
    empty axes of a reduction over none, say)."""
    written = {n for op in graph.ops for n in op.outputs} | set(graph.inputs)
    for name, t in graph.tensors.items():
        if (t.data is None and name not in written and t.shape is not None
                and 0 in t.shape and all(d >= 0 for d in t.shape) and t.dtype in np.sctypeDict):
            t.data = np.zeros(t.shape, t.dtype)


def _refs(indices: np.ndarray, names: list[str], where: str) -> list[str]:
    return [names[index(i, len(names), where, "tensor")] for i in indices.tolist()]


def _dims(t, where: str) -> tuple[int, ...]:
    """The shape, with the -1 (unknown) sizes of shape_signature."""
    dims = numbers(t, "Shape")
    if np.any(dims < 0):
        raise InvalidModelError(f"{where}: negative dimension in shape {shape_text(dims)}")
    signature = numbers(t, "ShapeSignature")
    if signature.size:
        if signature.size != dims.size or np.any(signature < -1):
            raise InvalidModelError(f"{where}: shape_signature {shape_text(signature)} does "
                                    f"not fit shape {shape_text(dims)}")
        dims = np.where(signature == -1, -1, dims)
    return tuple(dims.tolist())


def _quantization(q, shape, where: str) -> tuple[QuantParams | None, tuple[float, float] | None]:
    if q is None:
        return None, None
    lo, hi = numbers(q, "Min"), numbers(q, "Max")
    # Per-channel ranges do not fit Tensor.min_max; they are recomputed when needed.
    min_max = (float(lo[0]), float(hi[0])) if lo.size == 1 and hi.size == 1 else None
    scale, zero_point = numbers(q, "Scale"), numbers(q, "ZeroPoint")
    if not scale.size:
        return None, min_max
    if zero_point.size != scale.size:
        raise InvalidModelError(f"{where}: {scale.size} scales but {zero_point.size} zero points")
    axis = q.QuantizedDimension()
    if scale.size > 1 and (shape is None or not 0 <= axis < len(shape)
                           or shape[axis] != scale.size):
        raise InvalidModelError(f"{where}: {scale.size} per-channel scales along dimension "
                                f"{axis} do not fit shape {shape_text(shape or ())}")
    return QuantParams(scale.astype(np.float32), zero_point.astype(np.int64), axis), min_max


def _known_shape(shape, where: str) -> tuple[int, ...]:
    if shape is None or -1 in shape:
        raise InvalidModelError(f"{where}: a constant tensor must have a fully known shape")
    return shape


def _constant(buffer: np.ndarray, dtype: str, shape, where: str) -> np.ndarray:
    """A constant's value, as a read-only view of the file where numpy can hold it."""
    count = element_count(_known_shape(shape, where), buffer.size, where)
    if dtype == "string":
        return np.array(decode_strings(buffer, count, where), dtype=object).reshape(shape)
    item = _item(dtype, where)
    if count * item.itemsize != buffer.size:
        raise InvalidModelError(f"{where}: buffer holds {buffer.size} bytes, shape "
                                f"{shape_text(shape)} of {dtype} needs {count * item.itemsize}")
    return np.frombuffer(buffer, item).reshape(shape)


def _values(buffer: np.ndarray, dtype: str, where: str) -> np.ndarray:
    """The numbers of a sparse constant's buffer, as a read-only view of the file."""
    item = _item(dtype, where)
    if buffer.size % item.itemsize:
        raise InvalidModelError(f"{where}: buffer of {buffer.size} bytes is no whole number "
                                f"of {dtype} values")
    return np.frombuffer(buffer, item)


def _item(dtype: str, where: str) -> np.dtype:
    if dtype not in _NUMPY_TYPES:
        raise InvalidModelError(f"{where}: constant tensors of type {dtype} are not supported")
    return np.dtype(dtype).newbyteorder("<")
