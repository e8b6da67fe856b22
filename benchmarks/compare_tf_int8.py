"""int8 rows of the comparison with TensorFlow's converter: full-integer quantization of the
same frozen graphs with the same calibration samples, by toco-py and by
tf.compat.v1.lite.TFLiteConverter (optimizations=DEFAULT + representative dataset).

    .venv/bin/python -m benchmarks.compare_tf_int8 [--quick] [--samples 16]

benchmarks/compare_tf.py runs the same rows after the float ones (unless --no-int8).

Measures conversion seconds (calibration included), .tflite bytes, LiteRT latency (1 thread,
default resolver, median, measured as compare_tf.py measures the float rows) and the output error
against TensorFlow running the float .pb
(max abs error over the output's range), and writes benchmarks/results_int8.md.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402

from benchmarks.timing import LatencyProbe  # noqa: E402
from tests.support import networks  # noqa: E402
from tests.support.oracle import rel_error, run_tf  # noqa: E402
from toco_py import api  # noqa: E402
from toco_py.quantize.driver import QuantizeOptions  # noqa: E402

SMALL = ("dropout_mlp", "computed_axis_softmax", "conv_bn_separable", "fused_patterns",
         "lstm_language_model", "gru_static_rnn")


def samples_for(net, count: int, folder: Path) -> tuple[list[dict], Path]:
    rng = np.random.default_rng(1)
    samples = []
    for _ in range(count):
        samples.append({n: (rng.standard_normal(shape).astype(dtype) if dtype == "float32"
                            else rng.integers(0, 50, shape).astype(dtype))
                        for n, (shape, dtype) in net.inputs.items()})
    path = folder / "calibration.npz"
    np.savez(path, **{n: np.concatenate([s[n] for s in samples]) if net.inputs[n][0][0] == 1
                      else np.stack([s[n] for s in samples]) for n in net.inputs})
    return samples, path


def convert_ours(net, calibration: Path) -> tuple[bytes, float]:
    start = time.perf_counter()
    model = api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs,
                              quantize=QuantizeOptions("int8", calibration_data=str(calibration))).model
    return model, time.perf_counter() - start


def convert_tf(net, samples: list[dict], ops_sets: tuple[str, ...] = ("TFLITE_BUILTINS_INT8",)) -> tuple[bytes, float]:
    """TF's converter's full-integer model (16x8 with EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8)
    and its conversion time."""
    with tempfile.TemporaryDirectory() as tmp:
        pb = Path(tmp) / "m.pb"
        pb.write_bytes(net.pb)
        start = time.perf_counter()
        conv = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(str(pb), list(net.inputs), net.outputs)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([s[n] for n in net.inputs] for s in samples)
        conv.target_spec.supported_ops = [getattr(tf.lite.OpsSet, name) for name in ops_sets]
        model = conv.convert()
        return model, time.perf_counter() - start


def outputs(model: bytes, feeds: dict) -> dict:
    """LiteRT's outputs by name (float inputs/outputs)."""
    interp = Interpreter(model_content=model, num_threads=1)
    interp.allocate_tensors()
    by_name = {d["name"]: d["index"] for d in interp.get_input_details()}
    for name, value in feeds.items():
        interp.set_tensor(by_name[name], value)
    interp.invoke()
    return {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}


def latencies_ms(models: list[bytes], feeds: dict, samples: int = 40) -> list[float]:
    """Median ms per invoke, measured as the float rows are (timing.LatencyProbe: batches
    of invokes, the models sampled in turn)."""
    probes = [LatencyProbe(model, feeds) for model in models]
    for _ in range(samples):
        for probe in probes:
            probe.sample()
    return [1000 * statistics.median(probe.times) for probe in probes]


def row(name: str, net, count: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        samples, calibration = samples_for(net, count, Path(tmp))
        ours, t_ours = convert_ours(net, calibration)
    theirs, t_tf = convert_tf(net, samples)
    feeds = net.feeds(7)
    expected = run_tf(net.pb, feeds, net.outputs)
    out_ours, out_tf = outputs(ours, feeds), outputs(theirs, feeds)
    lat_ours, lat_tf = latencies_ms([ours, theirs], feeds)
    err_ours = max(rel_error(e, out_ours[o]) for e, o in zip(expected, net.outputs))
    err_tf = max(rel_error(e, out_tf[o]) for e, o in zip(expected, net.outputs))
    return (f"| {name} | {t_ours:.2f} / {t_tf:.2f} | {len(ours) / 1024:.1f} / {len(theirs) / 1024:.1f} "
            f"({len(ours) / len(theirs):.2f}) | {lat_ours:.3f} / {lat_tf:.3f} | {err_ours:.3f} / {err_tf:.3f} |")


def int8_table(quick: bool, samples: int) -> str:
    """The int8 rows as markdown, printing each as it is measured."""
    lines = ["| graph (int8) | convert s | .tflite KB (ratio) | latency ms | error / range vs float TF |",
             "|---|---:|---:|---:|---:|"]
    jobs = [(n, networks.SMALL_NETWORKS[n]) for n in SMALL]
    apps = ("MobileNetV2",) if quick else networks.KERAS_APPLICATIONS
    jobs += [(a, lambda a=a: networks.keras_application(a, 299 if a == "InceptionV3" else 224)) for a in apps]
    for name, build in jobs:
        try:
            lines.append(row(name, build(), samples))
        except Exception as err:  # a failure is a result too: record it and go on
            lines.append(f"| {name} | failed: {type(err).__name__}: {str(err)[:100]} | | | |")
        print(lines[-1], flush=True)
    return (f"Cells are toco-py / TF, same calibration samples ({samples} random normal inputs).\n\n"
            + "\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small graphs and MobileNetV2 only")
    parser.add_argument("--samples", type=int, default=16, help="calibration samples")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results_int8.md"))
    args = parser.parse_args()
    text = int8_table(args.quick, args.samples)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
