"""Errors that reach the user as one line and a non-zero exit code, never a traceback."""


class TocoError(Exception):
    """A problem with the user's input or flags; the message names it and the fix."""

    exit_code = 2


class ConversionError(TocoError):
    """The graph cannot be converted as asked."""


class UnsupportedOpsError(ConversionError):
    """Ops were left without a TFLite builtin; lists all of them at once."""

    def __init__(self, by_type: dict[str, list[str]], hint: str) -> None:
        self.by_type = by_type
        super().__init__(f"unsupported operations: {op_listing(by_type)}. {hint}")


def op_listing(by_type: dict[str, list[str]], shown: int = 5) -> str:
    """'Type (node, node, ...); Other (node)': ops by type, the first `shown` nodes of each."""
    return "; ".join(f"{t} ({', '.join(names[:shown])}{', ...' if len(names) > shown else ''})"
                     for t, names in sorted(by_type.items()))
