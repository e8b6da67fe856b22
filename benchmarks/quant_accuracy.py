"""Quantized accuracy (issue 16): TensorFlow's converter (int8, 16x8) against toco-py with min/max,
percentile and MSE-chosen activation ranges, MSE weight ranges and bias correction, in int16x8,
and under --accuracy_target 0.01 with float or 16x8 fallback (with the ops it picks and their
cost in bytes and LiteRT latency).

    .venv/bin/python -m benchmarks.quant_accuracy [--quick] [--out FILE]

Networks: the small test networks and MobileNetV2 (tests/support/networks.py, random normal
inputs; MobileNetV2's error is its SOFTMAX's fixed int8 output step, 1/256, against probabilities
of at most 0.005: rounding alone costs 0.197 of that range, which no range choice changes) and three
real-data cases trained here with TensorFlow: the digits CNN (scikit-learn's digits), an audio
classifier (a 1-D conv stack over log-mel frames of synthesized chirps, tones and noise) and a
heatmap regression head (blobs on noise). Every column converts the same frozen graph with the
same calibration samples; LiteRT runs every model (1 thread, default resolver) on HELD_OUT
held-out inputs. Error: mean |quantized - float| over those inputs, divided by the float
output's range over them (TensorFlow running the .pb is the float truth); top-1: the share of
held-out inputs whose quantized argmax is the label (digits, audio) or, for heatmaps, whose
peak lands within one pixel of the true blob. Writes benchmarks/quant_accuracy.md.

A column is a function (case, tmp folder) -> .tflite bytes (COLUMNS). --accuracy_target holds
back a quarter of the calibration samples to measure its choice on; its table's error is this
benchmark's, on the held-out inputs.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.compare_tf_int8 import SMALL, convert_tf, latencies_ms, outputs, samples_for  # noqa: E402
from tests.support import networks  # noqa: E402
from tests.support.oracle import run_tf  # noqa: E402
from toco_py import api  # noqa: E402
from toco_py.ops.registry import REGISTRY  # noqa: E402
from toco_py.quantize.driver import QuantizeOptions  # noqa: E402
from toco_py.quantize.schemes import SCHEMES  # noqa: E402
from toco_py.quantize.weight_ranges import rounding_error, weight_params  # noqa: E402
from toco_py.tflite.writer import model_view  # noqa: E402

v1 = tf.compat.v1
CALIBRATION = 32  # samples
HELD_OUT = 64     # inputs the error is measured on (the issue asks for >= 16)


@dataclass
class Case:
    net: networks.Network
    calibration: list[dict]        # feeds
    held_out: list[dict]
    labels: np.ndarray | None = None         # top-1 class per held-out input
    hit: Callable[[np.ndarray, int], bool] | None = None  # output, label -> correct


# ---- the cases -------------------------------------------------------------------------------

def random_input_case(name: str) -> Case:
    net = networks.keras_application(name) if name in networks.KERAS_APPLICATIONS else networks.SMALL_NETWORKS[name]()
    with tempfile.TemporaryDirectory() as tmp:
        calibration, _ = samples_for(net, CALIBRATION, Path(tmp))
    return Case(net, calibration, [net.feeds(1000 + i) for i in range(HELD_OUT)])


def digits_case() -> Case:
    net = networks.trained_digits_cnn()
    (x, _), (xt, yt) = networks.digits_data()
    return Case(net, [{"image": s[None]} for s in x[:CALIBRATION]],
                [{"image": s[None]} for s in xt[:HELD_OUT]], yt[:HELD_OUT], _argmax_hit)


def _argmax_hit(output: np.ndarray, label: int) -> bool:
    return int(np.argmax(output)) == label


FRAMES, MELS, RATE, HOP, WINDOW = 48, 32, 8000, 80, 256
SOUNDS = ("rising chirp", "falling chirp", "tone", "noise burst")


def _signal(kind: int, rng: np.random.Generator) -> np.ndarray:
    """Half a second of one of SOUNDS at a random pitch and loudness over background noise."""
    t = np.arange(FRAMES * HOP + WINDOW) / RATE
    f0, f1 = rng.uniform(200, 1500), rng.uniform(1800, 3500)
    if kind == 0:
        phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2)
    elif kind == 1:
        phase = 2 * np.pi * (f1 * t - (f1 - f0) * t**2)
    elif kind == 2:
        phase = 2 * np.pi * f0 * t
    if kind < 3:
        sound = np.sin(phase)
    else:
        sound = rng.standard_normal(t.size) * (np.abs(t - rng.uniform(0.1, 0.4)) < 0.08)
    return rng.uniform(0.05, 1.0) * sound + rng.uniform(0.005, 0.05) * rng.standard_normal(t.size)


def _mel_filters() -> np.ndarray:
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    edges = 700 * (10 ** (np.linspace(mel(60), mel(RATE / 2), MELS + 2) / 2595) - 1)
    freqs = np.fft.rfftfreq(WINDOW, 1 / RATE)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))


def log_mel(signal: np.ndarray, filters: np.ndarray) -> np.ndarray:
    frames = np.stack([signal[i * HOP:i * HOP + WINDOW] for i in range(FRAMES)]) * np.hanning(WINDOW)
    power = np.abs(np.fft.rfft(frames)) ** 2
    return np.log(power @ filters.T + 1e-6).astype(np.float32)


def audio_case(train: int = 800, epochs: int = 15) -> Case:
    filters = _mel_filters()
    rng = np.random.default_rng(5)
    y = rng.integers(0, len(SOUNDS), train + CALIBRATION + HELD_OUT)
    x = np.stack([log_mel(_signal(k, rng), filters) for k in y])

    def layers(inp):
        h = v1.layers.conv1d(inp, 16, 5, padding="same", activation=tf.nn.relu, name="c1")
        h = v1.layers.max_pooling1d(h, 2, 2)
        h = v1.layers.conv1d(h, 32, 3, padding="same", activation=tf.nn.relu, name="c2")
        h = v1.layers.conv1d(h, 32, 3, padding="same", activation=tf.nn.relu, name="c3")
        return v1.layers.dense(tf.reduce_mean(h, axis=1), len(SOUNDS), name="logits")

    def loss(out, labels):
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=out))

    net = _train_and_freeze("audio_logmel", layers, lambda out: tf.nn.softmax(out, name="probs"), loss,
                            x[:train], y[:train], (FRAMES, MELS), tf.int64, epochs)
    return _held_out_case(net, x[train:], y[train:], _argmax_hit)


SIZE = 16


def _blobs(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images of a bright blob at a random place on noise, its target heatmap (a unit Gaussian
    there) and its pixel index."""
    centers = rng.uniform(2, SIZE - 3, (count, 2))
    yy, xx = np.mgrid[:SIZE, :SIZE]
    d2 = (yy - centers[:, 0, None, None]) ** 2 + (xx - centers[:, 1, None, None]) ** 2
    images = rng.uniform(0.5, 2.0, (count, 1, 1)) * np.exp(-d2 / 4) + 0.3 * rng.standard_normal(d2.shape)
    heat = np.exp(-d2 / 2)
    where = np.round(centers).astype(int)
    return (images[..., None].astype(np.float32), heat[..., None].astype(np.float32),
            where[:, 0] * SIZE + where[:, 1])


def heatmap_case(train: int = 1200, epochs: int = 20) -> Case:
    x, heat, where = _blobs(train + CALIBRATION + HELD_OUT, np.random.default_rng(6))

    def layers(inp):
        h = v1.layers.conv2d(inp, 16, 3, padding="same", activation=tf.nn.relu, name="c1")
        h = v1.layers.conv2d(h, 16, 3, padding="same", activation=tf.nn.relu, name="c2")
        h = v1.layers.conv2d(h, 16, 3, padding="same", activation=tf.nn.relu, name="c3")
        return v1.layers.conv2d(h, 1, 1, name="heat")

    def loss(out, target):
        return tf.reduce_mean((out - target) ** 2)

    net = _train_and_freeze("heatmap_head", layers, lambda out: tf.identity(out, name="heatmap"), loss,
                            x[:train], heat[:train], (SIZE, SIZE, 1), tf.float32, epochs)
    return _held_out_case(net, x[train:], where[train:], _peak_hit)


def _peak_hit(output: np.ndarray, pixel: int) -> bool:
    peak = int(np.argmax(output))
    return abs(peak // SIZE - pixel // SIZE) <= 1 and abs(peak % SIZE - pixel % SIZE) <= 1


def _held_out_case(net, x, labels, hit) -> Case:
    name = list(net.inputs)[0]
    feeds = [{name: s[None]} for s in x]
    return Case(net, feeds[:CALIBRATION], feeds[CALIBRATION:], labels[CALIBRATION:], hit)


def _train_and_freeze(name, layers, head, loss, x, y, shape, target_type, epochs) -> networks.Network:
    """Trains layers (weights shared by the training graph and the one-sample inference graph
    it freezes) with Adam on (x, y), seeded."""
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(0)
        with v1.variable_scope(name):
            train_in = v1.placeholder(tf.float32, (None,) + shape)
            target = v1.placeholder(target_type, (None,) + y.shape[1:])
            step = v1.train.AdamOptimizer(0.005).minimize(loss(layers(train_in), target))
        with v1.variable_scope(name, reuse=True):
            inp = v1.placeholder(tf.float32, (1,) + shape, name="input")
            out = head(layers(inp))
        # One thread: threaded reductions made the trained weights, and so every error of the
        # row, differ from run to run (heatmap_head's TF int8 error 0.00103 to 0.00152).
        one_thread = v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
        with v1.Session(graph=graph, config=one_thread) as sess:
            sess.run(v1.global_variables_initializer())
            rng = np.random.default_rng(0)
            for _ in range(epochs):
                for idx in np.array_split(rng.permutation(len(x)), len(x) // 32):
                    sess.run(step, {train_in: x[idx], target: y[idx]})
            gd = v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), [out.op.name])
    return networks.Network(name, gd.SerializeToString(), {inp.op.name: ((1,) + shape, "float32")},
                            [out.op.name])


