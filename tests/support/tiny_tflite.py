"""Hand-built .tflite files for the reader tests: a one-op model whose every field can be
set to a wrong value, and the byte positions of the fields a fuzzer should aim at."""
from __future__ import annotations

import struct

import flatbuffers
import numpy as np
import tflite as fb
from tflite.BuiltinOptions import BuiltinOptions

X = {"name": "x", "shape": [1, 4]}
C = {"name": "c", "shape": [4], "buffer": 1}
Y = {"name": "y", "shape": [1, 4]}
FOUR_FLOATS = np.array([1.5, -2.0, 0.25, 8.0], np.float32).tobytes()
ADD = {"deprecated": 0, "builtin": 0}


def _ints(b: flatbuffers.Builder, values, dtype=np.int32) -> int:
    return b.CreateNumpyVector(np.asarray(values, dtype).reshape(-1))


def _offsets(b: flatbuffers.Builder, start_fn, offsets) -> int:
    start_fn(b, len(offsets))
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _buffer(b, data) -> int:
    """data: None (empty), bytes (inline) or (offset, size) of data outside the FlatBuffer."""
    vec = b.CreateByteVector(data) if isinstance(data, bytes) else None
    fb.BufferStart(b)
    if vec is not None:
        fb.BufferAddData(b, vec)
    if isinstance(data, tuple):
        fb.BufferAddOffset(b, data[0])
        fb.BufferAddSize(b, data[1])
    return fb.BufferEnd(b)


def _quant(b, q: dict) -> int:
    vecs = {k: _ints(b, q[k], np.float32) for k in ("min", "max", "scale") if k in q}
    zp = _ints(b, q["zero_point"], np.int64) if "zero_point" in q else None
    fb.QuantizationParametersStart(b)
    for key, add in (("min", fb.QuantizationParametersAddMin),
                     ("max", fb.QuantizationParametersAddMax),
                     ("scale", fb.QuantizationParametersAddScale)):
        if key in vecs:
            add(b, vecs[key])
    if zp is not None:
        fb.QuantizationParametersAddZeroPoint(b, zp)
    fb.QuantizationParametersAddQuantizedDimension(b, q.get("axis", 0))
    return fb.QuantizationParametersEnd(b)


def _tensor(b, t: dict) -> int:
    name = b.CreateString(t["name"]) if t.get("name") is not None else None
    shape = _ints(b, t["shape"])
    signature = _ints(b, t["signature"]) if "signature" in t else None
    quant = _quant(b, t["quant"]) if "quant" in t else None
    fb.TensorStart(b)
    fb.TensorAddShape(b, shape)
    if signature is not None:
        fb.TensorAddShapeSignature(b, signature)
    fb.TensorAddType(b, t.get("type", 0))
    fb.TensorAddBuffer(b, t.get("buffer", 0))
    if name is not None:
        fb.TensorAddName(b, name)
    if quant is not None:
        fb.TensorAddQuantization(b, quant)
    if "has_rank" in t:
        fb.TensorAddHasRank(b, t["has_rank"])
    return fb.TensorEnd(b)


def _options(b, options) -> tuple[int, int] | None:
    """options: None, or (table name, {schema field: value})."""
    if options is None:
        return None
    table, values = options
    getattr(fb, f"{table}Start")(b)
    for name, value in values.items():
        getattr(fb, f"{table}Add{name}")(b, value)
    return getattr(BuiltinOptions, table), getattr(fb, f"{table}End")(b)


def _operator(b, inputs, outputs, opcode_index, options) -> int:
    opts = _options(b, options)
    ins, outs = _ints(b, inputs), _ints(b, outputs)
    fb.OperatorStart(b)
    fb.OperatorAddOpcodeIndex(b, opcode_index)
    fb.OperatorAddInputs(b, ins)
    fb.OperatorAddOutputs(b, outs)
    if opts is not None:
        fb.OperatorAddBuiltinOptionsType(b, opts[0])
        fb.OperatorAddBuiltinOptions(b, opts[1])
    return fb.OperatorEnd(b)


