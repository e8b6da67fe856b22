"""A 2-layer LSTM language model run per token, as keyboard apps run it: fused and unfused,
toco-py's and TensorFlow's converter's, float and int8.

The model: token -> embedding (vocabulary 5,000, 128 wide) -> two LSTM layers of 256 units ->
dense 5,000: the next token's logits, whose top-k an app takes (a softmax after it would hide
the int8 error under its 1/256 output steps); --small shrinks it for a quick run. Its sources:
- a TF1 frozen graph of one step, each layer's state fed in and given back as graph inputs
  and outputs (LSTMCell on placeholders, the split-out inference step of the seeds);
- the same weights as a Keras model on one-token sequences, which TensorFlow's converter
  fuses (its fused ops keep their state in variable tensors from one invoke to the next, so
  per token it runs as a stateful model: the app feeds the token only).

Conversions: TF's converter on the TF1 graph (unfused cells) and on the Keras model (fused);
toco-py on the TF1 graph unfused (fuse_rnn=False), as it converts it by default (fused with
the state fed back in float; unfused in int8, where that fused op would stay float), and
fused with --stateful_rnn; each in float and int8 (calibrated on the float graph's own tokens
and states).

Per conversion, in one process: operators, .tflite bytes, LiteRT latency per token
(num_threads=1; all models stepped in turn through the same tokens, an explicit-state model's
state outputs fed back to its inputs, which is part of the app's per-token cost; median), with
the default resolver (XNNPACK takes the ops it has kernels for: FULLY_CONNECTED, not the
LSTM) and with LiteRT's builtin kernels alone, each as a ratio to the anchor (TF's unfused
float); the peak RSS a child process adds loading the model and running --tokens tokens; and
the mean |error| of the logits against TensorFlow running the TF1 graph over those tokens
(each model carrying its own state), relative to the logits' range.

    .venv/bin/python -m benchmarks.rnn_lm [--small] [--vocab N] [--tokens N] [--out PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ANCHOR = "TF, unfused, float"


@dataclass(frozen=True)
class Size:
    vocab: int
    embed: int
    units: int


KEYBOARD = Size(5000, 128, 256)
SMALL = Size(60, 8, 16)
LAYERS = 2
# TensorFlow's LSTMCell splits its kernel's columns i, j (the cell input), f, o; Keras's are
# i, f, c, o: the TF1 blocks in Keras's order.
KERAS_FROM_TF1 = (0, 2, 1, 3)
FORGET_BIAS = 1.0  # LSTMCell's default, added to the f gate


def _weights(size: Size) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    w = {"embedding": rng.normal(0, 1, (size.vocab, size.embed)),
         "dense": rng.normal(0, 2 / np.sqrt(size.units), (size.units, size.vocab)),
         "dense_bias": rng.normal(0, 0.1, size.vocab)}
    for k in range(LAYERS):
        n_in = size.embed if k == 0 else size.units
        w[f"kernel{k}"] = rng.normal(0, 1 / np.sqrt(n_in + size.units), (n_in + size.units, 4 * size.units))
        w[f"bias{k}"] = rng.normal(0, 0.1, 4 * size.units)
    return {k: v.astype(np.float32) for k, v in w.items()}


def _state_names() -> list[str]:
    return [f"{kind}_in{k}" for k in range(LAYERS) for kind in ("c", "h")]


def tf1_step_graph(size: Size, w: dict[str, np.ndarray]) -> tuple[bytes, list[str], list[str]]:
    """(frozen GraphDef, inputs, outputs) of one step with explicit state."""
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        token = v1.placeholder(tf.int32, [1], "token")
        x = tf.nn.embedding_lookup(tf.constant(w["embedding"]), token)
        outputs = []
        for k in range(LAYERS):
            c = v1.placeholder(tf.float32, [1, size.units], f"c_in{k}")
            h = v1.placeholder(tf.float32, [1, size.units], f"h_in{k}")
            with v1.variable_scope(f"layer{k}"):
                cell = v1.nn.rnn_cell.LSTMCell(size.units, forget_bias=FORGET_BIAS)
                x, state = cell(x, v1.nn.rnn_cell.LSTMStateTuple(c, h))
            outputs += [tf.identity(state.c, f"c_out{k}"), tf.identity(state.h, f"h_out{k}")]
        logits = tf.matmul(x, tf.constant(w["dense"])) + tf.constant(w["dense_bias"])
        outputs.insert(0, tf.identity(logits, name="logits"))
        with v1.Session(graph=graph) as sess:
            for k in range(LAYERS):
                kernel, bias = (v for v in v1.global_variables() if v.name.startswith(f"layer{k}/"))
                sess.run([kernel.assign(w[f"kernel{k}"]), bias.assign(w[f"bias{k}"])])
            gd = v1.graph_util.convert_variables_to_constants(
                sess, graph.as_graph_def(), [t.op.name for t in outputs])
    return gd.SerializeToString(), ["token", *_state_names()], [t.op.name for t in outputs]


def _keras_gates(a: np.ndarray, units: int) -> np.ndarray:
    return np.concatenate([a[..., g * units:(g + 1) * units] for g in KERAS_FROM_TF1], axis=-1)


def keras_converter(size: Size, w: dict[str, np.ndarray]):
    """TF's converter on the Keras form of the same model (one-token sequences, batch 1)."""
    import tensorflow as tf

    token = tf.keras.Input(batch_shape=(1, 1), dtype=tf.int32)
    x = tf.keras.layers.Embedding(size.vocab, size.embed, weights=[w["embedding"]])(token)
    for k in range(LAYERS):
        n_in = size.embed if k == 0 else size.units
        kernel = _keras_gates(w[f"kernel{k}"], size.units)
        bias = _keras_gates(w[f"bias{k}"], size.units)
        bias[size.units:2 * size.units] += FORGET_BIAS  # Keras's f block
        x = tf.keras.layers.LSTM(size.units, return_sequences=k < LAYERS - 1, weights=[
            kernel[:n_in], kernel[n_in:], bias])(x)
    logits = tf.keras.layers.Dense(size.vocab, weights=[w["dense"], w["dense_bias"]])(x)
    model = tf.keras.Model(token, logits)
    concrete = tf.function(lambda t: model(t)).get_concrete_function(tf.TensorSpec((1, 1), tf.int32))
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)