# ---- the columns -----------------------------------------------------------------------------

def tf_int8(case: Case, tmp: Path) -> bytes:
    return convert_tf(case.net, case.calibration)[0]


def tf_16x8(case: Case, tmp: Path) -> bytes:
    """TF's 16x8, keeping in float the ops it has no 16x8 scheme for."""
    return convert_tf(case.net, case.calibration, ("EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8",
                                                   "TFLITE_BUILTINS"))[0]


TARGET = 0.01  # the issue's --accuracy_target
# (network, fallback, ranges' method) -> the --accuracy_target note: which ops got the fallback.
TARGET_NOTES: dict[tuple[str, str, str], str] = {}


def ours(method: str = "minmax", weights: str = "minmax", bias_correction: bool = False, mode: str = "int8",
         fallback: str | None = None, rounding: str = "nearest"):
    """Our conversion; with a fallback, under --accuracy_target TARGET (its note kept)."""
    def convert(case: Case, tmp: Path) -> bytes:
        path = tmp / "calibration.npz"
        names = list(case.net.inputs)
        np.savez(path, **{n: np.concatenate([s[n][None] if case.net.inputs[n][0][0] != 1 else s[n]
                                             for s in case.calibration]) for n in names})
        options = QuantizeOptions(mode, calibration_data=str(path), calibration_method=method,
                                  bias_correction=bias_correction, weight_rounding=rounding)
        options.int8.weight_ranges, options.int8.scheme = weights, SCHEMES[mode]
        if fallback is not None:
            options.accuracy_target, options.fallback = TARGET, fallback
        result = api.convert_bytes(case.net.pb, input_arrays=names, output_arrays=case.net.outputs,
                                   quantize=options)
        if fallback is not None:
            note = next(n for n in result.notes if n.startswith("--accuracy_target"))
            TARGET_NOTES[case.net.name, fallback, method] = note
        return result.model
    return convert


