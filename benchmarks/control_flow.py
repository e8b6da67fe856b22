"""toco-py against TensorFlow's converter on the seeds' loop models (tests/support/seed_models.py:
the dynamic_rnn LSTM language model, the greedy and the beam search decoder), each in TF1
control flow and control flow v2, at keyboard sizes (KEYBOARD) or the tests' (--small).

Per model and converter, in one process (TensorFlow imported once, before any timing):
conversion seconds (best of --runs, the .pb in memory for toco-py, on disk for TF's
from_frozen_graph), .tflite bytes, operators over all subgraphs, LiteRT latency (num_threads=1,
default resolver, the two models sampled in turn, median ms per invoke), and the outputs against
TensorFlow running the .pb (tokens: equal or not; floats: max abs error). A converter that
refuses a model gets its one-line reason instead of numbers.

    .venv/bin/python -m benchmarks.control_flow [--small] [--runs N] [--samples N] [--out PATH]
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

from benchmarks.compare_tf import Side, measure_latency, short  # noqa: E402
from benchmarks.timing import best_time  # noqa: E402
from tests.support import seed_models  # noqa: E402
from tests.support.oracle import run_litert, run_tf, tf_convert  # noqa: E402
from toco_py import api  # noqa: E402
from toco_py.tflite.reader import read_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# A next-word model as keyboards ship them: a few thousand words, a 256-unit LSTM.
KEYBOARD = seed_models.Sizes(vocab=5000, embed=96, state=256, steps=8, beams=4, batch=1)
MODELS = ("lm", "greedy", "beam")


def _outputs_vs_tf(side: Side, model: bytes, expected: dict[str, np.ndarray], feeds) -> str:
    """'tokens equal' / 'tokens DIFFER' and the floats' max abs error, LiteRT against TF."""
    got = run_litert(model, feeds)
    notes, err = [], 0.0
    for name, want in expected.items():
        value = np.asarray(got[name]).reshape(want.shape)
        if np.issubdtype(want.dtype, np.integer):
            notes.append("tokens equal" if np.array_equal(value, want) else "tokens DIFFER")
        else:
            err = max(err, float(np.max(np.abs(value.astype(np.float64) - want))))
    side.abs_err = err
    return ", ".join(notes) or "floats only"


def _reason(exc: BaseException) -> str:
    """TF's converter's list of the TF Select ops it would need, else the error's first line."""
    select = [ln.strip() for ln in str(exc).splitlines() if ln.startswith("TF Select ops:")]
    return select[0] if select else short(exc)


def measure(name: str, form: str, size: seed_models.Sizes, workdir: Path, runs: int, samples: int) -> dict:
    model = seed_models.seed_model(name, form, size)
    path = workdir / f"{name}_{form}.pb"
    path.write_bytes(model.pb)
    feeds = seed_models.feeds(name, 1, size=size)[0]
    expected = dict(zip(model.outputs, run_tf(model.pb, feeds, model.outputs)))
    sides = {"toco-py": Side(), "TF": Side()}
    converters = {"toco-py": lambda: api.convert_bytes(model.pb).model,
                  "TF": lambda: tf_convert(str(path), model.inputs, model.outputs)}
    converted, agreement = [], {}
    for label, convert in converters.items():
        side = sides[label]
        try:
            side.convert_s, tflite = best_time(convert, runs)
        except Exception as exc:  # noqa: BLE001 - a refusal is a result
            side.errors.append(_reason(exc))
            continue
        side.size = len(tflite)
        side.ops = sum(len(g.ops) for g in read_model(tflite).graphs)
        agreement[label] = _outputs_vs_tf(side, tflite, expected, feeds)
        converted.append((side, tflite))
    measure_latency(converted, feeds, samples)
    return {"name": f"{name} ({form})", "pb": len(model.pb), "sides": sides, "agreement": agreement}


def _cell(side: Side, attr: str, fmt: str, scale: float = 1.0) -> str:
    value = getattr(side, attr)
    return "refuses" if side.errors else "–" if value is None else format(value * scale, fmt)


RATIO_HEADER = ["| model | convert | bytes | ops | latency |", "|---|---:|---:|---:|---:|"]


