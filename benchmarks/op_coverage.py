"""Op coverage against TensorFlow's converter: a one-op (or one-pattern) frozen graph for every
TF op TF's converter rewrites towards TFLite builtins (benchmarks/tf_converter_ops.txt, read
from its source by scripts/tf_converter_ops.py), converted by both converters.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m benchmarks.op_coverage [--quick] [--only OP[,OP]]
        [--no-int8] [--samples 16] [--out PATH]

Float: does TF's converter convert it, does toco-py (else its error's first line), does LiteRT
running our .tflite match TensorFlow running the .pb within the float tolerance policy
(tests/support/policy.py: both within the allowance of the model's float64 truth, on 3 seeded
inputs), and the op counts and types of both .tflite files.
int8: both converters quantize fully (same calibration samples), and the mean over 16 inputs of
the error against TensorFlow running the float .pb (max abs error over the output's range),
with the number of ops each model runs on int8 data: the error ratio is judged where TF's
model computes in int8 at all.

Ops run in a worker process, each under a timeout; a worker that dies (a converter aborting)
is restarted past the op it died on, which is recorded as a crash. Writes
benchmarks/op_coverage.md.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.op_coverage_graphs import NO_GRAPH, cases, listed_ops, patterns

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 60
FLOAT_SEEDS = (0, 1, 2)
QUICK = ("Abs", "AddV2", "Conv2D", "Mean", "Softmax", "TopKV2", "AddN", "DivNoNan")



@dataclass
class Result:
    op: str
    graph: str = ""            # "" when built, else why not
    tf_ok: bool = False
    tf_error: str = ""
    ours_ok: bool = False
    ours_error: str = ""
    match: bool = False
    match_note: str = ""
    ours_ops: list | None = None
    tf_ops: list | None = None
    int8: dict | None = None


def short(error: BaseException | str, limit: int = 140) -> str:
    """The first line of an error that says "error:" (else its first line), cut short."""
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    text = ([ln for ln in lines if "error:" in ln.lower()] or lines or [type(error).__name__])[0]
    text = text.replace("|", "/").split(". ")[0]  # the problem, not the advice after it
    return text if len(text) <= limit else text[:limit] + "..."


@contextlib.contextmanager
def timeout(seconds: int):
    """TimeoutError after `seconds` (checked when control returns to Python)."""
    def expire(*_):
        raise TimeoutError(f"timed out after {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)



# ---------------------------------------------------------------------------- measuring
class OneOp:
    """A frozen one-op graph with the Network interface of tests/support/networks.py
    (pb, inputs, outputs, feeds) that benchmarks/compare_tf_int8.py's converters take."""

    def __init__(self, build, positive: bool):
        from tests.support.oracle import freeze

        names: list[str] = []

        def outputs() -> dict:
            tensors = build()
            names.extend(t.op.name if t.value_index == 0 else t.name for t in tensors)
            return dict(enumerate(tensors))

        self.pb, _ = freeze(outputs)
        self.positive, self.outputs = positive, names
        self.inputs = self._placeholders()

    def _placeholders(self) -> dict:
        import tensorflow as tf
        gd = tf.compat.v1.GraphDef()
        gd.ParseFromString(self.pb)
        found = {}
        for node in gd.node:
            if node.op == "Placeholder":
                shape = tuple(d.size for d in node.attr["shape"].shape.dim)
                found[node.name] = (shape, tf.as_dtype(node.attr["dtype"].type).name)
        return found

    def feeds(self, seed: int = 0) -> dict:
        import numpy as np
        rng = np.random.default_rng(seed)
        out = {}
        for name, (shape, dtype) in self.inputs.items():
            if dtype == "bool":
                out[name] = rng.integers(0, 2, shape).astype(bool)
            elif dtype.startswith("int"):
                out[name] = rng.integers(0, 4, shape).astype(dtype)
            elif self.positive:
                out[name] = rng.uniform(0.5, 2.0, shape).astype(dtype)
            else:
                out[name] = rng.standard_normal(shape).astype(dtype)
        return out