def _opcode(b, code: dict) -> int:
    custom = b.CreateString(code["custom"]) if "custom" in code else None
    fb.OperatorCodeStart(b)
    fb.OperatorCodeAddDeprecatedBuiltinCode(b, code["deprecated"])
    fb.OperatorCodeAddBuiltinCode(b, code["builtin"])
    fb.OperatorCodeAddVersion(b, code.get("version", 1))
    if custom is not None:
        fb.OperatorCodeAddCustomCode(b, custom)
    return fb.OperatorCodeEnd(b)


def tiny_model(tensors=(X, C, Y), buffers=(None, FOUR_FLOATS), op_inputs=(0, 1), op_outputs=(2,),
               sg_inputs=(0,), sg_outputs=(2,), opcode=ADD, opcode_index=0,
               options=("AddOptions", {}), version=3, identifier=b"TFL3", tail=b"") -> bytes:
    """y = ADD(x, c) with c constant, every field overridable; `tail` is appended after
    the FlatBuffer (where external buffers point)."""
    b = flatbuffers.Builder(1024)
    buffer_tables = [_buffer(b, d) for d in buffers]
    tensor_tables = [_tensor(b, t) for t in tensors]
    op = _operator(b, op_inputs, op_outputs, opcode_index, options)
    tensors_vec = _offsets(b, fb.SubGraphStartTensorsVector, tensor_tables)
    ops_vec = _offsets(b, fb.SubGraphStartOperatorsVector, [op])
    ins, outs = _ints(b, sg_inputs), _ints(b, sg_outputs)
    fb.SubGraphStart(b)
    fb.SubGraphAddTensors(b, tensors_vec)
    fb.SubGraphAddInputs(b, ins)
    fb.SubGraphAddOutputs(b, outs)
    fb.SubGraphAddOperators(b, ops_vec)
    subgraph = fb.SubGraphEnd(b)
    opcodes_vec = _offsets(b, fb.ModelStartOperatorCodesVector, [_opcode(b, opcode)])
    subgraphs_vec = _offsets(b, fb.ModelStartSubgraphsVector, [subgraph])
    buffers_vec = _offsets(b, fb.ModelStartBuffersVector, buffer_tables)
    fb.ModelStart(b)
    fb.ModelAddVersion(b, version)
    fb.ModelAddOperatorCodes(b, opcodes_vec)
    fb.ModelAddSubgraphs(b, subgraphs_vec)
    fb.ModelAddBuffers(b, buffers_vec)
    b.Finish(fb.ModelEnd(b), file_identifier=identifier)
    return bytes(b.Output()) + tail


# ---- fuzzing targets ----------------------------------------------------------------------

def _vtable(obj) -> tuple[int, int]:
    """(position, size in bytes) of a table's vtable."""
    tab = obj._tab
    pos = tab.Pos - struct.unpack_from("<i", tab.Bytes, tab.Pos)[0]
    return pos, struct.unpack_from("<H", tab.Bytes, pos)[0]


def _fields(obj, slots) -> list[int]:
    """Positions of the fields in `slots` that the table has."""
    tab = obj._tab
    return [tab.Pos + tab.Offset(s) for s in slots if tab.Offset(s)]


def _vector_positions(obj, slot, width=4) -> list[int]:
    """The length and every element of a vector field."""
    o = obj._tab.Offset(slot)
    if not o:
        return []
    start = obj._tab.Vector(o)
    return [start - 4] + list(range(start, start + width * obj._tab.VectorLen(o), width))


# Options tables whose fields name subgraphs (IF, WHILE, CALL_ONCE): all int slots 4 and 6.
_SUBGRAPH_OPTIONS = (BuiltinOptions.IfOptions, BuiltinOptions.WhileOptions,
                     BuiltinOptions.CallOnceOptions)