def _ratios(name: str, ours: Side, theirs: Side) -> str:
    """A row of RATIO_HEADER: toco-py / TF."""
    cells = []
    for attr in ("convert_s", "size", "ops", "latency_ms"):
        a, b = getattr(ours, attr), getattr(theirs, attr)
        cells.append(f"{a / b:.2f}" if a is not None and b else "–")
    return f"| {name} | " + " | ".join(cells) + " |"


def render(rows: list[dict], size: seed_models.Sizes, args) -> str:
    lines = ["# Control flow: the seeds' loop models, toco-py vs TensorFlow's converter", "",
             "    .venv/bin/python -m benchmarks.control_flow" + (" --small" if args.small else ""), "",
             f"Sizes: {size}. Conversion: in one process, best of {args.runs}. Latency: LiteRT, "
             "num_threads=1, default resolver, the two models sampled in turn, median ms per invoke "
             f"over {args.samples} samples. Errors: LiteRT against TensorFlow running the .pb on the "
             "same inputs. Cells are `toco-py / TF`; ratios are toco-py / TF (the two sides of a ratio are "
             "measured alike and in turn, so a loaded machine moves both).", "",
             "| model | .pb KB | convert s | .tflite KB | ops | latency ms | vs TensorFlow | max abs err |",
             "|---|---:|---:|---:|---:|---:|---|---:|"]
    for row in rows:
        ours, theirs = row["sides"]["toco-py"], row["sides"]["TF"]
        agree = " / ".join(row["agreement"].get(k, "–") for k in ("toco-py", "TF"))
        lines.append(f"| {row['name']} | {row['pb'] / 1024:.0f} | {_cell(ours, 'convert_s', '.3f')} / "
                     f"{_cell(theirs, 'convert_s', '.3f')} | {_cell(ours, 'size', '.1f', 1 / 1024)} / "
                     f"{_cell(theirs, 'size', '.1f', 1 / 1024)} | {_cell(ours, 'ops', '.0f')} / "
                     f"{_cell(theirs, 'ops', '.0f')} | {_cell(ours, 'latency_ms', '.3g')} / "
                     f"{_cell(theirs, 'latency_ms', '.3g')} | {agree} | {_cell(ours, 'abs_err', '.1e')} / "
                     f"{_cell(theirs, 'abs_err', '.1e')} |")
    lines += ["", "## Ratios toco-py / TF", "", *RATIO_HEADER]
    lines += [_ratios(row["name"], row["sides"]["toco-py"], row["sides"]["TF"]) for row in rows]
    lines += _across_forms(rows)
    refusals = [(row["name"], label, side.errors[0]) for row in rows
                for label, side in row["sides"].items() if side.errors]
    if refusals:
        lines += ["", "## Refusals", ""] + [f"- {name}, {label}: {why}" for name, label, why in refusals]
    return "\n".join(lines) + "\n"


def _across_forms(rows: list[dict]) -> list[str]:
    """Where toco-py converts only the TF1 form and TF's converter only the v2 form: the two
    conversions of the same model side by side."""
    by_name = {row["name"]: row["sides"] for row in rows}
    lines = []
    for name in MODELS:
        ours, theirs = by_name[f"{name} (tf1)"]["toco-py"], by_name[f"{name} (v2)"]["TF"]
        if by_name[f"{name} (tf1)"]["TF"].errors and by_name[f"{name} (v2)"]["toco-py"].errors \
                and not ours.errors and not theirs.errors:
            lines.append(_ratios(name, ours, theirs))
    if not lines:
        return []
    return ["", "## Across forms: toco-py on the TF1 form / TF on the v2 form", "",
            "Each converter refuses the other's form of these models; the same model, converted "
            "each way that works.", "", *RATIO_HEADER, *lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the tests' sizes, not a keyboard's")
    parser.add_argument("--runs", type=int, default=5, help="conversions per converter and model")
    parser.add_argument("--samples", type=int, default=200, help="latency samples per model")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "control_flow.md")
    args = parser.parse_args()
    size = seed_models.SMALL if args.small else KEYBOARD
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(name, form, size, Path(tmp), args.runs, args.samples)
                for name in MODELS for form in seed_models.FORMS]
    text = render(rows, size, args)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
