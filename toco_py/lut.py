"""Look-up-table weights: a constant tensor that takes few distinct values (clustered
weights), stored as packed bit-field indices plus a table of values.

One encoding serves both the C bundle (the kernels decode the indices in their inner loops)
and TFLM's compression metadata (tflite/tflm_compression.py), so that it is exactly TFLM's
LutTensor format: indices of `bits` bits, in the tensor's element order, packed from the
high-order bits of each byte towards the low-order ones with no padding between them (the
last byte padded with zero bits); one table for the tensor, or one per channel along an
axis (0 or the last), the tables concatenated, each `stride` values long (padded with
zeros).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass
class LutTensor:
    bits: int              # index width
    indices: np.ndarray    # uint8: the packed bit string
    values: np.ndarray     # [tables, stride] in the tensor's dtype
    axis: int | None       # the channel axis of the tables, None for one table

    @property
    def stride(self) -> int:
        return int(self.values.shape[1])

    @property
    def nbytes(self) -> int:
        return int(self.indices.nbytes + self.values.nbytes)


def distinct_values(data: np.ndarray, axis: int | None) -> int:
    """The most distinct values of one table: in the tensor, or in a channel along axis."""
    data = np.asarray(data)
    if axis is None:
        return int(np.unique(data).size)
    return max((int(np.unique(s).size) for s in np.moveaxis(data, axis, 0)), default=0)


def encode(data: np.ndarray, axis: int | None, bits: int) -> LutTensor:
    """The tensor as indices of `bits` bits into its table(s); it must take at most 2**bits
    values per table (distinct_values). The tables list their values in increasing order."""
    data = np.asarray(data)
    if axis is None:
        values, inverse = np.unique(data, return_inverse=True)
        tables, indices = [values], inverse.reshape(data.shape)
    else:
        pairs = [np.unique(s, return_inverse=True) for s in np.moveaxis(data, axis, 0)]
        tables = [p[0] for p in pairs]
        indices = np.moveaxis(np.stack([p[1].reshape(s.shape) for p, s in
                                        zip(pairs, np.moveaxis(data, axis, 0))]), 0, axis)
    stride = max(t.size for t in tables)
    if stride > 1 << bits:
        raise ValueError(f"{stride} distinct values do not fit {bits}-bit indices")
    table = np.zeros((len(tables), stride), data.dtype)
    for i, t in enumerate(tables):
        table[i, :t.size] = t
    return LutTensor(bits, pack_indices(indices, bits), table, axis)


def pack_indices(indices: np.ndarray, bits: int) -> np.ndarray:
    """Each index as `bits` bits, most significant first, one after another from the high
    bit of byte 0."""
    flat = np.ravel(indices).astype(np.uint32)
    shifts = np.arange(bits - 1, -1, -1, dtype=np.uint32)
    stream = ((flat[:, None] >> shifts) & 1).astype(np.uint8).ravel()
    return np.packbits(stream)  # big-endian bit order, zero-padded to a whole byte


def unpack_indices(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    stream = np.unpackbits(np.asarray(packed, np.uint8))[:count * bits].reshape(count, bits)
    weights = (1 << np.arange(bits - 1, -1, -1)).astype(np.int64)
    return stream.astype(np.int64) @ weights


def decode(lut: LutTensor, shape: Iterable[int]) -> np.ndarray:
    """The tensor of the given shape back from its indices and tables."""
    shape = tuple(int(d) for d in shape)
    count = int(np.prod(shape, dtype=np.int64))
    indices = unpack_indices(lut.indices, lut.bits, count).reshape(shape)
    if lut.axis is None:
        return lut.values[0][indices]
    channels = np.arange(shape[lut.axis]).reshape([-1 if a == lut.axis else 1 for a in range(len(shape))])
    return lut.values[channels, indices]


def smallest(data: np.ndarray, axes: Iterable[int | None], widths: Iterable[int]) -> LutTensor | None:
    """The fewest bytes among the encodings on these table axes and index widths, if it is
    smaller than the tensor itself; None otherwise."""
    data = np.asarray(data)
    best = None
    for axis in axes:
        count = distinct_values(data, axis)
        bits = next((w for w in sorted(widths) if count <= 1 << w), None)
        if bits is None:
            continue
        tables = 1 if axis is None else data.shape[axis]
        size = -(-data.size * bits // 8) + tables * count * data.itemsize
        if size < data.nbytes and (best is None or size < best[0]):
            best = (size, axis, bits)
    return None if best is None else encode(data, best[1], best[2])
