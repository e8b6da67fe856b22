"""Finding constant arrays with identical contents (the writer's shared buffers, the
merge_constants and dedupe_ops passes) without copying them: a CRC-32 over the array's own
memory sorts candidates into buckets, a byte comparison decides. zlib, not hashlib: hashlib
loads OpenSSL (~4 MB of RSS), and hashing tobytes() would copy every weight."""
from __future__ import annotations

import zlib

import numpy as np

_CHUNK = 1 << 20


def payload(data: np.ndarray) -> memoryview:
    """The bytes of an array, without a copy when it is C-contiguous."""
    return memoryview(np.ascontiguousarray(data).reshape(-1)).cast("B")


def checksum(data: np.ndarray) -> int:
    return zlib.crc32(payload(data))


def content_key(data: np.ndarray) -> tuple | None:
    """(dtype, shape, CRC-32): the same for arrays of equal type, shape and bytes (arrays with
    equal keys may still differ: confirm with same_content). None for arrays of Python objects
    (strings), which have no bytes to compare."""
    if data.dtype.hasobject:
        return None
    return data.dtype.str, data.shape, checksum(data)


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    """The arrays' memory holds the same bytes (compared a chunk at a time: no big temporary)."""
    x, y = np.frombuffer(payload(a), np.uint8), np.frombuffer(payload(b), np.uint8)
    if x.size != y.size:
        return False
    return all(np.array_equal(x[i : i + _CHUNK], y[i : i + _CHUNK]) for i in range(0, x.size, _CHUNK))


def same_content(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal type, shape and bytes (not numeric equality: -0.0 and NaN payloads count)."""
    if a is b:
        return True
    if a.dtype != b.dtype or a.shape != b.shape or a.dtype.hasobject:
        return False
    return same_bytes(a, b)
