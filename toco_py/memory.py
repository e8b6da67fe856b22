"""Keeps freed weight buffers from lingering in the process (peak memory of big conversions)."""
from __future__ import annotations

import ctypes
import ctypes.util

# glibc raises its mmap threshold after large blocks are freed, after which big arrays come
# from the heap and their memory is not returned when freed. A fixed threshold keeps every
# large array in its own mapping, released the moment the array is.
_M_MMAP_THRESHOLD = -3
_THRESHOLD_BYTES = 1 << 20


def release_freed_memory_promptly() -> None:
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(_M_MMAP_THRESHOLD, _THRESHOLD_BYTES)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune
