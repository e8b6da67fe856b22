"""IR Graph -> TFLite schema-3 FlatBuffer bytes, and the atomic file write."""
from __future__ import annotations

import mmap
import os
import tempfile

import flatbuffers
import numpy as np
import tflite as fb  # the schema's generated builders, e.g. fb.TensorStart
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions

from ..content_key import checksum, same_bytes
from ..content_key import payload as content_payload
from ..errors import ConversionError
from ..ir import Graph, Op
from . import tflm_compression as tflm
from .options import OPTIONS, TENSOR_TYPES
from .sparsity import build_sparsity, check_sparse_readers, sparsify
from .versions import op_version

SCHEMA_VERSION = 3
# Codes above this live only in the int32 builtin_code field.
PLACEHOLDER_FOR_GREATER_OP_CODES = 127
BUFFER_ALIGNMENT = 16
SIGNATURE_KEY = "serving_default"


def _vector(b: flatbuffers.Builder, start_fn, items, prepend) -> int:
    start_fn(b, len(items))
    for item in reversed(items):
        prepend(item)
    return b.EndVector()


def _int_vector(b: flatbuffers.Builder, values) -> int:
    return b.CreateNumpyVector(np.asarray(values, dtype=np.int32).reshape(-1))


def _aligned_bytes(b: flatbuffers.Builder, data: np.ndarray) -> int:
    """A byte vector whose payload starts on a BUFFER_ALIGNMENT boundary, copied once."""
    payload = content_payload(data)
    n = payload.nbytes
    b.StartVector(1, n, BUFFER_ALIGNMENT)
    b.head -= n
    b.Bytes[b.head : b.head + n] = payload
    b.vectorNumElems = n
    return b.EndVector()


def _presized_builder(size: int) -> flatbuffers.Builder:
    """A builder that never grows (each growth copies everything), over an anonymous mapping:
    its pages are only touched as the weights are written in, so a consuming writer holds
    each weight about once."""
    b = flatbuffers.Builder(1)
    b.Bytes = mmap.mmap(-1, size)
    b.head = size
    return b