def tf1_trajectory(pb: bytes, outputs: list[str], tokens: np.ndarray, size: Size) -> list[tuple[dict, dict]]:
    """(feeds, TensorFlow's outputs) per token, the state fed back."""
    from tests.support.oracle import run_tf

    state = {n: np.zeros((1, size.units), np.float32) for n in _state_names()}
    steps = []
    for t in tokens:
        feeds = {"token": np.array([t], np.int32), **state}
        values = dict(zip(outputs, run_tf(pb, feeds, outputs), strict=True))
        steps.append((feeds, values))
        state = {n: values[n.replace("_in", "_out")] for n in state}
    return steps


class Stepper:
    """One model in LiteRT fed token after token; an explicit-state model gets its state
    outputs back as inputs, as the app would feed them."""

    def __init__(self, model: bytes, delegates: bool = True) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        resolver = OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        self.interp = Interpreter(model_content=model, num_threads=1, experimental_op_resolver_type=resolver)
        self.interp.allocate_tensors()
        ins = self.interp.get_input_details()
        self.inputs = {d["name"]: d for d in ins}
        self.outputs = {d["name"]: d for d in self.interp.get_output_details()}
        self.token = next(d for d in ins if d["dtype"] in (np.int32, np.int64))
        self.state = {n: np.zeros(d["shape"], d["dtype"]) for n, d in self.inputs.items() if d is not self.token}
        self.times: list[float] = []

    def step(self, token: int) -> np.ndarray:
        start = time.perf_counter()
        interp = self.interp
        interp.set_tensor(self.token["index"], np.full(self.token["shape"], token, self.token["dtype"]))
        for name, value in self.state.items():
            interp.set_tensor(self.inputs[name]["index"], value)
        interp.invoke()
        for name in self.state:
            self.state[name] = interp.get_tensor(self.outputs[name.replace("_in", "_out")]["index"])
        logits = interp.get_tensor(self._logits_index())
        self.times.append(time.perf_counter() - start)
        return logits.reshape(-1)

    def _logits_index(self) -> int:
        named = self.outputs.get("logits")
        if named is None:  # (TF's Keras conversion names its output after the call)
            named = next(d for d in self.outputs.values() if d["shape"][-1] > 1 and "_out" not in d["name"])
        return named["index"]


