"""A pruned and clustered filter in a C bundle without its zeros: a bitmap of the nonzero
elements, packed indices of the nonzero ones only (toco_py/lut.py's bit order) into tables
that hold no zero, and a rank table so that a kernel finds any element's index by counting
the bitmap's bits over at most one span (tk_lut_rank in kernels/toco_kernels.h).

At 50% sparsity and 16 clusters (zero one of them), an element takes 1 bit of bitmap, half
of a 4-bit index and 32 / RANK_SPAN bits of ranks: 3.25 bits, against 4 with every element
indexed. Only the bundle reads this form; TFLM's compression metadata has no zero skipping.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .. import lut

RANK_SPAN = 128  # elements per entry of the rank table: TK_LUT_RANK_SPAN (a test checks)


@dataclass
class NonzeroLut:
    bits: int              # index width
    nonzero: np.ndarray    # uint8: bit e (high-order bits first) set when element e is nonzero
    ranks: np.ndarray      # uint32: the nonzero elements before element r * RANK_SPAN
    indices: np.ndarray    # uint8: the nonzero elements' indices, packed
    values: np.ndarray     # [tables, stride]: each table's nonzero values, increasing

    @property
    def stride(self) -> int:
        return int(self.values.shape[1])

    @property
    def nbytes(self) -> int:
        return int(self.nonzero.nbytes + self.ranks.nbytes + self.indices.nbytes + self.values.nbytes)


def is_nonzero(elements: np.ndarray) -> np.ndarray:
    """By bits, so that a float -0.0 keeps its sign as a table value."""
    elements = np.asarray(elements)
    return elements.view(f"u{elements.itemsize}") != 0


def encode(elements: np.ndarray, tables: np.ndarray, widths: Iterable[int]) -> NonzeroLut | None:
    """elements: a filter's values in the order the kernel reads them; tables: the table
    (output channel, or 0 for all) of each. None when no width holds the most nonzero
    values of a table."""
    elements, tables = np.asarray(elements).ravel(), np.asarray(tables).ravel()
    live = is_nonzero(elements)
    table, value = tables[live], elements[live]
    order = np.lexsort((value, table))  # by table, then by value
    table, value = table[order], value[order]
    new = np.ones(value.size, bool)
    new[1:] = (table[1:] != table[:-1]) | (value[1:] != value[:-1])
    distinct = np.cumsum(new) - 1                      # the (table, value) pair of each
    count = int(tables.max(initial=0)) + 1
    first = np.searchsorted(table[new], np.arange(count))  # each table's first pair
    code = distinct - first[table]
    stride = max(int(code.max(initial=0)) + 1, 1)
    bits = next((w for w in sorted(widths) if stride <= 1 << w), None)
    if bits is None:
        return None
    values = np.zeros((count, stride), elements.dtype)
    values[table[new], code[new]] = value[new]
    codes = np.empty(value.size, np.int64)
    codes[order] = code
    before = np.concatenate([[0], np.cumsum(live)])[np.arange(0, elements.size, RANK_SPAN)]
    return NonzeroLut(bits, np.packbits(live), before.astype(np.uint32), lut.pack_indices(codes, bits), values)


def smallest(data: np.ndarray, axes: Iterable[int | None], widths: Iterable[int],
             order: np.ndarray | None = None) -> NonzeroLut | None:
    """The fewest bytes among the encodings with one table (axis None) or one per channel
    along an axis; order: the flat indices of data in the kernel's reading order (None:
    as it is)."""
    data = np.asarray(data)
    flat = data.ravel() if order is None else data.ravel()[order]
    best = None
    for axis in axes:
        if axis is None:
            tables = np.zeros(flat.size, np.int64)
        else:
            channel = np.arange(data.shape[axis]).reshape([-1 if a == axis else 1 for a in range(data.ndim)])
            tables = np.broadcast_to(channel, data.shape).ravel()
            tables = tables if order is None else tables[order]
        encoded = encode(flat, tables, widths)
        if encoded is not None and (best is None or encoded.nbytes < best.nbytes):
            best = encoded
    return best
