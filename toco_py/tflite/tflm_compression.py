"""TFLM's compression metadata (`--tflm_compression`): clustered conv / FC filters written as
look-up-table tensors that TensorFlow Lite Micro decompresses when built with
USE_TFLM_COMPRESSION (tflite-micro: tensorflow/lite/micro/compression/metadata.fbs,
micro_allocator.cc, docs/compression.md).

The format, exactly as TFLM reads it:
- the compressed tensor keeps its type and shape, but its buffer holds the packed indices
  (toco_py/lut.py: `index_bitwidth` bits each, high-order bits first);
- its value tables live in a new buffer, in the tensor's type: one table when the tensor is
  not per-channel quantized, else one per channel along its quantized dimension (which
  must be 0 or the last), all of one length (TFLM takes the stride from the buffer's size);
- Model.metadata gains the entry "COMPRESSION_METADATA", whose buffer is the flatbuffer
  Metadata { schema_version: 1, subgraphs: [Subgraph { lut_tensors: [LutTensor { tensor,
  value_buffer, index_bitwidth }] }] } (subgraphs by index).

TFLM decompresses the filters of CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and
FULLY_CONNECTED (also CONCATENATION and ASSIGN_VARIABLE inputs, which we never compress),
in FLOAT32, INT8, INT16, INT32, INT64 and BOOL, with index widths 1 to 7
(LookupTableData::kMaxBitWidth). Other runtimes, LiteRT among them, do not read this
metadata: the file is for TFLM only.
"""
from __future__ import annotations

from dataclasses import dataclass

import flatbuffers
import numpy as np
from flatbuffers import number_types as N

from .. import lut
from ..ir import Graph
from .checks import CheckedTable, InvalidModelError, Source

METADATA_KEY = "COMPRESSION_METADATA"
SCHEMA_VERSION = 1
MAX_BITS = 7  # LookupTableData::kMaxBitWidth (and a channel stride of at most 128 values)
# The ops whose filter (input 1) TFLM's kernels decompress.
FILTER_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED")
# The types we compress, and those TFLM decompresses.
DTYPES = ("int8", "int16", "float32")
READ_TYPES = ("float32", "int8", "int16", "int32", "int64", "bool")


@dataclass
class LutEntry:
    """One LutTensor of the metadata."""
    tensor: int        # index of the tensor in its subgraph
    value_buffer: int  # index of the buffer holding its value tables
    index_bitwidth: int


def compressible(graph: Graph) -> dict[str, lut.LutTensor]:
    """The subgraph's constant filters that TFLM can read as look-up tables and that shrink
    by it, encoded: tensors read only as the filter of FILTER_OPS (TFLM decompresses nowhere
    else), of a type it decompresses, with at most 2**MAX_BITS values per table."""
    readers: dict[str, set[tuple[str, int]]] = {}
    for op in graph.ops:
        for i, name in enumerate(op.inputs):
            if name:
                readers.setdefault(name, set()).add((op.type, i))
    found = {}
    for name, uses in readers.items():
        t = graph.tensors[name]
        if (t.data is None or t.dtype not in DTYPES or not t.size or name in graph.outputs
                or any(op_type not in FILTER_OPS or i != 1 for op_type, i in uses)):
            continue
        try:
            axis = _table_axis_of(t.quant, len(t.shape), name)
        except InvalidModelError:
            continue  # a quantized dimension neither first nor last: TFLM cannot read it
        data = np.asarray(t.data)
        bits = max(1, (lut.distinct_values(data, axis) - 1).bit_length())
        if bits > MAX_BITS:
            continue
        encoded = lut.encode(data, axis, bits)
        if encoded.nbytes < data.nbytes:
            found[name] = encoded
    return found


def summary(graph: Graph) -> str:
    """What --tflm_compression does to the model (before it is written), one line."""
    found = [(t, graph_of.tensors[name]) for graph_of in graph.subgraphs or [graph]
             for name, t in compressible(graph_of).items()]
    if not found:
        return ("--tflm_compression: no conv / FC filter takes few enough values (at most 128 "
                "per table) to shrink as a TFLM look-up table; the file is unchanged")
    packed = sum(encoded.nbytes for encoded, _ in found)
    dense = sum(int(np.asarray(t.data).nbytes) for _, t in found)
    return (f"--tflm_compression: {len(found)} filters as TFLM look-up-table tensors, {packed} "
            f"bytes instead of {dense}; only TFLM built with USE_TFLM_COMPRESSION reads this "
            "file (LiteRT refuses it)")


def metadata_bytes(subgraphs: list[list[LutEntry]]) -> bytes:
    """The Metadata flatbuffer (metadata.fbs), subgraphs by index."""
    b = flatbuffers.Builder(256)
    tables = []
    for entries in subgraphs:
        luts = []
        for e in entries:
            b.StartObject(3)
            b.PrependInt32Slot(0, e.tensor, 0)
            b.PrependUint32Slot(1, e.value_buffer, 0)
            b.PrependUint8Slot(2, e.index_bitwidth, 0)
            luts.append(b.EndObject())
        vector = _offsets(b, luts)
        b.StartObject(1)
        b.PrependUOffsetTRelativeSlot(0, vector, 0)
        tables.append(b.EndObject())
    vector = _offsets(b, tables)
    b.StartObject(2)
    b.ForceDefaults(True)  # schema_version written out, though 1 is its default
    b.PrependUint32Slot(0, SCHEMA_VERSION, SCHEMA_VERSION)
    b.ForceDefaults(False)
    b.PrependUOffsetTRelativeSlot(1, vector, 0)
    b.Finish(b.EndObject())
    return bytes(b.Output())


