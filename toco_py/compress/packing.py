"""What a weight tensor of few distinct values would take as packed indices plus a value table
(ceil(log2 K) bits per weight): one table for the tensor, or one per output channel, whichever is
smaller. inspect reports it for clustered weights; the tensor itself stays dense in a .tflite."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .cluster import distinct_values
from .savings import gzip_size


@dataclass
class PackedForm:
    values: int              # distinct values in the tensor
    channel_values: int      # distinct values in its fullest output channel
    per_channel: bool        # whether the packed form has a table per channel
    bits: int                # per index
    bytes: int               # packed indices + table(s)


def index_bits(values: int) -> int:
    return max(1, math.ceil(math.log2(values))) if values > 1 else 1


def packed_form(w: np.ndarray, axis: int) -> PackedForm:
    """The smaller packed form of the weights: one table of the tensor's K values, or one
    table per channel along axis, each as long as the fullest channel's."""
    values, channel_values = distinct_values(w, None), distinct_values(w, axis)
    whole = _bytes(w.size, values, 1, w.itemsize)
    split = _bytes(w.size, channel_values, w.shape[axis], w.itemsize)
    per_channel = split < whole
    return PackedForm(values, channel_values, per_channel, index_bits(channel_values if per_channel else values),
                      min(whole, split))


def _bytes(count: int, values: int, tables: int, itemsize: int) -> int:
    return -(-count * index_bits(values) // 8) + tables * values * itemsize


def clustered_weights(graph, weight_ops: dict[str, tuple[int, int]]) -> list[dict]:
    """The weights of the weighted ops that a packed form would store in fewer bytes than the
    file does (clustered weights; float16 ones behind their DEQUANTIZE): name, dtype, stored and
    gzipped bytes, distinct values, packed bits and bytes."""
    rows, seen = [], set()
    for op in graph.ops:
        spec = weight_ops.get(op.type)
        if spec is None or len(op.inputs) <= spec[0] or not op.inputs[spec[0]]:
            continue
        name = op.inputs[spec[0]]
        producer = graph.producer(name)
        if producer is not None and producer.type == "DEQUANTIZE":
            name = producer.inputs[0]
        t = graph.tensors[name]
        if name in seen or not t.is_const or t.data.ndim <= spec[1] or t.data.dtype == object:
            continue
        seen.add(name)
        form = packed_form(t.data, spec[1])
        if form.bytes < t.data.nbytes:
            rows.append({"name": name, "dtype": t.dtype, "bytes": int(t.data.nbytes),
                         "gzip_bytes": gzip_size(t.data.tobytes()), "values": form.values,
                         "values_per_channel": form.channel_values, "table": "per channel" if form.per_channel
                         else "per tensor", "index_bits": form.bits, "packed_bytes": form.bytes})
    return rows