class _ModelWriter:
    """Writes the model of `graph`: its subgraphs (Graph.subgraphs, in order, the graph itself
    first) or, when it has none, the graph alone. Buffers and operator codes are shared; the
    tensor indices are each subgraph's own."""

    def __init__(self, graph: Graph, consume: bool = False, tflm_compression: bool = False) -> None:
        self.graphs = graph.subgraphs or [graph]
        # Clustered filters as TFLM's look-up-table tensors (tflm_compression.py): per
        # subgraph, the encoded tensors by name.
        self.tflm_compression = tflm_compression
        self.luts: list[dict] = []
        self.graph = graph  # the subgraph being written
        # Drop each weight from the graph once it is in the builder: the peak then holds the
        # weights about once, not twice. The graph is unusable afterwards.
        self.consume = consume
        self.b: flatbuffers.Builder | None = None
        self.tensor_index: dict[str, int] = {}
        self.tensor_order: list[str] = []
        self.buffers: list[np.ndarray | None] = [None]  # buffer 0: the empty buffer
        self.buffer_of: dict[str, int] = {}
        # The inverse of each subgraph's buffer_of: buffer -> (subgraph, tensor name).
        self.names_of_buffer: dict[int, list[tuple[Graph, str]]] = {}
        # Per subgraph: (tensor order, tensor index, buffer_of).
        self.layouts: list[tuple[list[str], dict[str, int], dict[str, int]]] = []
        self.opcodes: list[tuple[int, str, int]] = []
        # Sparse constants' parameters, by tensor (id): their buffers hold the values only.
        self.sparsity: dict[int, object] = {}

    # ---- indices -----------------------------------------------------------------

    def _index_tensors(self, graph: Graph) -> None:
        """Appends the subgraph's layout; its constants join the shared buffers."""
        order: list[str] = []
        seen: set[str] = set()
        for name in graph.inputs + [n for op in graph.ops for n in op.inputs + op.outputs
                                    + list(op.attrs.get("intermediates", ()))] + graph.outputs:
            if name and name not in seen:
                seen.add(name)
                order.append(name)
        self.graph, self.tensor_order = graph, order
        self.tensor_index = {n: i for i, n in enumerate(order)}
        self.buffer_of = {}
        self.layouts.append((self.tensor_order, self.tensor_index, self.buffer_of))
        luts = tflm.compressible(graph) if self.tflm_compression else {}
        self.luts.append(luts)
        # Identical constant payloads share one buffer: a checksum finds the candidates, a
        # byte comparison decides (see content_key).
        by_checksum: dict[tuple[int, int], list[int]] = {}
        check_sparse_readers(graph)
        for name in order:
            t = graph.tensors[name]
            data = t.data
            if data is None:
                self.buffer_of[name] = 0
                continue
            if name in luts:
                data = luts[name].indices
            elif t.sparsity is not None:
                data, self.sparsity[id(t)] = sparsify(data, t.sparsity)
            data = np.ascontiguousarray(data)
            candidates = by_checksum.setdefault((checksum(data), data.nbytes), [])
            index = next((i for i in candidates if same_bytes(self.buffers[i], data)), None)
            if index is None:
                index = len(self.buffers)
                candidates.append(index)
                self.buffers.append(data)
                self.names_of_buffer[index] = []
            self.buffer_of[name] = index
            self.names_of_buffer[index].append((graph, name))

    def _opcode_index(self, op: Op) -> int:
        if op.type == "CUSTOM":
            key = (BuiltinOperator.CUSTOM, op.attrs["custom_code"], 1)
        else:
            key = (getattr(BuiltinOperator, op.type), "", op_version(self.graph, op))
        if key not in self.opcodes:
            self.opcodes.append(key)
        return self.opcodes.index(key)

    # ---- tables --------------------------------------------------------------------

    def _quantization(self, name: str) -> int | None:
        t = self.graph.tensors[name]
        if t.quant is None:
            return None
        b = self.b
        scale = b.CreateNumpyVector(np.asarray(t.quant.scale, np.float32).reshape(-1))
        zp = b.CreateNumpyVector(np.asarray(t.quant.zero_point, np.int64).reshape(-1))
        fb.QuantizationParametersStart(b)
        fb.QuantizationParametersAddScale(b, scale)
        fb.QuantizationParametersAddZeroPoint(b, zp)
        fb.QuantizationParametersAddQuantizedDimension(b, t.quant.axis)
        return fb.QuantizationParametersEnd(b)

    def _tensor(self, name: str) -> int:
        b = self.b
        t = self.graph.tensors[name]
        if t.dtype not in TENSOR_TYPES:
            raise ConversionError(f"tensor {name!r} has type {t.dtype}, which TFLite cannot hold")
        quant = self._quantization(name)
        sparsity = self.sparsity.get(id(t))
        sparsity = None if sparsity is None else build_sparsity(b, sparsity)
        fb_name = b.CreateString(name)
        # Unknown sizes (downstream of custom ops and of ops whose output size depends on
        # the input values) are -1 in shape_signature, and 1 in shape, as TF's converter
        # writes them; the runtime resizes those tensors when it runs the model.
        dims = t.shape or ()
        shape = _int_vector(b, [d if d >= 0 else 1 for d in dims])
        signature = _int_vector(b, dims) if any(d < 0 for d in dims) else None
        fb.TensorStart(b)
        fb.TensorAddShape(b, shape)
        if signature is not None:
            fb.TensorAddShapeSignature(b, signature)
        fb.TensorAddHasRank(b, t.shape is not None)
        fb.TensorAddType(b, TENSOR_TYPES.index(t.dtype))
        fb.TensorAddBuffer(b, self.buffer_of[name])
        if t.variable:
            fb.TensorAddIsVariable(b, True)
        fb.TensorAddName(b, fb_name)
        if quant is not None:
            fb.TensorAddQuantization(b, quant)
        if sparsity is not None:
            fb.TensorAddSparsity(b, sparsity)
        return fb.TensorEnd(b)

    def _options(self, op: Op) -> tuple[int, int | None]:
        spec = OPTIONS.get(op.type)
        if spec is None:
            return BuiltinOptions.NONE, None
        table, fields = spec
        b = self.b
        values = {}
        for field, attr, kind in fields:
            if attr in op.attrs and op.attrs[attr] is not None:
                value = kind.to_fb(op.attrs[attr])
                # A vector field is stored in the type its kind gives (int32, float32).
                if kind.vector:
                    value = b.CreateNumpyVector(np.ravel(value))
                elif kind.string:
                    value = b.CreateString(value)
                values[field] = value
        getattr(fb, f"{table}Start")(b)
        for field, value in values.items():
            getattr(fb, f"{table}Add{field}")(b, value)
        return getattr(BuiltinOptions, table), getattr(fb, f"{table}End")(b)

    def _operator(self, op: Op) -> int:
        b = self.b
        opcode = self._opcode_index(op)
        options_type, options = self._options(op)
        inputs = _int_vector(b, [self.tensor_index[n] if n else -1 for n in op.inputs])
        outputs = _int_vector(b, [self.tensor_index[n] for n in op.outputs])
        names = op.attrs.get("intermediates")
        intermediates = _int_vector(b, [self.tensor_index[n] for n in names]) if names else None
        # A custom op's options are opaque bytes for its kernel (read from a .tflite): kept.
        custom = op.attrs.get("custom_options") if op.type == "CUSTOM" else None
        custom_options = b.CreateByteVector(bytes(custom)) if custom else None
        fb.OperatorStart(b)
        fb.OperatorAddOpcodeIndex(b, opcode)
        fb.OperatorAddInputs(b, inputs)
        fb.OperatorAddOutputs(b, outputs)
        if intermediates is not None:
            fb.OperatorAddIntermediates(b, intermediates)
        if options is not None:
            fb.OperatorAddBuiltinOptionsType(b, options_type)
            fb.OperatorAddBuiltinOptions(b, options)
        if custom_options is not None:
            fb.OperatorAddCustomOptions(b, custom_options)
        return fb.OperatorEnd(b)

    def _tensor_maps(self, names: list[str]) -> list[int]:
        b = self.b
        maps = []
        for name in names:
            fb_name = b.CreateString(name)
            fb.TensorMapStart(b)
            fb.TensorMapAddName(b, fb_name)
            fb.TensorMapAddTensorIndex(b, self.tensor_index[name])
            maps.append(fb.TensorMapEnd(b))
        return maps

    def _signature(self) -> int:
        b = self.b
        inputs = _vector(b, fb.SignatureDefStartInputsVector,
                         self._tensor_maps(self.graph.inputs), b.PrependUOffsetTRelative)
        outputs = _vector(b, fb.SignatureDefStartOutputsVector,
                          self._tensor_maps(self.graph.outputs), b.PrependUOffsetTRelative)
        key = b.CreateString(SIGNATURE_KEY)
        fb.SignatureDefStart(b)
        fb.SignatureDefAddInputs(b, inputs)
        fb.SignatureDefAddOutputs(b, outputs)
        fb.SignatureDefAddSignatureKey(b, key)
        fb.SignatureDefAddSubgraphIndex(b, 0)
        return fb.SignatureDefEnd(b)

    def _subgraph(self, s: int) -> int:
        b = self.b
        self.graph = self.graphs[s]
        self.tensor_order, self.tensor_index, self.buffer_of = self.layouts[s]
        tensors = [self._tensor(n) for n in self.tensor_order]
        operators = [self._operator(op) for op in self.graph.ops]
        tensors_vec = _vector(b, fb.SubGraphStartTensorsVector, tensors, b.PrependUOffsetTRelative)
        inputs = _int_vector(b, [self.tensor_index[n] for n in self.graph.inputs])
        outputs = _int_vector(b, [self.tensor_index[n] for n in self.graph.outputs])
        ops_vec = _vector(b, fb.SubGraphStartOperatorsVector, operators, b.PrependUOffsetTRelative)
        name = b.CreateString(self.graph.name or ("main" if s == 0 else f"subgraph_{s}"))
        fb.SubGraphStart(b)
        fb.SubGraphAddTensors(b, tensors_vec)
        fb.SubGraphAddInputs(b, inputs)
        fb.SubGraphAddOutputs(b, outputs)
        fb.SubGraphAddOperators(b, ops_vec)
        fb.SubGraphAddName(b, name)
        return fb.SubGraphEnd(b)

    def _opcode_tables(self) -> list[int]:
        b = self.b
        tables = []
        for code, custom, version in self.opcodes:
            custom_name = b.CreateString(custom) if custom else None
            fb.OperatorCodeStart(b)
            fb.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, PLACEHOLDER_FOR_GREATER_OP_CODES))
            fb.OperatorCodeAddBuiltinCode(b, code)
            fb.OperatorCodeAddVersion(b, version)
            if custom_name is not None:
                fb.OperatorCodeAddCustomCode(b, custom_name)
            tables.append(fb.OperatorCodeEnd(b))
        return tables

    def _buffer_tables(self) -> list[int]:
        b = self.b
        tables = []
        # Weights first, written back to front, so that the big payloads sit at the end of
        # the file and the tables stay together at the front.
        data_offsets = []
        for i, data in enumerate(self.buffers):
            data_offsets.append(None if data is None else _aligned_bytes(b, data))
            if self.consume and data is not None:
                self._release_buffer(i)
        for off in data_offsets:
            fb.BufferStart(b)
            if off is not None:
                fb.BufferAddData(b, off)
            tables.append(fb.BufferEnd(b))
        return tables

    def _release_buffer(self, index: int) -> None:
        from ..memory import release_file_pages

        self.buffers[index] = None
        for graph, name in self.names_of_buffer.get(index, ()):
            t = graph.tensors[name]
            if t.data is not None:
                if t.data.base is not None:
                    release_file_pages(t.data)
                t.data = None

    def _tflm_metadata_buffer(self) -> int | None:
        """Appends the value tables of the look-up-table tensors and the metadata that names
        them; returns the metadata's buffer (None when no tensor was compressed)."""
        subgraphs = []
        for (_, index, _), luts in zip(self.layouts, self.luts):
            entries = []
            for name, encoded in luts.items():
                self.buffers.append(encoded.values)
                entries.append(tflm.LutEntry(index[name], len(self.buffers) - 1, encoded.bits))
            subgraphs.append(entries)
        if not any(subgraphs):
            return None
        self.buffers.append(np.frombuffer(tflm.metadata_bytes(subgraphs), np.uint8))
        return len(self.buffers) - 1

    def build(self) -> memoryview:
        """The model, as a view of the builder's buffer (no copy of the weights is made
        beyond the one into the builder)."""
        for graph in self.graphs:
            self._index_tensors(graph)
        metadata_buffer = self._tflm_metadata_buffer() if self.tflm_compression else None
        payload = sum(np.asarray(d).nbytes + BUFFER_ALIGNMENT + 16 for d in self.buffers if d is not None)
        tensors = sum(len(order) for order, _, _ in self.layouts)
        # Sparse constants' index arrays, with room for their tables and alignment.
        payload += sum(sp.index_bytes() + 64 * len(sp.levels) for sp in self.sparsity.values())
        self.b = b = _presized_builder(payload + (1 << 16) * len(self.graphs) + 512 * tensors)
        buffers = self._buffer_tables()
        subgraphs = [self._subgraph(s) for s in range(len(self.graphs))]
        self.graph, (self.tensor_order, self.tensor_index, self.buffer_of) = self.graphs[0], self.layouts[0]
        signature = self._signature()
        opcodes = self._opcode_tables()
        description = b.CreateString("toco-py")
        metadata_vec = None
        if metadata_buffer is not None:
            key = b.CreateString(tflm.METADATA_KEY)
            fb.MetadataStart(b)
            fb.MetadataAddName(b, key)
            fb.MetadataAddBuffer(b, metadata_buffer)
            metadata_vec = _vector(b, fb.ModelStartMetadataVector, [fb.MetadataEnd(b)],
                                   b.PrependUOffsetTRelative)
        opcodes_vec = _vector(b, fb.ModelStartOperatorCodesVector, opcodes, b.PrependUOffsetTRelative)
        subgraphs_vec = _vector(b, fb.ModelStartSubgraphsVector, subgraphs, b.PrependUOffsetTRelative)
        buffers_vec = _vector(b, fb.ModelStartBuffersVector, buffers, b.PrependUOffsetTRelative)
        sigs_vec = _vector(b, fb.ModelStartSignatureDefsVector, [signature], b.PrependUOffsetTRelative)
        fb.ModelStart(b)
        fb.ModelAddVersion(b, SCHEMA_VERSION)
        fb.ModelAddOperatorCodes(b, opcodes_vec)
        fb.ModelAddSubgraphs(b, subgraphs_vec)
        fb.ModelAddDescription(b, description)
        fb.ModelAddBuffers(b, buffers_vec)
        fb.ModelAddSignatureDefs(b, sigs_vec)
        if metadata_vec is not None:
            fb.ModelAddMetadata(b, metadata_vec)
        b.Finish(fb.ModelEnd(b), file_identifier=b"TFL3")
        return memoryview(b.Bytes)[b.Head():]


def model_view(graph: Graph, consume: bool = False, tflm_compression: bool = False) -> memoryview:
    """The .tflite as a view of the writer's buffer. consume=True drops the graph's weights as
    they are written (for callers that only want the file); tflm_compression=True writes
    clustered filters as TFLM's look-up-table tensors (for TFLM only)."""
    return _ModelWriter(graph, consume, tflm_compression).build()


def model_bytes(graph: Graph) -> bytes:
    return bytes(model_view(graph))


def write_atomic(path: str, data: bytes | memoryview) -> None:
    """Writes to a temporary file in the same folder, then renames it over `path`, so a
    failure never leaves a partial file behind."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ConversionError(f"cannot write {path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".toco-py-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
