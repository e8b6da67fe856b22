"""Progress of long work (calibration, the --max_arena tiling search) on a terminal."""
from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def with_progress(items: Iterable[T], total: int, description: str) -> Iterator[T]:
    """The items, with a transient rich progress bar on stderr when it is a terminal; plainly
    otherwise (CI logs stay clean)."""
    if not sys.stderr.isatty():
        yield from items
        return
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)