def measure_float(net: OneOp, result: Result, tmp: Path) -> bytes | None:
    from tests.support.oracle import op_types, tf_convert
    from toco_py import api

    (tmp / "m.pb").write_bytes(net.pb)
    ours = None
    try:
        with timeout(TIMEOUT_S):
            theirs = tf_convert(str(tmp / "m.pb"), list(net.inputs), net.outputs)
        result.tf_ok, result.tf_ops = True, op_types(theirs)
    except Exception as err:  # a failure is a result: recorded, never raised
        result.tf_error = short(err)
    try:
        with timeout(TIMEOUT_S):
            ours = api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs).model
        result.ours_ok, result.ours_ops = True, op_types(ours)
    except Exception as err:
        result.ours_error = short(err)
        return None
    result.match, result.match_note = judge_match(net, ours)
    return ours


def judge_match(net: OneOp, model: bytes) -> tuple[bool, str]:
    """LiteRT on our model and TensorFlow on the .pb, each within the float policy's allowance
    of the model's float64 truth, on every seed: (passed, first failure)."""
    from tests.support.policy import tensorflow_and_litert_failures
    try:
        with timeout(TIMEOUT_S):
            for seed in FLOAT_SEEDS:
                failures = tensorflow_and_litert_failures(net.pb, model, net.feeds(seed), net.outputs)
                if failures:
                    return False, short(failures[0])
    except Exception as err:
        return False, short(err)
    return True, ""


def measure_int8(net: OneOp, samples: int, tmp: Path) -> dict:
    """Both converters' full-integer models and their mean error over 16 inputs against
    TensorFlow running the float .pb."""
    import numpy as np

    from benchmarks.compare_tf_int8 import convert_ours, convert_tf, outputs
    from tests.support.oracle import run_tf

    if any(dtype != "float32" for _, dtype in net.inputs.values()):
        return {"skipped": "non-float inputs"}
    calibration = [net.feeds(1000 + k) for k in range(samples)]
    path = tmp / "calibration.npz"
    np.savez(path, **{n: np.concatenate([s[n] for s in calibration]) if shape[:1] == (1,)
                      else np.stack([s[n] for s in calibration]) for n, (shape, _) in net.inputs.items()})
    tests = [net.feeds(2000 + k) for k in range(16)]
    expected = [run_tf(net.pb, feeds, net.outputs) for feeds in tests]
    row = {}
    for side, convert in (("tf", lambda: convert_tf(net, calibration)[0]),
                          ("ours", lambda: convert_ours(net, path)[0])):
        try:
            with timeout(TIMEOUT_S):
                model = convert()
                errors = []
                for feeds, want in zip(tests, expected):
                    got = outputs(model, feeds)
                    # TF's converter names an output after its producer when the graph's
                    # output op folds away (Identity): those are found by position.
                    found = [got.get(o, list(got.values())[k]) for k, o in enumerate(net.outputs)]
                    errors.append(max(output_error(e, g) for e, g in zip(want, found)))
            row[side] = float(np.mean(errors))
            row[side + "_int8_ops"] = int8_op_count(model)
        except Exception as err:
            row[side + "_error"] = short(err)
    return row


def int8_op_count(model: bytes) -> int:
    """Ops that compute on int8 or uint8 data (QUANTIZE and DEQUANTIZE, which only convert,
    not counted): 0 when a converter kept the whole graph in float."""
    from tests.support.oracle import litert

    interp = litert(model, delegates=False)
    dtypes = {t["index"]: t["dtype"].__name__ for t in interp.get_tensor_details()}
    return sum(1 for op in interp._get_ops_details()
               if op["op_name"] not in ("QUANTIZE", "DEQUANTIZE")
               and any(dtypes.get(i) in ("int8", "uint8") for i in [*op["inputs"], *op["outputs"]]))


