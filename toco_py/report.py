"""Tables for the terminal: rich when stdout is a terminal, plain aligned text when piped."""
from __future__ import annotations

import sys
from collections.abc import Sequence


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]],
                file=None) -> None:
    file = file or sys.stdout
    cells = [[_fmt(c) for c in row] for row in rows]
    if file.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for col in columns:
            table.add_column(col)
        for row in cells:
            table.add_row(*row)
        Console(file=file).print(table)
        return
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    if title:
        print(title, file=file)
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip(), file=file)
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip(), file=file)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
