"""The const arrays of a bundle's NAME_weights.c: every value derived from the model.

NAME.c keeps only the op sequence; whatever the lowerings compute from the model goes here,
next to the weights: the constant tensors, repacked copies of filters (see `pack_blocks`),
per-channel multipliers and shifts, lookup tables, long option arrays and parameter
structs. Identical arrays are written once. Beside them, the one writable array: the scratch
that kernels needing working memory share (calls never overlap), sized for the largest.
Symbols start with the bundle's name, so that two bundles link into one program.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import cformat

# Output channels per block of a packed filter; they must equal TK_F32_LANES and
# TK_S8_LANES in kernels/toco_kernels.h (a test checks).
F32_LANES = 8
S8_LANES = 16


def pack_blocks(rows: np.ndarray, lanes: int) -> np.ndarray:
    """[O, ...] -> [ceil(O / lanes), prod(...), lanes]: channel o of a block is lane o % lanes,
    the rows past O are zeros. The kernels then read a block's channels side by side for
    each tap, so their innermost loop runs over contiguous lanes (which vectorizes) while
    every channel still sums its taps in the model's order."""
    count = rows.shape[0]
    flat = rows.reshape(count, -1)
    blocks = -(-count // lanes)
    padded = np.zeros((blocks * lanes, flat.shape[1]), rows.dtype)
    padded[:count] = flat
    return np.ascontiguousarray(padded.reshape(blocks, lanes, -1).transpose(0, 2, 1))



def block_order(shape: tuple[int, ...], lanes: int) -> np.ndarray:
    """The flat indices of a filter [O, ...] in pack_blocks' order without the padding lanes
    of the last block: the order in which the *_lut kernels read a clustered filter."""
    rows = shape[0]
    order = pack_blocks(np.arange(int(np.prod(shape))).reshape(shape), lanes)
    last = rows - (order.shape[0] - 1) * lanes
    return np.concatenate([order[:-1].ravel(), order[-1][:, :last].ravel()])

@dataclass
class ConstArray:
    symbol: str
    ctype: str
    length: int
    comment: str
    values: np.ndarray | None = None  # tensor data (or a repacked copy), in dtype
    dtype: str = ""
    items: tuple[str, ...] = ()       # or C literals already written
    writable: bool = False            # the scratch: no initializer

    def definition(self) -> str:
        if self.writable:
            return f"{self.ctype} {self.symbol}[{self.length}] TK_ALIGN16;"
        if self.values is not None:
            body = cformat.initializer(self.values, self.dtype)
            return f"const {self.ctype} {self.symbol}[{self.length}] TK_ALIGN16 = {body};"
        return f"const {self.ctype} {self.symbol}[{self.length}] = {cformat.braces(list(self.items))};"

    def declaration(self) -> str:
        const = "" if self.writable else "const "
        return f"extern {const}{self.ctype} {self.symbol}[{self.length}];"


@dataclass
class ConstTable:
    """The arrays in order of first use, keyed so that each is written once."""
    prefix: str
    arrays: dict[tuple, ConstArray] = field(default_factory=dict)
    # Clustered filters stored as packed indices and tables: tensor key -> (bytes packed,
    # bytes the kernel's unpacked copy would take).
    luts: dict[str, tuple[int, int]] = field(default_factory=dict)
    nonzero_luts: set[str] = field(default_factory=set)  # those of them stored without their zeros

    def _add(self, key: tuple, array: ConstArray) -> str:
        self.arrays[key] = array
        return array.symbol

    def _count(self, kind: str) -> int:
        """Arrays of one kind ("tensor" or "params") so far: the next one's number."""
        return sum(1 for key in self.arrays if key[0] == kind)

    def tensor(self, name: str, values: np.ndarray, dtype: str, comment: str,
               layout: str = "") -> str:
        """A constant tensor's data (layout "") or a copy of it in another layout."""
        key = ("tensor", name, layout)
        if key not in self.arrays:
            symbol = f"{self.prefix}_w{self._count('tensor')}"
            self._add(key, ConstArray(symbol, cformat.C_TYPES[dtype], int(values.size), comment,
                                      values=values, dtype=dtype))
        return self.arrays[key].symbol

    def params(self, ctype: str, items: tuple[str, ...], comment: str) -> str:
        key = ("params", ctype, items)
        if key not in self.arrays:
            symbol = f"{self.prefix}_p{self._count('params')}"
            self._add(key, ConstArray(symbol, ctype, len(items), comment, items=items))
        return self.arrays[key].symbol

    def scratch(self, length: int, comment: str) -> str:
        """Working memory of `length` bytes for one kernel call (int8_t elements)."""
        key = ("scratch",)
        if key not in self.arrays:
            self._add(key, ConstArray(f"{self.prefix}_scratch", "int8_t", length, comment, writable=True))
        array = self.arrays[key]
        array.length = max(array.length, length)
        return array.symbol

    def weight_bytes(self) -> int:
        return sum(a.values.nbytes for a in self.arrays.values() if a.values is not None)

    def lut_bytes(self) -> tuple[int, int]:
        """(packed, unpacked) bytes of the clustered filters, summed."""
        return (sum(p for p, _ in self.luts.values()), sum(u for _, u in self.luts.values()))