def _offsets(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        b.PrependUOffsetTRelative(offset)
    return b.EndVector()


def read_metadata(data: bytes) -> tuple[int, list[list[LutEntry]]]:
    """(schema_version, the LutTensors of each subgraph) of a Metadata flatbuffer; malformed
    bytes raise InvalidModelError."""
    src = Source(bytes(data))
    root = CheckedTable(src, src.u32(0, "compression metadata root"))
    version = _field(root, 0, N.Uint32Flags, SCHEMA_VERSION)
    subgraphs = []
    for sub in _tables(root, 1):
        subgraphs.append([LutEntry(_field(t, 0, N.Int32Flags, 0), _field(t, 1, N.Uint32Flags, 0),
                                   _field(t, 2, N.Uint8Flags, 0)) for t in _tables(sub, 0)])
    return version, subgraphs


def _field(table: CheckedTable, slot: int, flags, default: int) -> int:
    offset = table.Offset(4 + 2 * slot)
    return int(table.Get(flags, offset + table.Pos)) if offset else default


def _tables(table: CheckedTable, slot: int) -> list[CheckedTable]:
    offset = table.Offset(4 + 2 * slot)
    if not offset:
        return []
    start, count = table.Vector(offset), table.VectorLen(offset)
    return [CheckedTable(table.src, table.Indirect(start + 4 * i)) for i in range(count)]


def lut_entries(metadata: bytes, subgraphs: int) -> dict[tuple[int, int], LutEntry]:
    """The LutTensors of a model's COMPRESSION_METADATA by (subgraph, tensor index), checked
    as TFLM checks them."""
    version, entries = read_metadata(metadata)
    if version > SCHEMA_VERSION:
        raise InvalidModelError(f"{METADATA_KEY} has schema version {version}; this reader "
                                f"knows version {SCHEMA_VERSION}")
    if len(entries) > subgraphs:
        raise InvalidModelError(f"{METADATA_KEY} describes {len(entries)} subgraphs of a "
                                f"model of {subgraphs}")
    found = {}
    for s, luts in enumerate(entries):
        for e in luts:
            if not 1 <= e.index_bitwidth <= MAX_BITS:
                raise InvalidModelError(f"{METADATA_KEY}: tensor {e.tensor} of subgraph {s} has "
                                        f"index_bitwidth {e.index_bitwidth}, not 1 to {MAX_BITS}")
            found[(s, e.tensor)] = e
    return found


def decompress(packed: np.ndarray, values: np.ndarray | None, bits: int, dtype: str, shape,
               quant, where: str) -> np.ndarray:
    """The bytes of a look-up-table tensor's dense data, from its buffer (the packed indices)
    and its value buffer, as TFLM decompresses it (one table per channel when the tensor is
    per-channel quantized)."""
    if dtype not in READ_TYPES:
        raise InvalidModelError(f"{where}: TFLM does not decompress {dtype} tensors")
    if -1 in shape:
        raise InvalidModelError(f"{where}: a compressed tensor must have a fully known shape")
    item = np.dtype(dtype).newbyteorder("<")
    count = int(np.prod(shape, dtype=np.int64))
    if values is None or values.size % item.itemsize:
        raise InvalidModelError(f"{where}: its {METADATA_KEY} value buffer holds "
                                f"{0 if values is None else values.size} bytes, no whole "
                                f"number of {dtype} values")
    table = np.frombuffer(values, item)
    axis = _table_axis_of(quant, len(shape), where)
    tables = 1 if axis is None else int(shape[axis])
    if not table.size or table.size % tables:
        raise InvalidModelError(f"{where}: {table.size} values do not make {tables} equal "
                                "value tables")
    if packed.size < -(-count * bits // 8):
        raise InvalidModelError(f"{where}: {packed.size} bytes hold fewer than its {count} "
                                f"{bits}-bit indices")
    encoded = lut.LutTensor(bits, packed, table.reshape(tables, -1), axis)
    if count and int(lut.unpack_indices(packed, bits, count).max()) >= encoded.stride:
        raise InvalidModelError(f"{where}: an index lies past its value table of {encoded.stride}")
    return np.frombuffer(lut.decode(encoded, shape).astype(item).tobytes(), np.uint8)


def _table_axis_of(quant, rank: int, where: str) -> int | None:
    if quant is None or np.size(quant.scale) <= 1:
        return None
    if quant.axis not in (0, rank - 1):
        raise InvalidModelError(f"{where}: TFLM decompresses per-channel tables along the "
                                f"first or last axis, not {quant.axis}")
    return int(quant.axis)