def output_error(expected, actual) -> float:
    """A float output's max error over its range; for integer and bool outputs (ArgMax,
    comparisons), whose range means nothing, the fraction of elements that differ."""
    import numpy as np

    from tests.support.oracle import rel_error

    expected = np.asarray(expected)
    if expected.dtype.kind == "f":
        return rel_error(expected, actual)
    return float(np.mean(expected != np.asarray(actual).reshape(expected.shape)))


def measure(op: str, table: dict, int8: bool, samples: int) -> Result:
    result = Result(op)
    if op not in table:
        result.graph = NO_GRAPH.get(op, "no builder written yet")
        return result
    build, positive = table[op]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            net = OneOp(build, positive)
        except Exception as err:
            result.graph = "building failed: " + short(err)
            return result
        measure_float(net, result, Path(tmp))
        if int8:
            result.int8 = measure_int8(net, samples, Path(tmp))
    return result


# ---------------------------------------------------------------------------- the table
def counts(ops: list | None) -> str:
    return "" if ops is None else str(len(ops))


def types(ops: list | None) -> str:
    if ops is None:
        return ""
    seen: dict[str, int] = {}
    for op in ops:
        seen[op] = seen.get(op, 0) + 1
    return " ".join(f"{k}×{v}" if v > 1 else k for k, v in seen.items()) or "(none)"


def yes_no(ok: bool, error: str) -> str:
    return "yes" if ok else f"no: {error}" if error else "no"


def float_table(results: list[Result]) -> list[str]:
    lines = ["| op | TF converts | toco-py converts | match | ops toco-py / TF | toco-py ops | TF ops |",
             "|---|---|---|---|---:|---|---|"]
    for r in results:
        if r.graph:
            lines.append(f"| {r.op} | no graph: {r.graph} | | | | | |")
            continue
        match = "" if not r.ours_ok else "yes" if r.match else f"no: {r.match_note}"
        lines.append(f"| {r.op} | {yes_no(r.tf_ok, r.tf_error)} | {yes_no(r.ours_ok, r.ours_error)} | "
                     f"{match} | {counts(r.ours_ops)} / {counts(r.tf_ops)} | {types(r.ours_ops)} | "
                     f"{types(r.tf_ops)} |")
    return lines


def int8_table(results: list[Result]) -> list[str]:
    lines = ["| op (int8) | TF converts | toco-py converts | int8 ops toco-py / TF | mean error toco-py "
             "| mean error TF | ratio |",
             "|---|---|---|---:|---:|---:|---:|"]
    for r in results:
        row = r.int8
        if not row:
            continue
        if "skipped" in row:
            lines.append(f"| {r.op} | not measured: {row['skipped']} | | | | | |")
            continue
        ours, theirs = row.get("ours"), row.get("tf")
        ratio = f"{ours / theirs:.2f}" if ours is not None and theirs else ""
        lines.append(f"| {r.op} | {yes_no('tf' in row, row.get('tf_error', ''))} | "
                     f"{yes_no('ours' in row, row.get('ours_error', ''))} | "
                     f"{row.get('ours_int8_ops', '')} / {row.get('tf_int8_ops', '')} | "
                     f"{'' if ours is None else f'{ours:.4f}'} | {'' if theirs is None else f'{theirs:.4f}'} | "
                     f"{ratio} |")
    return lines


def summary(results: list[Result]) -> str:
    built = [r for r in results if not r.graph]
    tf_ok = [r for r in built if r.tf_ok]
    ours = [r for r in built if r.ours_ok]
    match = [r for r in ours if r.match]
    fewer = [r for r in ours if r.tf_ok and len(r.ours_ops) <= len(r.tf_ops)]
    shown = sum(r.op.startswith("[pattern]") for r in results)
    text = (f"Float: {len(results) - shown} ops and {shown} patterns, {len(results) - len(built)} "
            f"without a graph; of the {len(built)} graphs TF converts {len(tf_ok)}, toco-py "
            f"{len(ours)}, match {len(match)}, op count <= TF's {len(fewer)}.")
    int8 = [r.int8 for r in built if r.int8 and "skipped" not in r.int8]
    if int8:
        # Judged where TF's model computes something in int8; where TF keeps the whole graph
        # in float (a comparison, a copy), its error is float's and says nothing of int8.
        quantized = [row for row in int8 if row.get("tf_int8_ops")]
        within = [row for row in quantized if "ours" in row and row["ours"] <= 1.25 * row["tf"] + 1e-6]
        all_float = [row for row in int8 if "tf" in row and not row.get("tf_int8_ops")]
        text += (f" int8: of {len(int8)} float-input graphs TF converts {sum('tf' in r for r in int8)}, "
                 f"toco-py {sum('ours' in r for r in int8)}; of the {len(quantized)} where TF's model "
                 f"computes in int8, toco-py's error <= 1.25x TF's on {len(within)} (TF keeps "
                 f"{len(all_float)} wholly in float).")
    return text


