"""toco-py against TensorFlow's converter (tf.compat.v1.lite.TFLiteConverter.from_frozen_graph)
on the same frozen graphs: the small networks of tests/networks.py and four Keras applications.

Measures per graph and converter: conversion seconds in-process (TF already imported), whole-
command seconds as a subprocess including imports (best of 3) and its peak RSS (/usr/bin/time -v),
output bytes, operator count (LiteRT without default delegates), LiteRT latency (num_threads=1,
median) and the max error against TensorFlow running the .pb on seeded inputs. Writes markdown
tables of the numbers and the toco-py / TF ratios, marking with ✗ each ratio missing its target.
Then the int8 rows (compare_tf_int8.py: quantized with the same calibration samples by both)
into benchmarks/results_int8.md, unless --no-int8.

Run:  .venv/bin/python -m benchmarks.compare_tf [--quick] [--only NAME[,NAME]] [--out PATH] [--no-int8]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
ROOT = Path(__file__).resolve().parent.parent

import numpy as np

from benchmarks.timing import LatencyProbe, best_time, run_timed
from tests.support import networks
from tests.support.oracle import op_types, rel_error, run_litert, run_tf, tf_convert
from toco_py import api

BIG = {"MobileNet": 224, "MobileNetV2": 224, "ResNet50": 224, "InceptionV3": 299}
COMMAND_TARGET = {"ResNet50": 0.5, "InceptionV3": 0.5}  # every other graph: 0.2
MEMORY_TARGET = 2.5  # toco-py peak RSS / .pb size, judged on graphs of at least MEMORY_MIN_PB
MEMORY_MIN_PB = 1 << 20  # below this the interpreter's own RSS dominates the multiple
ERROR_TOLERANCE = 1e-4  # of the output's range, as in the tests (fake-quant graphs included)
TOCO_PY = Path(sys.executable).with_name("toco-py")
TF_COMMAND = """import sys, tensorflow as tf
pb, out, ins, outs = sys.argv[1:5]
conv = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(pb, ins.split(","), outs.split(","))
open(out, "wb").write(conv.convert())
"""


@dataclass
class Side:
    """One converter's numbers on one graph; None where not measured, errors where it failed."""
    convert_s: float | None = None
    command_s: float | None = None
    rss_mb: float | None = None
    size: int | None = None
    ops: int | None = None
    latency_ms: float | None = None
    abs_err: float | None = None
    rel_err: float | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class Row:
    name: str
    pb_bytes: int = 0
    toco: Side = field(default_factory=Side)
    tf: Side = field(default_factory=Side)
    errors: list[str] = field(default_factory=list)  # of the graph: build, TF run, latency


def short(error: BaseException | str, limit: int = 160) -> str:
    """The first line of an error message that says "error:" (else its first line), cut short."""
    lines = [ln.strip() for ln in str(error).splitlines()
             if ln.strip() and not ln.startswith(("\t", "Command exited with"))]
    text = ([ln for ln in lines if "error:" in ln.lower()] or lines or [type(error).__name__])[0]
    return text if len(text) <= limit else text[:limit] + "..."


def timed_command(argv: list[str], runs: int = 3) -> tuple[float, float]:
    """Best wall seconds and peak RSS (MB, max over runs) of a command run under time -v."""
    best, peak = float("inf"), 0.0
    for _ in range(runs):
        proc, elapsed, rss = run_timed(argv)
        if proc.returncode:
            raise RuntimeError(short(proc.stderr) if proc.stderr.strip() else f"exit code {proc.returncode}")
        best, peak = min(best, elapsed), max(peak, rss or 0.0)
    return best, peak