def int8_weights_only(case: Case, tmp: Path) -> bytes:
    """The float model with each conv/FC weight rounded to per-channel int8 (min/max ranges) and
    read back: the error every scheme with int8 weights and round-to-nearest shares, whatever
    its activations."""
    graph = api.convert_bytes(case.net.pb, input_arrays=list(case.net.inputs), output_arrays=case.net.outputs).graph
    round_weights_to_int8(graph)
    return bytes(model_view(graph))


def round_weights_to_int8(graph) -> None:
    """Rounds each float conv/FC weight of the graph in place to the values per-channel int8
    (min/max ranges) holds."""
    for op in graph.ops:
        opdef = REGISTRY.get(op.type)
        axis = opdef.weight_axis if opdef else None
        weight = graph.tensors[op.inputs[axis[0]]] if axis else None
        if weight is not None and weight.is_const and weight.dtype == "float32":
            weight.data = (weight.data + rounding_error(weight.data, weight_params(weight.data, axis[1]))).astype(
                np.float32)


BASE = "min/max"  # what the summary compares each column with
COLUMNS: dict[str, Callable[[Case, Path], bytes]] = {
    "TF int8": tf_int8,
    BASE: ours(),
    "percentile 99.99": ours("percentile"),
    "mse": ours("mse"),
    "mse + w": ours("mse", "mse"),
    "min/max + bc": ours(bias_correction=True),
    "mse + bc": ours("mse", bias_correction=True),
    "mse + w + bc": ours("mse", "mse", True),
    "measured": ours("measured"),
    "measured + bc": ours("measured", bias_correction=True),
    "gptq": ours(rounding="gptq"),
    "gptq + bc": ours(bias_correction=True, rounding="gptq"),
    "TF 16x8": tf_16x8,
    "int16x8": ours(mode="int16x8"),
    "int16x8 + bc": ours(bias_correction=True, mode="int16x8"),
    "int16x8 + gptq + bc": ours(bias_correction=True, mode="int16x8", rounding="gptq"),
    "int8 weights only": int8_weights_only,
    f"target {TARGET} float": ours(fallback="float"),
    f"target {TARGET} float, measured": ours("measured", fallback="float"),
    f"target {TARGET} 16x8": ours(fallback="int16x8"),
}
# column -> (fallback, ranges' method)
TARGET_COLUMNS = {f"target {TARGET} float": ("float", "minmax"),
                  f"target {TARGET} float, measured": ("float", "measured"),
                  f"target {TARGET} 16x8": ("int16x8", "minmax")}


# ---- measuring -------------------------------------------------------------------------------

def measure(case: Case, model: bytes, expected: list[list[np.ndarray]]) -> tuple[float, float | None]:
    """(error over range, top-1 or None) on the held-out inputs."""
    got = [[outputs(model, feeds)[o] for o in case.net.outputs] for feeds in case.held_out]
    errors = []
    for k in range(len(case.net.outputs)):
        truth = np.stack([e[k] for e in expected]).astype(np.float64)
        mine = np.stack([g[k] for g in got]).astype(np.float64)
        errors.append(float(np.mean(np.abs(mine - truth))) / max(float(truth.max() - truth.min()), 1e-12))
    top1 = None
    if case.labels is not None:
        top1 = float(np.mean([case.hit(g[0], label) for g, label in zip(got, case.labels)]))
    return max(errors), top1


