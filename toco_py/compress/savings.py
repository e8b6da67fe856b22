"""What each compression technique saved, in the file and gzipped, measured on the written
model with and without the technique (never estimated): rows of (technique, file bytes saved,
gzip bytes saved) that the convert summary, inspect and the benchmarks print alike."""
from __future__ import annotations

import gzip
from dataclasses import dataclass

GZIP_LEVEL = 9


@dataclass
class Saving:
    technique: str          # e.g. "clustering (K=16 per tensor)"
    file_bytes: int         # the file's size without the technique less its size with it
    gzip_bytes: int | None  # the same gzipped (level 9); None where it cannot be measured

    def row(self) -> tuple:
        return (self.technique, self.file_bytes, "?" if self.gzip_bytes is None else self.gzip_bytes)


COLUMNS = ("technique", "file bytes saved", "gzip bytes saved")


def gzip_size(data: bytes | memoryview) -> int:
    """Bytes of the data gzipped at level 9 (no timestamp: the same data, the same size)."""
    return len(gzip.compress(bytes(data), GZIP_LEVEL, mtime=0))


def measured(technique: str, without: bytes | memoryview, file_bytes: int, gzip_bytes: int) -> Saving:
    """The saving of a technique from the model written without it, and the sizes of the
    file with it (file_bytes, gzip_bytes)."""
    return Saving(technique, len(without) - file_bytes, gzip_size(without) - gzip_bytes)


def as_json(savings: list[Saving]) -> list[dict]:
    return [{"technique": s.technique, "file_bytes_saved": s.file_bytes, "gzip_bytes_saved": s.gzip_bytes}
            for s in savings]
