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
        parts = [f"{t} ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})"
                 for t, names in sorted(by_type.items())]
        super().__init__(f"unsupported operations: {'; '.join(parts)}. {hint}")
