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


def release_file_pages(array) -> None:
    """Drops from memory the pages of a memory-mapped file that a dead constant viewed.

    The mapping is read-only, so this loses nothing: a later read of the same bytes (by
    another view) brings them back from the file. Without it every weight read once, e.g.
    to transpose it, would stay resident until the whole mapping is closed."""
    import mmap

    import numpy as np

    base = array
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    mapping = getattr(base, "obj", base)  # np.frombuffer keeps the exporter in a memoryview
    if not isinstance(mapping, mmap.mmap) or not hasattr(mapping, "madvise"):
        return
    start = np.frombuffer(mapping, np.uint8).ctypes.data
    first = array.ctypes.data - start
    page = mmap.PAGESIZE
    aligned_start = -(-first // page) * page
    aligned_end = (first + array.nbytes) // page * page
    if aligned_end > aligned_start:
        mapping.madvise(mmap.MADV_DONTNEED, aligned_start, aligned_end - aligned_start)