def _subgraph_fields(op) -> list[int]:
    """Positions of an op's subgraph indices (then/else, cond/body, init)."""
    if op.BuiltinOptionsType() not in _SUBGRAPH_OPTIONS:
        return []
    table = op.BuiltinOptions()
    return [table.Pos + table.Offset(slot) for slot in (4, 6) if table.Offset(slot)]


# SparseIndexVector 1, 2, 3: the element width of each.
_INDEX_VECTORS = {1: (fb.Int32Vector, 4), 2: (fb.Uint16Vector, 2), 3: (fb.Uint8Vector, 1)}


def _walk_sparsity(s, found: list, offsets: list[int], index: list[int]) -> None:
    """A SparsityParameters' tables; its traversal order, block map, dense sizes, index
    types and index values count as indices."""
    found.append(s)
    offsets += _fields(s, (4, 6, 8))
    index += _vector_positions(s, 4)[1:] + _vector_positions(s, 6)[1:]
    for d in (s.DimMetadata(j) for j in range(s.DimMetadataLength())):
        found.append(d)
        offsets += _fields(d, (10, 14))
        index += _fields(d, (6, 8, 12))
        for kind, table in ((d.ArraySegmentsType(), d.ArraySegments()),
                            (d.ArrayIndicesType(), d.ArrayIndices())):
            if table is None or kind not in _INDEX_VECTORS:
                continue
            cls, width = _INDEX_VECTORS[kind]
            vector = cls()
            vector.Init(table.Bytes, table.Pos)
            found.append(vector)
            offsets += _vector_positions(vector, 4, width)[:1]
            index += _vector_positions(vector, 4, width)[1:]


def _walk(m) -> tuple[list, list[int], list[int], list[int]]:
    """Every table of a model, plus positions of offset fields, of index fields and of the
    subgraph indices ops hold."""
    found, offsets, index, subgraph = [m], _fields(m, range(6, 20, 2)), [], []
    found += [m.Buffers(i) for i in range(m.BuffersLength())]
    found += [m.OperatorCodes(i) for i in range(m.OperatorCodesLength())]
    for s in range(m.SubgraphsLength()):
        sg = m.Subgraphs(s)
        found.append(sg)
        offsets += _fields(sg, (4, 6, 8, 10, 12))
        index += _vector_positions(sg, 6)[1:] + _vector_positions(sg, 8)[1:]
        for t in (sg.Tensors(i) for i in range(sg.TensorsLength())):
            found += [t] + ([t.Quantization()] if t.Quantization() is not None else [])
            offsets += _fields(t, (4, 10, 12, 16, 18)) + _vector_positions(t, 4)[:1]
            index += _fields(t, (6, 8))
            if t.Sparsity() is not None:
                _walk_sparsity(t.Sparsity(), found, offsets, index)
        for op in (sg.Operators(i) for i in range(sg.OperatorsLength())):
            found.append(op)
            offsets += _fields(op, (6, 8, 12))
            index += _vector_positions(op, 6)[1:] + _vector_positions(op, 8)[1:]
            index += _fields(op, (4, 10))
            subgraph += _subgraph_fields(op)
    return found, offsets, index, subgraph


def field_positions(data: bytes) -> dict[str, list[int]]:
    """Byte positions in a valid model, read with the plain generated classes:
    'structure' (table -> vtable offsets, vtables, offset fields, vector lengths), 'index'
    (tensor, buffer, type and opcode indices, which a reader must range-check), 'vtable'
    (vtable field entries: zeroing one drops a field, which the schema allows for any) and
    'subgraph' (the subgraph indices of IF, WHILE and CALL_ONCE options; empty if none)."""
    found, offsets, index, subgraph = _walk(fb.Model.GetRootAs(data, 0))
    vtables = {_vtable(t) for t in found}
    entries = [p for pos, size in vtables for p in range(pos + 4, pos + size, 2)]
    structure = [t._tab.Pos for t in found] + [p for pos, _ in vtables for p in (pos, pos + 2)]
    return {"structure": sorted(set(structure + entries + offsets)),
            "index": sorted(set(index)), "vtable": sorted(set(entries)),
            "subgraph": sorted(set(subgraph))}
