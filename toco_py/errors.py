"""Errors that reach the user as one line and a non-zero exit code, never a traceback.

Whose fault an error is decides its exit code and its wording:
- The user's (exit 2, a TocoError): every condition the code checks explicitly about the
  input and the flags raises a TocoError that names it and the fix. One classification is
  implicit: an op's shape rule that fails on its inputs (a Conv2D fed a vector), wherever
  shapes are inferred, means the graph is malformed (passes/propagate_shapes.check_op).
- Ours (exit 3): any other exception: a TypeError, KeyError, IndexError... raised inside a
  TF-op mapper, a pass's rewrite, a kernel evaluated by constant folding after its shape rule
  accepted the inputs, the quantizer, the writer or codegen. Where the code knows what it was
  doing, it raises an InternalError naming that (`pass fold_constants on node 'x'`), the
  original exception as its cause. The CLI asks for a report with the graph, and prints the
  traceback with --debug.
"""


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


class InternalError(Exception):
    """A bug of ours, met while doing `where` (e.g. "pass fold_constants on node 'x'"); the
    exception that revealed it is its __cause__. Deliberately no TocoError: nothing may
    mistake it for a problem of the input."""

    exit_code = 3

    def __init__(self, where: str) -> None:
        self.where = where
        super().__init__(where)


def internal_error_line(err: BaseException) -> str:
    """The one line that reports a bug of ours: where, what, and what to do."""
    where = f" ({err.where})" if isinstance(err, InternalError) else ""
    cause = err.__cause__ if isinstance(err, InternalError) and err.__cause__ else err
    what = " ".join(str(cause).split())  # one line, whatever the exception says
    return (f"internal error in toco-py{where}: {type(cause).__name__}: {what}; please report "
            "it with the graph, or rerun with --debug for the traceback")


def op_listing(by_type: dict[str, list[str]], shown: int = 5) -> str:
    """'Type (node, node, ...); Other (node)': ops by type, the first `shown` nodes of each."""
    return "; ".join(f"{t} ({', '.join(names[:shown])}{', ...' if len(names) > shown else ''})"
                     for t, names in sorted(by_type.items()))