def write(results: list[Result], out: Path) -> str:
    text = "\n".join([
        "# Op coverage against TensorFlow's converter",
        "",
        "`OPENBLAS_NUM_THREADS=1 python -m benchmarks.op_coverage`: one graph per TF op that TF's "
        "converter rewrites (benchmarks/tf_converter_ops.txt). Match: LiteRT on toco-py's .tflite and "
        "TensorFlow on the .pb within the float tolerance policy, 3 seeded inputs. int8: full-integer "
        "quantization by both, same calibration samples; error: mean over 16 inputs of max |error| / "
        "output range against float TensorFlow; int8 ops: ops computing on int8 data (QUANTIZE and "
        "DEQUANTIZE not counted), 0 where a converter kept the graph in float.",
        "",
        summary(results),
        "",
        *float_table(results),
        "",
        *int8_table(results),
        "",
    ])
    out.write_text(text)
    return text


# ---------------------------------------------------------------------------- running
def worker(ops: list[str], int8: bool, samples: int, log: Path) -> None:
    """Measures ops in order, appending "start" and then the result of each to log."""
    import dataclasses
    table = cases()
    with log.open("a") as out:
        for op in ops:
            out.write(json.dumps({"start": op}) + "\n")
            out.flush()
            out.write(json.dumps(dataclasses.asdict(measure(op, table, int8, samples))) + "\n")
            out.flush()


def run_all(ops: list[str], int8: bool, samples: int) -> list[Result]:
    """Workers in turn until every op has a result; an op a worker died on is a crash."""
    done: dict[str, Result] = {}
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "log.jsonl"
        log.touch()
        while len(done) < len(ops):
            todo = [op for op in ops if op not in done]
            argv = [sys.executable, "-m", "benchmarks.op_coverage", "--worker", "--log", str(log),
                    "--only", ",".join(todo), "--samples", str(samples)] + ([] if int8 else ["--no-int8"])
            proc = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            started = None
            for line in log.read_text().splitlines():
                entry = json.loads(line)
                if "start" in entry:
                    started = entry["start"]
                elif entry["op"] not in done:
                    done[entry["op"]] = Result(**entry)
                    print(f"{entry['op']}: TF {entry['tf_ok']}, toco-py {entry['ours_ok']}, "
                          f"match {entry['match']}", flush=True)
                    started = None
            if started and started not in done:
                # Its stderr's last lines are TensorFlow's log noise, not the cause.
                crash = f"the process died (exit code {proc.returncode})"
                done[started] = Result(started, tf_error=crash, ours_error=crash)
            elif proc.returncode and len(done) < len(ops):
                raise RuntimeError(f"worker failed: {short(proc.stderr)}")
    return [done[op] for op in ops]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--only", help="comma-separated ops")
    parser.add_argument("--no-int8", action="store_true")
    parser.add_argument("--samples", type=int, default=16, help="int8 calibration samples")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "op_coverage.md"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    args = parser.parse_args()
    ops = args.only.split(",") if args.only else list(QUICK) if args.quick else listed_ops() + patterns()
    if args.worker:
        worker(ops, not args.no_int8, args.samples, Path(args.log))
        return
    results = run_all(ops, not args.no_int8, args.samples)
    write(results, Path(args.out))
    print(summary(results))


if __name__ == "__main__":
    main()
