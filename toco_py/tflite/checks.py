"""Bounds-checked access to an untrusted TFLite FlatBuffer, and the size checks the reader
applies before it trusts a number.

The generated schema classes (package `tflite`) read through a `flatbuffers.table.Table`
that trusts every offset: out of range it raises IndexError or struct.error, a negative
position silently reads from the end of the buffer, and a string slice silently comes back
short. `CheckedTable` is a drop-in Table that checks every read first, so the generated
accessors can be used on untrusted bytes; `adopt` gives one to each object an accessor
returns.

Why nothing here can loop or recurse: FlatBuffer offsets to tables, vectors and strings
are unsigned and relative, so they only ever point forward; the one signed offset (a
table's vtable) leads to a leaf that holds no offsets. The reader walks the schema's fixed
depth and never follows a structure recursively. Objects may still alias each other (a
thousand tensors sharing one long name), so every vector and string read is charged to a
work budget proportional to the file size.
"""
from __future__ import annotations

import struct

import numpy as np
from flatbuffers import number_types as N
from flatbuffers.table import Table

from ..errors import TocoError

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")

# A valid file costs about one unit per byte (vector elements plus string bytes); the rest
# is headroom. Only files whose objects alias each other come near the limit.
WORK_PER_BYTE = 4
WORK_BASE = 1 << 20


class InvalidModelError(TocoError):
    """The bytes are not a TFLite model this reader can use: malformed, truncated, or using
    a feature it does not support. The message is one line and names the problem."""


class Source:
    """The file's bytes, range checks on them, and the work budget of one read."""

    __slots__ = ("buf", "size", "work_left")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.size = len(buf)
        self.work_left = WORK_PER_BYTE * self.size + WORK_BASE

    def check(self, pos: int, nbytes: int, what: str) -> int:
        if pos < 0 or nbytes < 0 or pos + nbytes > self.size:
            raise InvalidModelError(
                f"{what} at offset {pos} ({nbytes} bytes) lies outside the {self.size}-byte file")
        return pos

    def u16(self, pos: int, what: str) -> int:
        return _U16.unpack_from(self.buf, self.check(pos, 2, what))[0]

    def u32(self, pos: int, what: str) -> int:
        return _U32.unpack_from(self.buf, self.check(pos, 4, what))[0]

    def i32(self, pos: int, what: str) -> int:
        return _I32.unpack_from(self.buf, self.check(pos, 4, what))[0]

    def spend(self, units: int) -> None:
        self.work_left -= units
        if self.work_left < 0:
            raise InvalidModelError("the tables refer to far more data than the file holds "
                                    "(objects aliasing each other)")


class CheckedTable(Table):
    """A flatbuffers Table whose every read is range checked (see the module docstring)."""

    __slots__ = ("src", "vtable", "vtable_size", "table_size")

    def __init__(self, src: Source, pos: int) -> None:
        # Table.__init__ is skipped on purpose: the checks below replace its one check.
        self.Bytes = src.buf
        self.Pos = pos
        self.src = src
        self.vtable = pos - src.i32(pos, "table")
        self.vtable_size = src.u16(self.vtable, "vtable")
        self.table_size = src.u16(self.vtable + 2, "vtable")
        if self.vtable_size < 4 or self.vtable_size % 2 or self.table_size < 4:
            raise InvalidModelError(f"the vtable of the table at offset {pos} is malformed")
        src.check(self.vtable, self.vtable_size, "vtable")
        src.check(pos, self.table_size, "table")

    def Offset(self, vtableOffset: int) -> int:
        # Slots past the vtable's end are fields the writer's schema did not have.
        if vtableOffset + 2 > self.vtable_size:
            return 0
        off = _U16.unpack_from(self.Bytes, self.vtable + vtableOffset)[0]
        if off >= self.table_size:
            raise InvalidModelError(f"a field of the table at offset {self.Pos} lies outside it")
        return off

    def Get(self, flags, off: int):
        self.src.check(off, flags.bytewidth, "value")
        return flags.py_type(flags.packer_type.unpack_from(self.Bytes, off)[0])

    def _follow(self, off: int, what: str) -> int:
        """The absolute position a uoffset stored at `off` points to."""
        target = off + self.src.u32(off, what)
        # Whatever an offset leads to starts with 4 bytes (vtable offset or length).
        self.src.check(target, 4, what)
        return target

    def Indirect(self, off: int) -> int:
        return self._follow(off, "table offset")

    def Vector(self, off: int) -> int:
        return self._follow(off + self.Pos, "vector") + 4

    def VectorLen(self, off: int) -> int:
        start = self._follow(off + self.Pos, "vector")
        length = self.src.u32(start, "vector length")
        # Each element takes at least a byte; element reads are checked one by one.
        self.src.check(start + 4, length, "vector")
        self.src.spend(length)
        return length

    def String(self, off: int) -> bytes:
        start = self._follow(off, "string")
        length = self.src.u32(start, "string length")
        self.src.check(start + 4, length + 1, "string")
        if self.Bytes[start + 4 + length] != 0:
            raise InvalidModelError(f"the string at offset {start} is not NUL-terminated")
        self.src.spend(length)
        return bytes(self.Bytes[start + 4 : start + 4 + length])

    def Union(self, t2: Table, off: int) -> None:
        t2.Pos = self._follow(off + self.Pos, "union")
        t2.Bytes = self.Bytes

    def GetVectorAsNumpy(self, flags, off: int) -> np.ndarray:
        length = self.VectorLen(off)
        start = self.Vector(off)
        self.src.check(start, length * flags.bytewidth, "vector")
        return np.frombuffer(self.Bytes, N.to_numpy_type(flags), length, start)

    def GetArrayAsNumpy(self, flags, off: int, length: int) -> np.ndarray:
        self.src.check(off, length * flags.bytewidth, "array")
        return np.frombuffer(self.Bytes, N.to_numpy_type(flags), length, off)


