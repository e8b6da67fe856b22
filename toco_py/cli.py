"""The `toco-py` command line. Heavy modules load inside each command so startup stays fast."""
from __future__ import annotations

import sys

import click

from .errors import TocoError


def parse_input_shapes(text: str) -> list[tuple[int, ...]]:
    """TOCO syntax: one shape per input, ':' between inputs, ',' between dims ('' = scalar)."""
    shapes = []
    for part in text.split(":"):
        dims = []
        for d in filter(None, (s.strip() for s in part.split(","))):
            try:
                value = int(d)
            except ValueError:
                raise TocoError(
                    f"--input_shapes {text!r}: {d!r} is not an integer; write e.g. "
                    "--input_shapes=1,224,224,3:1,10") from None
            if value < 0:
                raise TocoError(f"--input_shapes {text!r}: dimension {value} is negative")
            dims.append(value)
        shapes.append(tuple(dims))
    return shapes


def parse_arrays(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise TocoError(f"empty array list {text!r}; name tensors separated by commas")
    return names


def _stderr(msg: str) -> None:
    click.echo(msg, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="toco-py")
def cli() -> None:
    """Convert frozen TensorFlow GraphDefs to TensorFlow Lite models."""


@cli.command()
@click.option("--graph_def_file", "--graph-def-file", "graph_def_file", required=True,
              metavar="FILE.pb", help="Frozen TensorFlow GraphDef to convert (binary .pb or text .pbtxt).")
@click.option("--output_file", "--output-file", "-o", "output_file", required=True,
              metavar="FILE.tflite", help="Where to write the TFLite model (written atomically).")
@click.option("--input_arrays", "--input-arrays", "input_arrays", metavar="NAMES",
              help="Comma-separated input tensor names. Default: the placeholders the outputs need.")
@click.option("--output_arrays", "--output-arrays", "output_arrays", metavar="NAMES",
              help="Comma-separated output tensor names. Default: tensors nothing consumes "
                   "(training-only sinks ignored).")
@click.option("--input_shapes", "--input-shapes", "input_shapes", metavar="SHAPES",
              help="Input shapes in TOCO syntax, one per input: 1,224,224,3:1,10. "
                   "Needed when an input's shape is not fully known.")
@click.option("--allow_custom_ops", "--allow-custom-ops", "allow_custom_ops", is_flag=True,
              help="Emit ops with no TFLite builtin as custom ops instead of failing.")
@click.option("--fold_limit_mb", "--fold-limit-mb", "fold_limit_mb", type=click.FloatRange(min=0),
              default=64, show_default=True,
              help="Constant folding never creates a constant bigger than this (MiB) that is also "
                   "bigger than the constants it replaces.")
@click.option("-v", "--verbose", is_flag=True, help="Log each rewrite the passes make.")
def convert(graph_def_file, output_file, input_arrays, output_arrays, input_shapes,
            allow_custom_ops, fold_limit_mb, verbose) -> None:
    """Convert a frozen GraphDef to a .tflite model."""
    from . import api

    result = api.convert(
        graph_def_file, output_file,
        input_arrays=parse_arrays(input_arrays),
        output_arrays=parse_arrays(output_arrays),
        input_shapes=parse_input_shapes(input_shapes) if input_shapes is not None else None,
        allow_custom_ops=allow_custom_ops,
        log=_stderr if verbose else None,
        fold_limit=int(fold_limit_mb * (1 << 20)),
    )
    for note in result.notes:
        _stderr(note)
    if verbose:
        for name, count in sorted(result.pass_counts.items()):
            _stderr(f"{name}: {count}")
    _stderr(f"wrote {output_file}: {len(result.graph.ops)} ops, {len(result.model)} bytes")


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        _stderr("aborted")
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(2)
    except TocoError as err:
        _stderr(f"error: {err}")
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        _stderr("interrupted")
        sys.exit(130)
    except MemoryError:
        _stderr("error: out of memory")
        sys.exit(2)
    except Exception as err:  # a bug of ours: still one line, and a distinct exit code
        _stderr(f"internal error: {type(err).__name__}: {err} (please report this with the model)")
        sys.exit(3)


if __name__ == "__main__":
    main()
