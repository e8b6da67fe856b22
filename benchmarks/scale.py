"""Scale: a synthetic frozen GraphDef of about 1.5 GB (stacked 8192x8192 dense layers)
converted by toco-py and by TensorFlow's converter, each as a whole command: wall time and
peak resident memory (/usr/bin/time -v), the latter also as a multiple of the .pb size.
TensorFlow's converter runs under an address-space cap so that it fails instead of taking
the machine down.

    .venv/bin/python -m benchmarks.scale [--width 8192] [--layers 6] [--dir /tmp/toco-scale]

Writes benchmarks/scale.md. Target: toco-py's peak RSS <= 2.5x the .pb size.
"""
from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import numpy as np  # noqa: E402

from benchmarks.timing import run_timed  # noqa: E402
from tests.support.synthetic import write_dense_stack  # noqa: E402

PYTHON = sys.executable
TF_CONVERT = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
conv = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(sys.argv[1], ["input"], ["output"])
open(sys.argv[2], "wb").write(conv.convert())
"""


def timed(argv: list[str], cap_bytes: int | None = None) -> tuple[bool, float, float, str]:
    """(succeeded, seconds, peak RSS MB, last stderr line) of a command under /usr/bin/time -v."""
    def limit():
        if cap_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))
    proc, seconds, rss = run_timed(argv, preexec_fn=limit)
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("\t")]
    return proc.returncode == 0, seconds, float("nan") if rss is None else rss, \
        (lines[-1] if lines else "")[:160]


def check_output(model_path: Path, width: int, layers: int) -> float:
    """Max relative difference between LiteRT on the model and numpy on the same weights."""
    from ai_edge_litert.interpreter import Interpreter

    from tests.support.synthetic import numpy_reference

    x = np.random.default_rng(3).standard_normal((1, width)).astype(np.float32)
    want = numpy_reference(x, width, layers)
    interp = Interpreter(model_path=str(model_path), num_threads=2)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    got = interp.get_tensor(interp.get_output_details()[0]["index"])
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=8192)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--dir", default="/tmp/toco-scale")
    parser.add_argument("--tf-cap-gb", type=float, default=20.0, help="address-space cap for TF's converter")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "scale.md"))
    args = parser.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    pb = folder / f"dense_{args.width}x{args.layers}.pb"
    if not pb.exists():
        write_dense_stack(str(pb), args.width, args.layers)
    size_mb = pb.stat().st_size / 2**20
    ours = timed([str(Path(PYTHON).with_name("toco-py")), "convert", "--graph_def_file", str(pb),
                  "--output_file", str(folder / "ours.tflite")])
    theirs = timed([PYTHON, "-c", TF_CONVERT, str(pb), str(folder / "tf.tflite")],
                   cap_bytes=int(args.tf_cap_gb * 2**30))
    error = check_output(folder / "ours.tflite", args.width, args.layers) if ours[0] else float("nan")
    rows = ["| converter | result | seconds | peak RSS MB | RSS / .pb |", "|---|---|---:|---:|---:|"]
    for name, (ok, seconds, rss, last) in (("toco-py", ours), ("TensorFlow", theirs)):
        result = "ok" if ok else f"failed: {last}"
        rows.append(f"| {name} | {result} | {seconds:.1f} | {rss:.0f} | {rss / size_mb:.2f} |")
    text = (f"Synthetic GraphDef: {args.layers} dense layers of {args.width}x{args.width} float32, "
            f"{size_mb:.0f} MB. toco-py's model vs numpy on the same weights: max relative error "
            f"{error:.1e}. TF's converter capped at {args.tf_cap_gb:g} GB of address space.\n\n"
            + "\n".join(rows) + "\n")
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
