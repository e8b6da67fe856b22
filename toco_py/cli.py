"""The `toco-py` command line. Heavy modules load inside each command so startup stays fast."""
from __future__ import annotations

import sys
import traceback

import click

from .codegen.target_names import TARGET_NAMES
from .compress.cli_options import build_cluster_options, build_prune_options, cluster_options, prune_options
from .errors import InternalError, TocoError, internal_error_line
from .quantize.cli_options import build_options, quantization_options
from .targets import TARGETS


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


def _op_summary(graph) -> str:
    """'N ops', or 'N ops in K subgraphs' for a model of several."""
    if not graph.subgraphs:
        return f"{len(graph.ops)} ops"
    return f"{sum(len(g.ops) for g in graph.subgraphs)} ops in {len(graph.subgraphs)} subgraphs"


def _stderr(msg: str) -> None:
    click.echo(msg, err=True)


# convert's flags choosing the part of a .pb to read: (name, metavar, convert's help, the
# help of the other commands that read a .pb).
_CUT_FLAGS = (
    ("input_arrays", "NAMES",
     "Comma-separated input tensor names. Default: the placeholders the outputs need.",
     "(.pb) Input tensor names, as for convert."),
    ("output_arrays", "NAMES",
     ("Comma-separated output tensor names. Default: tensors nothing consumes "
      "(training-only sinks ignored)."),
     "(.pb) Output tensor names, as for convert."),
    ("input_shapes", "SHAPES",
     ("Input shapes in TOCO syntax, one per input: 1,224,224,3:1,10. "
      "Needed when an input's shape is not fully known."),
     "(.pb) Input shapes, as for convert: 1,224,224,3:1,10."),
)


def _cut_options(fn, convert: bool = True):
    for name, metavar, convert_help, other_help in reversed(_CUT_FLAGS):
        fn = click.option(f"--{name}", f"--{name.replace('_', '-')}", name, metavar=metavar,
                          help=convert_help if convert else other_help)(fn)
    return fn


def _graph_cut_options(fn):
    """convert's flags choosing the part of a .pb to read, for the commands that read one."""
    return _cut_options(fn, convert=False)


def _graph_cut(input_arrays, output_arrays, input_shapes) -> dict:
    return {"input_arrays": parse_arrays(input_arrays), "output_arrays": parse_arrays(output_arrays),
            "input_shapes": parse_input_shapes(input_shapes) if input_shapes is not None else None}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="toco-py")