def measure_latency(models: list[tuple[Side, bytes]], feeds: dict[str, np.ndarray], samples: int,
                    rounds: int = 4) -> None:
    """Median ms per invoke. The models are sampled in turn, so drift hits them alike, in fresh
    interpreters each round, so no one memory layout decides."""
    times: list[list[float]] = [[] for _ in models]
    for _ in range(rounds):
        probes = [LatencyProbe(model, feeds) for _, model in models]
        for _ in range(samples // rounds):
            for probe in probes:
                probe.sample()
        for kept, probe in zip(times, probes):
            kept += probe.times
    for (side, _), kept in zip(models, times):
        side.latency_ms = statistics.median(kept) * 1e3


def errors_vs_tf(model: bytes, net, expected: list[np.ndarray]) -> tuple[float, float]:
    """Max abs error and max error relative to the output's range, over all outputs."""
    got = run_litert(model, net.feeds(0))
    by_position = list(got.values())
    abs_err = rel = 0.0
    for i, (name, want) in enumerate(zip(net.outputs, expected)):
        actual = got.get(name, got.get(name + ":0", by_position[i] if i < len(by_position) else None))
        actual = np.asarray(actual).reshape(want.shape)
        abs_err = max(abs_err, float(np.max(np.abs(np.asarray(want, np.float64) - actual))))
        rel = max(rel, rel_error(want, actual))
    return abs_err, rel


def measure_side(side: Side, convert, command: list[str], net, expected, big: bool) -> bytes | None:
    """Fills one converter's numbers but latency; returns its model if LiteRT loads it. Each
    failing step is recorded and the rest go on."""
    model = loadable = None
    try:
        side.convert_s, model = best_time(convert, 2 if big else 5)
        side.size = len(model)
        side.ops = len(op_types(model))
        loadable = model
        if expected is not None:
            side.abs_err, side.rel_err = errors_vs_tf(model, net, expected)
    except Exception as exc:  # noqa: BLE001 - a failure is a result
        side.errors.append(f"{'convert' if model is None else 'run'}: {short(exc)}")
    try:
        side.command_s, side.rss_mb = timed_command(command)
    except Exception as exc:  # noqa: BLE001
        side.errors.append(f"command: {short(exc)}")
    return loadable


def measure(name: str, build, workdir: Path) -> Row:
    row = Row(name)
    try:
        net = build()
    except Exception as exc:  # noqa: BLE001
        row.errors.append(f"build: {short(exc)}")
        return row
    pb = workdir / f"{name}.pb"
    pb.write_bytes(net.pb)
    row.pb_bytes = len(net.pb)
    ins, outs = list(net.inputs), net.outputs
    try:
        expected = run_tf(net.pb, net.feeds(0), outs)
    except Exception as exc:  # noqa: BLE001
        expected = None
        row.errors.append(f"TensorFlow running the .pb: {short(exc)}")
    big = name in BIG
    toco_cmd = [str(TOCO_PY), "convert", "--graph_def_file", str(pb), "--output_file",
                str(workdir / f"{name}.toco.tflite"), "--input_arrays", ",".join(ins),
                "--output_arrays", ",".join(outs)]
    tf_cmd = [sys.executable, "-c", TF_COMMAND, str(pb), str(workdir / f"{name}.tf.tflite"),
              ",".join(ins), ",".join(outs)]
    ours = measure_side(row.toco, lambda: api.convert(str(pb), input_arrays=ins, output_arrays=outs).model,
                        toco_cmd, net, expected, big)
    theirs = measure_side(row.tf, lambda: tf_convert(str(pb), ins, outs), tf_cmd, net, expected, big)
    models = [(side, model) for side, model in ((row.toco, ours), (row.tf, theirs)) if model]
    try:
        measure_latency(models, net.feeds(0), 40 if big else 400)
    except Exception as exc:  # noqa: BLE001
        row.errors.append(f"latency: {short(exc)}")
    return row


# ---- the table ----------------------------------------------------------------------------

MEASUREMENT_HEADER = ("| graph | .pb KB | convert s | command s | peak RSS MB | .tflite KB | ops "
                      "| latency ms | max abs err | err / range |")
MEASUREMENT_NOTE = (
    "Cells are `toco-py / TF`. Commands include interpreter start-up and imports (best of 3); peak "
    "RSS is the command's, from `/usr/bin/time -v`. Latency: LiteRT, num_threads=1, median. Errors: "
    "against TensorFlow running the .pb on the same seeded inputs; toco-py's must be within "
    f"{ERROR_TOLERANCE} of the output's range.")
RATIO_HEADER = ("| graph | ops (≤1) | bytes (≤1) | latency (≤1) | command (≤0.2; ResNet50, InceptionV3 "
                f"≤0.5) | toco-py RSS ×pb (≤{MEMORY_TARGET}) | TF RSS ×pb |")
RATIO_NOTE = ("RSS ×pb: the command's peak RSS over the .pb size, shown for graphs of at least "
              f"{MEMORY_MIN_PB >> 20} MB (below that the interpreter's own RSS dominates).")


def pair(row: Row, attr: str, fmt: str, unit: int = 1) -> str:
    """`toco-py / TF` for one measurement, FAIL where it is missing."""
    values = (getattr(row.toco, attr), getattr(row.tf, attr))
    return " / ".join("FAIL" if v is None else format(v / unit if unit != 1 else v, fmt) for v in values)


def ratio(ours: float | None, theirs: float | None, target: float | None, label: str,
          missed: list[str]) -> str:
    if ours is None or theirs is None or theirs == 0:
        return "–"
    value = round(ours / theirs, 2)
    if target is not None and value > target:
        missed.append(f"{label}: {value:.2f} > {target}")
        return f"**{value:.2f} ✗**"
    return f"{value:.2f}"


def measurement_table(rows: list[Row]) -> list[str]:
    lines = [MEASUREMENT_HEADER, "|---|" + "---:|" * 9]
    for r in rows:
        if not r.pb_bytes:
            lines.append(f"| {r.name} | FAIL (see failures) |" + " |" * 8)
            continue
        lines.append(
            f"| {r.name} | {r.pb_bytes / 1024:.1f} | {pair(r, 'convert_s', '.3f')} | "
            f"{pair(r, 'command_s', '.2f')} | {pair(r, 'rss_mb', '.0f')} | {pair(r, 'size', '.1f', 1024)} | "
            f"{pair(r, 'ops', 'd')} | "
            f"{pair(r, 'latency_ms', '.3g')} | {pair(r, 'abs_err', '.1e')} | {pair(r, 'rel_err', '.1e')} |")
    return lines


def rss_multiple(row: Row, side: Side, target: float | None, missed: list[str]) -> str:
    if row.pb_bytes < MEMORY_MIN_PB:
        return "–"
    return ratio(side.rss_mb, row.pb_bytes / (1 << 20), target, f"{row.name} toco-py RSS ×pb", missed)


def ratio_table(rows: list[Row], missed: list[str]) -> list[str]:
    lines = [RATIO_HEADER, "|---|" + "---:|" * 6]
    for r in rows:
        if not r.pb_bytes:
            continue
        t, f, n = r.toco, r.tf, r.name
        lines.append(
            f"| {n} | {ratio(t.ops, f.ops, 1.0, f'{n} ops', missed)} | "
            f"{ratio(t.size, f.size, 1.0, f'{n} bytes', missed)} | "
            f"{ratio(t.latency_ms, f.latency_ms, 1.0, f'{n} latency', missed)} | "
            f"{ratio(t.command_s, f.command_s, COMMAND_TARGET.get(n, 0.2), f'{n} command time', missed)} | "
            f"{rss_multiple(r, t, MEMORY_TARGET, missed)} | {rss_multiple(r, f, None, missed)} |")
    return lines


def failures_and_accuracy(rows: list[Row], missed: list[str]) -> list[str]:
    """Failure lines; toco-py errors above tolerance go to `missed`."""
    fails = []
    for r in rows:
        fails += [f"- {r.name}: {e}" for e in r.errors]
        fails += [f"- {r.name}, {who}: {e}" for who, side in (("toco-py", r.toco), ("TF", r.tf))
                  for e in side.errors]
        if r.toco.rel_err is not None and r.toco.rel_err > ERROR_TOLERANCE:
            missed.append(f"{r.name} toco-py error: {r.toco.rel_err:.1e} of range > {ERROR_TOLERANCE}")
    return fails


def render(rows: list[Row], baseline_mb: float | None) -> str:
    missed: list[str] = []
    lines = ["# toco-py vs TensorFlow's converter", "", MEASUREMENT_NOTE, "", *measurement_table(rows),
             "", "## Ratios toco-py / TF", "", RATIO_NOTE, "", *ratio_table(rows, missed)]
    fails = failures_and_accuracy(rows, missed)
    if baseline_mb:
        lines += ["", f"Peak RSS of `toco-py --help` (start-up baseline): {baseline_mb:.0f} MB."]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()[:2])
    lines += ["", (f"Load average (1, 5 min) when done: {load} on {os.cpu_count()} CPUs; other work "
                   "on the machine skews timings; latency ratios within ~3% of 1 are run-to-run noise.")]
    if fails:
        lines += ["", "## Failures", "", *fails]
    lines += ["", "## Missed targets", "", *([f"- {m}" for m in missed] or ["none"])]
    return "\n".join(lines) + "\n"


