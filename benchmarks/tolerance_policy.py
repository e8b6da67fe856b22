"""The float tolerance policy (toco_py/tolerance.py) measured: on each network, float and
dynamic-range, over 10 seeds, how close correct float32 runs come to the allowance (the worst
ratio of error to allowance: below 1 passes), how large the allowance is against the output
(its largest element over the output's largest magnitude), and what deriving it costs
against one run of the interpreter.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m benchmarks.tolerance_policy [--seeds 10]

Runs: our interpreter, LiteRT's builtin kernels (no delegate), its reference kernels and its
default kernels (XNNPACK). The policy covers kernels that round correctly (the first three);
XNNPACK approximates transcendental functions and quantizes hybrid inputs by its own scheme,
so its column shows how far outside it lands. Writes benchmarks/tolerance_policy.md.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

from tests.support import networks  # noqa: E402
from tests.support.policy import litert_by_name  # noqa: E402
from toco_py import api  # noqa: E402
from toco_py.interpreter import Interpreter  # noqa: E402
from toco_py.quantize.driver import QuantizeOptions  # noqa: E402
from toco_py.tensor_io import random_inputs  # noqa: E402
from toco_py.tflite.reader import read_model  # noqa: E402
from toco_py.tolerance import float_bounds, judge  # noqa: E402

CASES = [(name, mode) for name in networks.KERAS_APPLICATIONS for mode in ("float", "dynamic")]
RUNS = ("toco-py", "builtin", "reference", "default")


def measure(name: str, mode: str, seeds: int) -> list:
    net = networks.keras_application(name, 96 if name != "InceptionV3" else 75)
    model = api.convert_bytes(net.pb, quantize=QuantizeOptions(mode) if mode != "float" else None).model
    graph = read_model(model).main
    interp = Interpreter(graph)
    out = graph.outputs[0]
    worst = dict.fromkeys(RUNS, 0.0)
    width, cost = [], []
    for seed in range(seeds):
        feeds = random_inputs(graph, seed)
        start = time.perf_counter()
        ours = interp.run(feeds)
        one_run = time.perf_counter() - start
        start = time.perf_counter()
        bounds = float_bounds(graph, feeds)
        cost.append((time.perf_counter() - start) / one_run)
        truth, allowed = bounds.truth[out], bounds.allowed[out]
        width.append(float(np.max(allowed) / np.max(np.abs(truth))))
        results = {"toco-py": ours[out]}
        results |= {kind: litert_by_name(model, graph, feeds, kind)[out] for kind in RUNS[1:]}
        for run, got in results.items():
            worst[run] = max(worst[run], judge(out, got, truth, allowed).ratio)
    return [f"{name} {mode}", *(f"{worst[r]:.3g}" for r in RUNS), f"{min(width):.2g} - {max(width):.2g}",
            f"{np.median(cost):.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    header = ["model", *(f"worst ratio {r}" for r in RUNS), "allowance / max |output|",
              "cost (interpreter runs)"]
    rows = [measure(name, mode, args.seeds) for name, mode in CASES]
    lines = [f"Float tolerance policy over {args.seeds} seeds (inputs 96x96, InceptionV3 75x75). A ratio "
             "above 1 is a FAIL.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    text = "\n".join(lines) + "\n"
    Path(__file__).with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