@click.option("--debug", is_flag=True,
              help="On an error, also print Python's traceback (for a bug report).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Convert frozen TensorFlow GraphDefs to TensorFlow Lite models."""
    ctx.ensure_object(dict)["debug"] = debug


def _tflm_compression_option(fn):
    return click.option(
        "--tflm_compression", "--tflm-compression", "tflm_compression", is_flag=True,
        help="Write conv / FC filters that take few values (clustered) as TFLM's look-up-table "
             "tensors (packed 1-7 bit indices + value tables, COMPRESSION_METADATA), which "
             "TFLM built with USE_TFLM_COMPRESSION decompresses; LiteRT cannot load such a file.")(fn)


@cli.command()
@click.option("--graph_def_file", "--graph-def-file", "graph_def_file", required=True,
              metavar="FILE.pb", help="Frozen TensorFlow GraphDef to convert (binary .pb or text .pbtxt).")
@click.option("--output_file", "--output-file", "-o", "output_file", required=True,
              metavar="FILE.tflite", help="Where to write the TFLite model (written atomically).")
@_cut_options
@click.option("--allow_custom_ops", "--allow-custom-ops", "allow_custom_ops", is_flag=True,
              help="Emit ops with no TFLite builtin as custom ops instead of failing.")
@click.option("--fold_limit_mb", "--fold-limit-mb", "fold_limit_mb", type=click.FloatRange(min=0),
              default=64, show_default=True,
              help="Constant folding never creates a constant bigger than this (MiB) that is also "
                   "bigger than the constants it replaces.")
@click.option("--drop_fake_quant", "--drop-fake-quant", "drop_fake_quant", is_flag=True,
              help="TOCO's flag: drop fake-quant nodes on activations in a float model instead "
                   "of keeping their rounding (--quantize int8 always takes their ranges).")
@click.option("--stateful_rnn", "--stateful-rnn", "stateful_rnn", is_flag=True,
              help="Fused LSTMs keep their state in the model from one invoke to the next (reset "
                   "by the runtime's reset_all_variables / the bundle's NAME_reset): state inputs "
                   "leave the interface, so the app calls the model once per token.")
@quantization_options
@prune_options
@cluster_options
@_tflm_compression_option
@click.option("--dump_graphviz_dir", "--dump-graphviz-dir", "dump_graphviz_dir", metavar="DIR",
              help="Also write DIR/before.dot (the graph as imported) and DIR/after.dot (as "
                   "written, after the passes and any quantization), as TOCO did.")
@click.option("-v", "--verbose", is_flag=True, help="Log each rewrite the passes make.")
def convert(graph_def_file, output_file, input_arrays, output_arrays, input_shapes,
            allow_custom_ops, fold_limit_mb, drop_fake_quant, stateful_rnn, prune, prune_schedule, prune_block,
            prune_method, prune_allocation, cluster, cluster_per_channel, cluster_seed, tflm_compression,
            dump_graphviz_dir, verbose,
            **quantization) -> None:
    """Convert a frozen GraphDef to a .tflite model."""
    from . import api
    from .memory import release_freed_memory_promptly

    release_freed_memory_promptly()
    pruning = build_prune_options(prune, prune_schedule, prune_block, prune_method, prune_allocation,
                                  quantization)
    quantize = build_options(**_calibration_for_pruning_only(quantization, pruning))
    clustering = build_cluster_options(cluster, cluster_per_channel, cluster_seed)
    cut = _graph_cut(input_arrays, output_arrays, input_shapes)
    on_import = None
    if dump_graphviz_dir:
        from .graphviz import dump_dir

        def on_import(graph):  # before the passes, so that it is there even when they fail
            _stderr(f"wrote {dump_dir(dump_graphviz_dir, 'before', graph)}")
    result = api.convert(
        graph_def_file, output_file, **cut,
        allow_custom_ops=allow_custom_ops,
        log=_stderr if verbose else None,
        fold_limit=int(fold_limit_mb * (1 << 20)),
        quantize=quantize,
        prune=pruning,
        drop_fake_quant=drop_fake_quant,
        stateful_rnn=stateful_rnn,
        cluster=clustering,
        tflm_compression=tflm_compression,
        # The after.dot picture needs the weights' shapes, which writing would drop.
        release_weights=not dump_graphviz_dir,
        on_import=on_import,
    )
    for note in result.notes:
        _stderr(note)
    if verbose:
        for name, count in sorted(result.pass_counts.items()):
            _stderr(f"{name}: {count}")
    if dump_graphviz_dir:
        _stderr(f"wrote {dump_dir(dump_graphviz_dir, 'after', result.graph)}")
    _wrote(output_file, result)


def _wrote(output_file, result) -> None:
    """The last lines of convert and quantize: the file, and what compression saved."""
    if not result.savings:
        _stderr(f"wrote {output_file}: {_op_summary(result.graph)}, {len(result.view)} bytes")
        return
    from .compress.savings import COLUMNS
    from .report import print_table

    _stderr(f"wrote {output_file}: {_op_summary(result.graph)}, {len(result.view)} bytes, "
            f"{result.gzip_bytes} gzipped (level 9)")
    print_table("saved by each technique (the file written without it, less the file)", COLUMNS,
                [s.row() for s in result.savings], file=sys.stderr)


@cli.command()
@click.argument("model", metavar="MODEL.pb|MODEL.tflite")
@click.option("--target", type=click.Choice(TARGETS), default="tflite", show_default=True,
              help="tflite: TFLite builtins; tflite-micro: the kernels TensorFlow Lite Micro "
                   "registers; codegen: the C kernels of `toco-py codegen`.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_graph_cut_options
def check(model, target, as_json, input_arrays, output_arrays, input_shapes) -> None:
    """List the ops a target cannot run, after every rewrite of convert (a .pb goes through
    the frontend and all passes; ops the passes remove are not reported). Exit code 1 when
    some op is unsupported."""
    from .check import check_command

    if not check_command(model, target, as_json, _graph_cut(input_arrays, output_arrays, input_shapes)):
        sys.exit(1)


@cli.command()
@click.argument("model", metavar="MODEL.pb|MODEL.tflite")
@click.option("--tensors", "with_tensors", is_flag=True, help="Also list every tensor.")
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON.")
@click.option("--graphviz", "picture", metavar="OUT.dot|OUT.svg|OUT.png",
              help="Also draw the model (a .pb as imported, before any pass); .svg/.png/.pdf "
                   "need Graphviz's `dot` on PATH.")
@_graph_cut_options
def inspect(model, with_tensors, as_json, picture, input_arrays, output_arrays, input_shapes) -> None:
    """Describe a .pb or .tflite: inputs, outputs, op histogram, parameters, quantization."""
    from .inspect_model import inspect_command

    inspect_command(model, with_tensors, as_json, picture,
                    _graph_cut(input_arrays, output_arrays, input_shapes))


@cli.command()
@click.argument("input_file", metavar="IN.tflite")
@click.argument("output_file", metavar="OUT.tflite")
@quantization_options
@prune_options
@cluster_options
@_tflm_compression_option
def quantize(input_file, output_file, prune, prune_schedule, prune_block, prune_method, prune_allocation, cluster,
             cluster_per_channel, cluster_seed, tflm_compression, **quantization) -> None:
    """Quantize an existing float .tflite (same options as convert); or only prune or cluster its
    weights."""
    from . import api

    pruning = build_prune_options(prune, prune_schedule, prune_block, prune_method, prune_allocation,
                                  quantization)
    options = build_options(**_calibration_for_pruning_only(quantization, pruning))
    clustering = build_cluster_options(cluster, cluster_per_channel, cluster_seed)
    if options is None and clustering is None and pruning is None:
        raise TocoError("choose a mode: --quantize int8 (with --calibration-data), dynamic or float16, "
                        "or --prune / --cluster")
    result = api.quantize_tflite(input_file, output_file, options, clustering, tflm_compression, pruning)
    for note in result.notes:
        _stderr(note)
    _wrote(output_file, result)


def _calibration_for_pruning_only(quantization: dict, pruning) -> dict:
    """The quantization flags, without --calibration-data when only --prune_method sparsegpt
    reads it (no --quantize mode)."""
    if pruning is None or pruning.calibration is None or quantization.get("quantize_mode") \
            or quantization.get("inference_type") or quantization.get("post_training_quantize"):
        return quantization
    return {**quantization, "calibration_data": None}


def _feeds_option(fn):
    fn = click.option("--input", "input_pairs", multiple=True, metavar="NAME=FILE.npy",
                      help="An input's data (repeatable).")(fn)
    fn = click.option("--inputs", "inputs_npz", metavar="FILE.npz",
                      help="All inputs in one .npz (keys are input names).")(fn)
    fn = click.option("--random", "random_inputs", is_flag=True,
                      help="Seeded random inputs (standard normal floats).")(fn)
    fn = click.option("--seed", default=0, show_default=True, help="Seed for --random.")(fn)
    fn = click.option("--steps", type=click.IntRange(min=1), metavar="N",
                      help="Draw N random input sets and run them in order on one interpreter, "
                           "its resource variables carried from step to step (data from files "
                           "is a sequence when every array has one more leading axis, the steps, "
                           "than its input's shape).")(fn)
    return fn


def _checked(graph, given: dict | list[dict]) -> dict | list[dict]:
    """The input set(s), each array checked against its input's shape."""
    from .tensor_io import check_shapes

    for feeds in given if isinstance(given, list) else [given]:
        check_shapes(graph, feeds)
    return given


def _input_sets(graph, aliases, input_pairs, inputs_npz, random_inputs: bool, seed: int,
                steps: int | None) -> dict | list[dict]:
    """One input set, or the list of a sequence's steps (tensor_io.split_steps' rule)."""
    from .tensor_io import load_inputs, split_steps
    from .tensor_io import random_inputs as make_random

    if steps is not None and (input_pairs or inputs_npz):
        raise TocoError("--steps N draws N random input sets; data from files gives its steps on a "
                        "leading axis of every input's array instead")
    if steps is not None and not random_inputs:
        raise TocoError("--steps N draws N random input sets: add --random")
    feeds = make_random(graph, seed, steps) if random_inputs else load_inputs(graph, input_pairs, inputs_npz, aliases)
    sequence = split_steps(graph, feeds)
    return feeds if sequence is None else sequence


@cli.command()
@click.argument("model", metavar="MODEL.tflite")
@_feeds_option
@click.option("-o", "--output", "output", metavar="OUT.npz",
              help="Where to write the outputs. Default: MODEL.outputs.npz beside the model.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary of the outputs.")
def run(model, input_pairs, inputs_npz, random_inputs, seed, steps, output, as_json) -> None:
    """Run a .tflite in the reference interpreter (numpy; no LiteRT needed). A sequence of
    steps (--steps, or data with a leading step axis) runs in order on one interpreter and
    its outputs are written stacked on a leading step axis."""
    import json
    import os

    from .interpreter import Interpreter
    from .tensor_io import load_tflite, save_npz, stack_steps, summary

    graph, aliases = load_tflite(model)
    interp = Interpreter(graph)
    given = _checked(graph, _input_sets(graph, aliases, input_pairs, inputs_npz, random_inputs, seed, steps))
    per_step = [interp.run(feeds) for feeds in given] if isinstance(given, list) else None
    outputs = stack_steps(per_step) if per_step else interp.run(given)
    output = output or os.path.splitext(model)[0] + ".outputs.npz"
    save_npz(output, outputs)
    if as_json:
        report = {"outputs": summary(outputs), "file": output}
        if per_step:
            report["steps"] = [{"step": i, "outputs": summary(step)} for i, step in enumerate(per_step)]
        click.echo(json.dumps(report, indent=2))
        return
    from .report import print_table

    columns = ["output", "shape", "dtype", "min", "max", "mean"]
    if per_step:
        rows = [(i, r["name"], r["shape"], r["dtype"], r["min"], r["max"], r["mean"])
                for i, step in enumerate(per_step) for r in summary(step)]
        print_table(f"{len(per_step)} steps on one interpreter; outputs stacked on a leading step "
                    f"axis, written to {output}", ["step", *columns], rows)
    else:
        rows = [(r["name"], r["shape"], r["dtype"], r["min"], r["max"], r["mean"]) for r in summary(outputs)]
        print_table(f"outputs written to {output}", columns, rows)


@cli.command()
@click.argument("models", nargs=-1, required=True, metavar="[REFERENCE.pb|.tflite] MODEL.tflite")
@_feeds_option
@click.option("--samples", type=click.IntRange(min=1), default=None,
              help="Random input sets to try (with --random or by default)  [default: 1]; data from "
                   "files holds its samples along each input's first axis, as k times its batch.")
@click.option("--atol", type=float, default=None,
              help="Absolute tolerance; with --rtol, replaces the float tolerance policy (default: "
                   "the policy where both models compute the same function, else 1e-4).")
@click.option("--rtol", type=float, default=None,
              help="Relative tolerance (see --atol; default with a quantized model: 1e-3).")
@click.option("--per-tensor", "per_tensor", is_flag=True,
              help="Compare every intermediate tensor present in both and show where the error grows; "
                   "with a quantized model and a float reference, mark the 5 ops whose quantization "
                   "alone costs the outputs most.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document instead of the tables (README: validate --json).")
def validate(models, input_pairs, inputs_npz, random_inputs, seed, steps, samples, atol, rtol,
             per_tensor, as_json) -> None:
    """Check a .tflite against its source graph (TensorFlow, or our IR of the .pb without it),
    or against LiteRT; also LiteRT against the source when installed. A sequence of steps
    (--steps, or data with a leading step axis) runs in order on one interpreter of each
    engine, compared step by step; each sample starts from a new interpreter. Exit code 1 on
    a failure."""
    from . import validate as checks
    from .report import print_table
    from .tensor_io import is_tflite, load_tflite, split_samples

    if len(models) > 2:
        raise TocoError("validate takes at most two models: REFERENCE MODEL.tflite")
    reference, candidate = (None, models[0]) if len(models) == 1 else models
    files = bool(input_pairs or inputs_npz)
    # The candidate's signature names for its inputs (both models' inputs are named alike).
    aliases = load_tflite(candidate)[1] if files and is_tflite(candidate) else {}

    loaded: list[tuple] = []  # (graph, the samples in the files named for that graph)

    def feeds_of(graph) -> list:
        for known, sets in loaded:
            if known is graph:
                return sets
        given = _input_sets(graph, aliases, input_pairs, inputs_npz, False, seed, steps)
        loaded.append((graph, (split_samples(graph, given) if isinstance(given, dict) else None) or [given]))
        return loaded[-1][1]

    def feeds(graph, sample):
        if files:
            return _checked(graph, feeds_of(graph)[sample])
        return _checked(graph, _input_sets(graph, aliases, (), None, True, seed + sample, steps))

    if files and samples is not None:
        raise TocoError("--samples counts random input sets; data from files gives its samples "
                        "along each input's first axis (k times the input's batch)")
    if files and is_tflite(candidate):
        samples = len(feeds_of(load_tflite(candidate)[0]))
    samples = samples or 1

    report = checks.validate(reference, candidate, feeds, samples, checks.Tolerance(atol, rtol), per_tensor,
                             contributors=per_tensor or as_json)
    rows, tensors, tolerance = report.rows, report.tensors, report.tolerance
    if not rows:
        raise TocoError("no output of the model could be compared (names differ between the models)")
    if as_json:
        import json

        click.echo(json.dumps(checks.document(report, reference, candidate, samples), indent=2))
        sys.exit(0 if all(r.passed for r in rows) else 1)

    def table(rows, step: bool):
        return [((r.step,) if step else ()) + (r.tensor, f"{r.candidate} vs {r.reference}", r.max_abs, r.max_rel)
                + ((r.ratio if r.ratio is not None else "exact",) if tolerance.policy else ())
                + ("pass" if r.passed else "FAIL",) for r in rows]

    columns = ["output", "compared", "max abs err", "max rel err"] + (["err / allowed"] if tolerance.policy else [])
    if report.steps:
        print_table("per step (each engine runs the steps in order on one interpreter)",
                    ["step", *columns, ""], table(report.steps, True))
    print_table(tolerance.describe() + ("; each output's worst step" if report.steps else ""), columns + [""],
                table(rows, False))
    first = report.first_divergence
    if first is not None:
        click.echo(f"first divergence: step {first.step} ({first.tensor}, {first.candidate} vs {first.reference})")
    if per_tensor:
        first = checks.first_divergence(tensors)
        marks = checks.contributor_marks(report.sensitivity)
        title = "per tensor (in op order)"
        if marks:
            own = report.sensitivity.model_error
            title += ("; 'alone': the ops whose quantization alone costs the outputs most, by rank, as "
                      "mean |error| / output range" + ("" if own is None else f" (the quantized model: {own:.3g})"))
        print_table(title, ["tensor", "max abs err", "max rel err", "SNR dB", "cosine"]
                    + (["alone"] if marks else []) + [""],
                    [(r.tensor, r.max_abs, r.max_rel, r.snr_db, r.cosine)
                     + ((marks.get(r.tensor, ""),) if marks else ())
                     + ("<- first beyond tolerance" if r is first else "",) for r in tensors])
        if report.sensitivity is not None and report.sensitivity.note:
            click.echo(f"ops not ranked by their error: {report.sensitivity.note}")
    if not all(r.passed for r in rows):
        sys.exit(1)


@cli.command()
@click.argument("model", metavar="MODEL.tflite")
@click.option("-o", "--output", "output_dir", required=True, metavar="DIR",
              help="Where to write the bundle: a new directory appears whole; in an existing "
                   "one the bundle's files are replaced and others left alone.")
@click.option("--name", metavar="NAME",
              help="C identifier for the bundle's files and symbols. Default: the model's file name.")
@click.option("--verify", is_flag=True,
              help="Build the bundle with the system compiler, run it on seeded random inputs and "
                   "compare with the reference interpreter (exit code 1 on a difference).")
@click.option("--seed", default=0, show_default=True, help="Seed of the --verify inputs.")
@click.option("--steps", default=1, show_default=True, type=click.IntRange(min=1),
              help="With --verify: invoke the bundle this many times in one process (step k on "
                   "the inputs of seed + k), each compared with the same step of one interpreter "
                   "(a model with variables carries its state from step to step).")
@click.option("--target", default="host", show_default=True, type=click.Choice(TARGET_NAMES),
              help="A Cortex-M core: the Makefile cross-compiles a test program with arm-none-eabi-gcc "
                   "for its QEMU board, and --verify runs it under qemu-system-arm (and reports the "
                   "instructions per invoke).")
@click.option("--arena_section", metavar="SECTION",
              help="Put the arena in this linker section (NAME.h defines NAME_ARENA_SECTION), for a "
                   "firmware that places it in a memory of its own.")
@click.option("--max_arena", type=click.IntRange(min=1), metavar="BYTES",
              help="Fit the arena in BYTES: if the plan does not, run the network's first stage of "
                   "convolutions tile by tile (patch-based, its receptive fields recomputed), the "
                   "tiling that fits with the fewest extra multiply-accumulates; or fail naming the "
                   "smallest arena reachable.")
def codegen(model, output_dir, name, verify, seed, steps, target, arena_section, max_arena) -> None:
    """Generate a standalone C99 bundle (no heap, one static arena) from a .tflite."""
    from .codegen.command import codegen_command

    if not codegen_command(model, output_dir, name, verify, seed, steps, target, arena_section, max_arena):
        sys.exit(1)


@cli.command()
@click.argument("graph_def_file", metavar="MODEL.pb")
@click.option("-o", "--output_file", "--output-file", "output_file", required=True, metavar="PART.pb",
              help="Where to write the part (binary GraphDef; text when the name ends with "
                   ".pbtxt); written atomically.")
@_graph_cut_options
def split(graph_def_file, output_file, input_arrays, output_arrays, input_shapes) -> None:
    """Write the part of a GraphDef between --input_arrays and --output_arrays (interior
    tensors too, e.g. rnn/concat or split:1) as a GraphDef, a placeholder feeding each input."""
    from .split import split as split_graph

    result = split_graph(graph_def_file, output_file, **_graph_cut(input_arrays, output_arrays, input_shapes))
    for note in result.notes:
        _stderr(note)

    def describe(spec, node):
        shape = "?" if spec.shape is None else ",".join(str(d) if d >= 0 else "?" for d in spec.shape)
        return f"{node} ({spec.dtype} [{shape}])"

    _stderr(f"wrote {output_file}: {result.nodes} nodes; inputs "
            f"{', '.join(describe(s, n) for s, n in result.inputs) or '(none)'}; outputs "
            f"{', '.join(result.outputs)}")


def main() -> None:
    settings = {"debug": False}  # the group's options, read here when a command fails
    try:
        cli.main(standalone_mode=False, obj=settings)
    except click.exceptions.Abort:
        _stderr("aborted")
        sys.exit(130)
    except click.UsageError as err:  # a bad option or value: one line, as every bad input
        command = err.ctx.command_path if err.ctx else "toco-py"
        _stderr(f"error: {err.format_message()} (see '{command} --help')")
        sys.exit(2)
    except click.ClickException as err:
        err.show()
        sys.exit(2)
    except KeyboardInterrupt:
        _stderr("interrupted")
        sys.exit(130)
    except Exception as err:
        if settings["debug"]:
            traceback.print_exc()
        _stderr(_error_line(err))
        sys.exit(_exit_code(err))


def _error_line(err: Exception) -> str:
    if isinstance(err, TocoError):
        return f"error: {err}"
    if isinstance(err, MemoryError):
        return "error: out of memory"
    return internal_error_line(err)  # a bug of ours (see errors.py): still one line


def _exit_code(err: Exception) -> int:
    if isinstance(err, (TocoError, InternalError)):
        return err.exit_code
    return 2 if isinstance(err, MemoryError) else InternalError.exit_code


if __name__ == "__main__":
    main()