def selected(args) -> dict:
    graphs = dict(networks.SMALL_NETWORKS)
    for app, size in BIG.items():
        if not args.quick or app == "MobileNetV2":
            graphs[app] = lambda app=app, size=size: networks.keras_application(app, size)
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - set(graphs)
        if unknown:
            sys.exit(f"unknown graph(s) {sorted(unknown)}; choose from {sorted(graphs)}")
        graphs = {k: v for k, v in graphs.items() if k in wanted}
    return graphs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small graphs + MobileNetV2 only")
    parser.add_argument("--only", help="comma-separated graph names")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results.md"))
    parser.add_argument("--no-int8", action="store_true",
                        help="skip the int8 rows (benchmarks/results_int8.md)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="compare_tf_") as tmp:
        for name, build in selected(args).items():
            print(f"{name} ...", flush=True)
            start = time.perf_counter()
            rows.append(measure(name, build, Path(tmp)))
            print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    try:
        baseline = timed_command([str(TOCO_PY), "--help"], runs=1)[1]
    except Exception:  # noqa: BLE001
        baseline = None
    table = render(rows, baseline)
    Path(args.out).write_text(table)
    print(table)
    if not args.no_int8:
        from benchmarks import compare_tf_int8

        int8 = compare_tf_int8.int8_table(args.quick, samples=16)
        (ROOT / "benchmarks" / "results_int8.md").write_text(int8)


if __name__ == "__main__":
    main()