def open_root(cls, src: Source):
    """The root table of the file as an instance of the generated class `cls`."""
    obj = cls()
    obj._tab = CheckedTable(src, src.u32(0, "root offset"))
    return obj


def adopt(parent, child):
    """Gives `child` (made by one of `parent`'s generated accessors, which build unchecked
    tables) a checked table on the same source. None stays None."""
    if child is not None:
        child._tab = CheckedTable(parent._tab.src, child._tab.Pos)
    return child


def tables(parent, field: str) -> list:
    """All tables of a vector-of-tables field, each checked; [] when the field is absent."""
    count = getattr(parent, field + "Length")()
    get = getattr(parent, field)
    return [adopt(parent, get(j)) for j in range(count)]


def numbers(parent, field: str) -> np.ndarray:
    """A scalar vector field as a read-only numpy view; empty when the field is absent."""
    value = getattr(parent, field + "AsNumpy")()
    # The generated accessor returns the int 0 for an absent vector.
    return value if isinstance(value, np.ndarray) else np.zeros(0, np.int32)


def index(value: int, count: int, what: str, of: str) -> int:
    if not 0 <= value < count:
        raise InvalidModelError(f"{what} refers to {of} {value}, but there are only {count}")
    return value


def element_count(dims, limit: int, what: str) -> int:
    """The product of non-negative dims, refusing (early, before any big number is built)
    anything over `limit`."""
    count = 1
    for d in dims:
        count *= d
        if count > limit:
            raise InvalidModelError(f"{what} has shape {shape_text(dims)}, over {limit} elements")
    return count


def shape_text(dims) -> str:
    """A shape for a message, cut short: a malformed file may claim a rank in the millions."""
    dims = [int(d) for d in dims[:9]] + (["..."] if len(dims) > 9 else [])
    return "[" + ", ".join(map(str, dims)) + "]"


def decode_strings(raw: np.ndarray, count: int, what: str) -> list[bytes]:
    """A string tensor's buffer: int32 n, n + 1 int32 offsets from the buffer's start
    (the last is its end), then the bytes."""
    nbytes = raw.size
    if nbytes < 4:
        raise InvalidModelError(f"{what}: string buffer of {nbytes} bytes has no header")
    n = int(raw[:4].view("<i4")[0])
    if n != count or 4 * (n + 2) > nbytes:
        raise InvalidModelError(f"{what}: string buffer holds {n} strings in {nbytes} bytes, "
                                f"the shape needs {count}")
    offsets = raw[4 : 4 * (n + 2)].view("<i4").astype(np.int64)
    if offsets[0] != 4 * (n + 2) or offsets[-1] != nbytes or np.any(np.diff(offsets) < 0):
        raise InvalidModelError(f"{what}: string buffer offsets are out of order or range")
    data = raw.tobytes()
    return [data[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