def row(case: Case) -> tuple[float | None, list[tuple[float, float | None] | str], dict[str, bytes]]:
    """The float model's top-1 (None without labels), each column's (error, top-1) or why it
    failed, and each column's model."""
    expected = [run_tf(case.net.pb, feeds, case.net.outputs) for feeds in case.held_out]
    float_top1 = None
    if case.labels is not None:
        float_top1 = float(np.mean([case.hit(e[0], label) for e, label in zip(expected, case.labels)]))
    cells: list[tuple[float, float | None] | str] = []
    models: dict[str, bytes] = {}
    for column, convert in COLUMNS.items():
        with tempfile.TemporaryDirectory() as tmp:
            try:
                models[column] = convert(case, Path(tmp))
                cells.append(measure(case, models[column], expected))
            except Exception as err:  # a failure is a result too
                cells.append(f"failed: {type(err).__name__}: {str(err)[:60]}")
    return float_top1, cells, models


def _cell(cell) -> str:
    if isinstance(cell, str):
        return cell
    error, top1 = cell
    return f"{error:.5f}" + (f" / {top1:.3f}" if top1 is not None else "")


CASES = {name: (lambda name=name: random_input_case(name)) for name in SMALL + ("MobileNetV2",)}
CASES.update(digits_cnn=digits_case, audio_logmel=audio_case, heatmap_head=heatmap_case)