def peak_rss_mb(path: Path, tokens: int) -> float:
    """Peak RSS a child process adds by loading the model and running `tokens` tokens: its
    high-water mark (VmHWM, reset through clear_refs once LiteRT is imported) over its RSS
    then."""
    code = (
        "from benchmarks.rnn_lm import Stepper, _status_kb\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "before = _status_kb('VmRSS')\n"
        f"s = Stepper(open({str(path)!r}, 'rb').read())\n"
        f"for t in range({tokens}): s.step(t % 7)\n"
        "print(_status_kb('VmHWM') - before)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return int(out.stdout.split()[-1]) / 1024


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


@dataclass
class Row:
    label: str
    model: bytes | None = None
    refusal: str = ""
    ops: int = 0
    lstm_ops: int = 0
    latency_ms: float = 0.0
    builtin_ms: float = 0.0  # LiteRT's builtin kernels alone
    peak_mb: float = 0.0
    error: float = 0.0


def _quantize_npz(path: Path, steps: list[tuple[dict, dict]]) -> str:
    np.savez(path, **{name: np.stack([f[name] for f, _ in steps]) for name in steps[0][0]})
    return str(path)


def conversions(size: Size, work: Path, calibration: list[tuple[dict, dict]]) -> list[Row]:
    import tensorflow as tf

    from tests.support.oracle import tf_convert
    from toco_py import api
    from toco_py.quantize.driver import QuantizeOptions

    w = _weights(size)
    pb, inputs, outputs = tf1_step_graph(size, w)
    (work / "lm.pb").write_bytes(pb)
    cal = _quantize_npz(work / "cal.npz", calibration)
    int8 = QuantizeOptions("int8", calibration_data=cal)

    def tf_int8_tf1():
        conv = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(str(work / "lm.pb"), inputs, outputs)
        conv.optimizations = {tf.lite.Optimize.DEFAULT}
        conv.representative_dataset = lambda: ([f[n] for n in inputs] for f, _ in calibration)
        return conv.convert()

    def tf_int8_keras():
        conv = keras_converter(size, w)
        conv.optimizations = {tf.lite.Optimize.DEFAULT}
        conv.representative_dataset = lambda: ([f["token"].reshape(1, 1)] for f, _ in calibration)
        return conv.convert()

    makers = {
        "TF, unfused, float": lambda: tf_convert(str(work / "lm.pb"), inputs, outputs),
        "TF, unfused, int8": tf_int8_tf1,
        "TF, fused (Keras), float": lambda: keras_converter(size, w).convert(),
        "TF, fused (Keras), int8": tf_int8_keras,
        "toco-py, unfused, float": lambda: api.convert_bytes(pb, inputs, outputs, fuse_rnn=False).model,
        "toco-py, unfused, int8": lambda: api.convert_bytes(pb, inputs, outputs, fuse_rnn=False,
                                                            quantize=int8).model,
        "toco-py, fused, state fed in, float": lambda: api.convert_bytes(pb, inputs, outputs).model,
        "toco-py, fused, --stateful_rnn, float": lambda: api.convert_bytes(pb, inputs, outputs,
                                                                           stateful_rnn=True).model,
        # (int8 leaves a step whose state is fed in unfused: its fused op would stay float)
        "toco-py, state fed in, int8": lambda: api.convert_bytes(pb, inputs, outputs, quantize=int8).model,
        "toco-py, fused, --stateful_rnn, int8": lambda: api.convert_bytes(
            pb, inputs, outputs, stateful_rnn=True, quantize=int8).model,
    }
    rows = []
    for label, make in makers.items():
        row = Row(label)
        try:
            model = bytes(make())
        except Exception as exc:  # noqa: BLE001 - a refusal is a result
            row.refusal = "refused: " + str(exc).strip().splitlines()[0][:160]
        else:
            try:
                row.ops, row.lstm_ops = _op_counts(model)
                row.model = model
            except RuntimeError as exc:  # (LiteRT's Prepare refusing it)
                row.refusal = "LiteRT fails: " + str(exc).strip().splitlines()[0][:160]
        rows.append(row)
    return rows


def _op_counts(model: bytes) -> tuple[int, int]:
    from tests.support.oracle import op_types

    types = op_types(model)
    return len(types), types.count("UNIDIRECTIONAL_SEQUENCE_LSTM")


def measure(rows: list[Row], tokens: np.ndarray, reference: list[np.ndarray], work: Path) -> None:
    live = [r for r in rows if r.model is not None]
    steppers = [Stepper(r.model) for r in live]
    builtin = [Stepper(r.model, delegates=False) for r in live]
    errors: list[list[float]] = [[] for _ in live]
    for t, want in zip(tokens, reference):
        span = float(want.max() - want.min())
        for k, stepper in enumerate(steppers):  # in turn: drift hits them alike
            got = stepper.step(int(t))
            errors[k].append(float(np.mean(np.abs(got.astype(np.float64) - want))) / span)
            builtin[k].step(int(t))
    for row, stepper, alone, errs in zip(live, steppers, builtin, errors):
        row.latency_ms = statistics.median(stepper.times[1:]) * 1e3
        row.builtin_ms = statistics.median(alone.times[1:]) * 1e3
        row.error = float(np.mean(errs))
        path = work / f"{len(row.label)}_{abs(hash(row.label))}.tflite"
        path.write_bytes(row.model)
        row.peak_mb = peak_rss_mb(path, len(tokens))


def render(rows: list[Row], size: Size, tokens: int) -> str:
    anchor = next(r for r in rows if r.label == ANCHOR)
    lines = [f"# 2-layer LSTM language model per token (vocabulary {size.vocab}, embedding {size.embed}, "
             f"{size.units} units)", "",
             "Written by `.venv/bin/python -m benchmarks.rnn_lm` (see its docstring for what each column "
             f"measures); {tokens} tokens, LiteRT num_threads=1, default resolver.", "",
             "| conversion | ops | fused LSTMs | bytes | ms / token | speed-up | ms / token, builtin kernels | "
             "speed-up | peak RSS MB | mean error / range |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.model is None:
            lines.append(f"| {r.label} | {r.refusal} | | | | | | | | |")
            continue
        lines.append(f"| {r.label} | {r.ops} | {r.lstm_ops} | {len(r.model)} | {r.latency_ms:.3f} | "
                     f"{anchor.latency_ms / r.latency_ms:.2f}x | {r.builtin_ms:.3f} | "
                     f"{anchor.builtin_ms / r.builtin_ms:.2f}x | {r.peak_mb:.1f} | {r.error:.2e} |")
    lines += ["", *_verdict(rows, size)]
    return "\n".join(lines) + "\n"


def _verdict(rows: list[Row], size: Size) -> list[str]:
    """The issue's targets, from the rows: fused int8 per token against unfused float, and its
    bytes against TF's converter's."""
    by = {r.label: r for r in rows if r.model is not None}
    fused, unfused = by.get("toco-py, fused, --stateful_rnn, int8"), by.get("toco-py, unfused, float")
    tf_bytes = [len(r.model) for label, r in by.items() if label.startswith("TF") and label.endswith("int8")]
    if fused is None or unfused is None or not tf_bytes:
        return ["Targets: not measured (a conversion above was refused)."]
    speed, alone = unfused.latency_ms / fused.latency_ms, unfused.builtin_ms / fused.builtin_ms
    head = size.units * size.vocab
    lstm = 4 * size.units * (size.embed + size.units) + 4 * size.units * 2 * size.units
    return [
        f"Target 1, fused int8 at least 2x faster per token than unfused float: {speed:.2f}x with the "
        f"default resolver, {alone:.2f}x with LiteRT's builtin kernels alone: "
        f"{'met' if speed >= 2 else 'not met'}. The dense head ({head} multiply-adds per token, against "
        f"{lstm} in the two LSTM layers) is the same in every row; XNNPACK runs the unfused cells' "
        "FULLY_CONNECTEDs and the head, in float and int8, while the fused LSTM runs LiteRT's own "
        "kernel with either resolver (the unfused int8 cells under XNNPACK are the fastest row).",
        f"Target 2, at most TF's converter's bytes: {len(fused.model)} against TF's smallest int8 "
        f"{min(tf_bytes)}: {'met' if len(fused.model) <= min(tf_bytes) else 'not met'}."]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--vocab", type=int, help="another vocabulary size (a small one times the "
                        "LSTM layers with a negligible head)")
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "rnn_lm.md"))
    args = parser.parse_args()
    size = SMALL if args.small else KEYBOARD
    if args.vocab:
        size = Size(args.vocab, size.embed, size.units)
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, size.vocab, args.tokens)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        w = _weights(size)
        pb, _, outputs = tf1_step_graph(size, w)
        trajectory = tf1_trajectory(pb, outputs, tokens, size)
        calibration = tf1_trajectory(pb, outputs, rng.integers(0, size.vocab, 64), size)
        rows = conversions(size, work, calibration)
        measure(rows, tokens, [v["logits"].reshape(-1) for _, v in trajectory], work)
    text = render(rows, size, args.tokens)
    Path(args.out).write_text(text)
    print(text)
    print(json.dumps({r.label: {"bytes": len(r.model or b""), "ms": r.latency_ms, "builtin_ms": r.builtin_ms}
                      for r in rows}))


if __name__ == "__main__":
    main()