def table(names: list[str]) -> str:
    lines = ["| network | " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    results, targets = {}, []
    for name in names:
        start = time.perf_counter()
        case = CASES[name]()
        float_top1, cells, models = results[name] = row(case)
        label = name if float_top1 is None else f"{name} (float top-1 {float_top1:.3f})"
        lines.append(f"| {label} | " + " | ".join(map(_cell, cells)) + " |")
        print(lines[-1], f"({time.perf_counter() - start:.0f} s)", flush=True)
        targets += target_rows(case, cells, models)
    return ("\n".join(lines) + "\n\n" + summary(results) + "\n\n### --accuracy_target " + f"{TARGET}\n\n"
            + TARGET_HEADER + "\n".join(targets) + "\n")


TARGET_HEADER = ("| network | fallback | held-out error | met | ops given the fallback | bytes vs min/max int8 "
                 "| LiteRT ms vs min/max int8 |\n|---|---|---:|---|---|---:|---:|\n")


def target_rows(case: Case, cells: list, models: dict[str, bytes]) -> list[str]:
    """Per --accuracy_target column: the error on this benchmark's held-out inputs, whether it
    meets the target, the ops the note names, and the cost in bytes and LiteRT latency (1 thread,
    default resolver) against the min/max int8 model."""
    rows = []
    columns = list(COLUMNS)
    for column, (fallback, method) in TARGET_COLUMNS.items():
        cell = cells[columns.index(column)]
        label = fallback if method == "minmax" else f"{fallback}, {method} ranges"
        if isinstance(cell, str) or BASE not in models:
            rows.append(f"| {case.net.name} | {label} | {_cell(cell)} | | | | |")
            continue
        note = TARGET_NOTES.get((case.net.name, fallback, method), "")
        count = note.split(": ", 1)[1].split(",")[0] if "ops (" in note else "none"
        base, mixed = latencies_ms([models[BASE], models[column]], case.held_out[0])
        rows.append(f"| {case.net.name} | {label} | {cell[0]:.5f} | {'yes' if cell[0] <= TARGET else 'no'} | "
                    f"{count} | {len(models[column]) - len(models[BASE]):+,} | {base:.3f} -> {mixed:.3f} |")
    return rows


def summary(results: dict) -> str:
    """Per column of ours: on how many networks its error is below, within 1% of, or above
    min/max's, and its largest error / TF int8's."""
    columns = list(COLUMNS)
    base, tf_column = columns.index(BASE), columns.index("TF int8")
    lines = ["| column | better than min/max | within 1% | worse | worst error / TF int8's |",
             "|---|---:|---:|---:|---:|"]
    for c, column in enumerate(columns):
        if c in (base, tf_column):
            continue
        counts, ratios = [0, 0, 0], []
        for _, cells, _ in results.values():
            if any(isinstance(cells[i], str) for i in (c, base, tf_column)):
                continue
            error, reference = cells[c][0], cells[base][0]
            counts[0 if error < 0.99 * reference else 2 if error > 1.01 * reference else 1] += 1
            ratios.append(error / max(cells[tf_column][0], 1e-12))
        lines.append(f"| {column} | {counts[0]} | {counts[1]} | {counts[2]} | {max(ratios, default=0):.2f} |")
    return "\n".join(lines)


# What the last full run showed about the defaults (kept with the code that writes the file).
DEFAULTS = (
    'The defaults stay min/max activation and weight ranges, nearest rounding and no bias correction:'
    ' no int8 column is better than min/max on every network (the issue makes a method the default '
    'only where it measures better). `measured` keeps min/max on every network here (no other '
    "method's error on their calibration samples is below 0.9x min/max's), so it is never worse; on "
    'the published models where int8 loses more than 5% of the output range it picks mse for the '
    "selfie segmenter (0.108 -> 0.028 of the range, 0.26x) and the percentile for the pose landmarker "
    '(0.410 -> 0.189, 0.46x; benchmarks/quant_published.md). MobileNetV2 (untrained) is the one network'
    " here where int8 loses more than 5%: all of it is its SOFTMAX's fixed int8 output step, which no "
    'range choice moves. Bias correction, with or without GPTQ rounding or measured ranges, comes '
    'closest to a default (never worse); see toco_py/quantize/bias_correction.py for why it is not one. '
    "In 16x8, GPTQ rounding with bias correction brings every network within 0.25x of TF's int8 error "
    "(worst 0.20x, digits_cnn and dropout_mlp), where plain 16x8 stops at the int8 weights' own error "
    '(0.81x on conv_bn_separable, as the int8-weights-only column shows); it is no default there either, '
    'being worse than plain 16x8 on gru_static_rnn (0.00071 against 0.00065), audio_logmel and '
    'lstm_language_model. --accuracy_target 0.01 is met everywhere, within 10% of the ops but on '
    'MobileNetV2 (15%): besides its SOFTMAX, each of the nine ops kept in float costs 0.6-1.1% of the '
    "output range quantized alone, and its int8 weights alone cost 0.8% of the 1% asked.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the three real-data cases only")
    parser.add_argument("--only", nargs="*", help="these cases (the file is not written)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "quant_accuracy.md"))
    args = parser.parse_args()
    names = args.only or (["digits_cnn", "audio_logmel", "heatmap_head"] if args.quick else list(CASES))
    start = time.perf_counter()
    body = table(names)
    text = ("# Quantized accuracy by range choice, int16x8 and --accuracy_target\n\n"
            f"Cells: mean |error| / float output range over {HELD_OUT} held-out inputs (/ top-1 where labels "
            f"exist), LiteRT running each model; {CALIBRATION} calibration samples, the same for every column. "
            "w: MSE weight ranges; bc: bias correction; measured: `--calibration-method measured`, whichever of "
            "min/max, percentile and mse ranges gives the least output error on the calibration samples; "
            "gptq: --weight-rounding gptq; int16x8: min/max ranges "
            "(widened 2x, as 16x8 calibrates); int8 weights only: the float model with its conv/FC weights "
            "rounded to nearest per-channel int8, the error every scheme with such weights shares; TF 16x8: "
            "TF's converter with EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 and TFLITE_BUILTINS "
            f"(float where it has no 16x8 scheme); target {TARGET}: `--accuracy_target {TARGET}` with float or 16x8 "
            "fallback (measured: and measured ranges). Test networks (and "
            "MobileNetV2, 224 px, weights=None) "
            "on random normal inputs; digits_cnn, "
            "audio_logmel and heatmap_head trained here on real digits and synthesized data.\n\n" + body
            + "\n" + DEFAULTS + "\n"
            + f"\nTook {time.perf_counter() - start:.0f} s. Reproduce: `.venv/bin/python -m "
            "benchmarks.quant_accuracy` (writes this file).\n")
    if not args.only:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
