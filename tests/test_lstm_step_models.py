"""A single LSTM step split out for inference, its state fed back by the app as graph inputs
and outputs (the keyboard apps' language models): one UNIDIRECTIONAL_SEQUENCE_LSTM of
sequence length 1 with the same interface, and with --stateful_rnn the state kept in the
model between invokes (passes/fuse_lstm.py). Checked against TensorFlow running the .pb
step after step, in LiteRT with and without its default delegate (XNNPACK), in our
interpreter and in the C bundle."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from tests.support.codegen_check import TEST_OPT  # noqa: E402
from tests.support.oracle import litert, op_types, run_tf  # noqa: E402
from tests.support.policy import policy_failures  # noqa: E402
from toco_py import api  # noqa: E402
from toco_py.codegen.bundle import generate_bundle  # noqa: E402
from toco_py.codegen.verify import verify_steps  # noqa: E402
from toco_py.interpreter import Interpreter  # noqa: E402
from toco_py.tflite.reader import read_model  # noqa: E402
from toco_py.tolerance import judge, sequence_bounds  # noqa: E402

v1 = tf.compat.v1
VOCAB, EMBED, UNITS, PROJ = 40, 6, 8, 5
TOKENS = 6


def _cell(kind: str):
    if kind == "basic":
        return v1.nn.rnn_cell.BasicLSTMCell(UNITS, forget_bias=0.6)
    if kind == "peephole_projection":
        return v1.nn.rnn_cell.LSTMCell(UNITS, use_peepholes=True, num_proj=PROJ, cell_clip=1.5)
    raise ValueError(kind)


def _step_model(kind: str, layers: int, state_out: bool = True) -> tuple[bytes, list[str], list[str]]:
    """token -> embedding -> `layers` cells on state placeholders -> logits; each layer's
    (c_in{k}, h_in{k}) come in and (c_out{k}, h_out{k}) go out. Returns (pb, inputs, outputs)."""
    n_h = PROJ if kind == "peephole_projection" else UNITS
    graph = tf.Graph()
    with graph.as_default():
        token = v1.placeholder(tf.int32, [1], "token")
        rng = np.random.default_rng(5)
        table = tf.constant(rng.normal(0, 1, (VOCAB, EMBED)).astype(np.float32))
        x = tf.nn.embedding_lookup(table, token)
        inputs, outputs = ["token"], []
        for k in range(layers):
            c = v1.placeholder(tf.float32, [1, UNITS], f"c_in{k}")
            h = v1.placeholder(tf.float32, [1, n_h], f"h_in{k}")
            inputs += [f"c_in{k}", f"h_in{k}"]
            with v1.variable_scope(f"layer{k}"):
                x, state = _cell(kind)(x, v1.nn.rnn_cell.LSTMStateTuple(c, h))
            if state_out:
                tf.identity(state.c, f"c_out{k}")
                tf.identity(state.h, f"h_out{k}")
                outputs += [f"c_out{k}", f"h_out{k}"]
        w = tf.constant(rng.normal(0, 1, (n_h, VOCAB)).astype(np.float32))
        tf.nn.softmax(tf.matmul(x, w), name="probs")
        outputs = ["probs", *outputs]
        assigns = [var.assign(rng.uniform(-0.6, 0.6, var.shape).astype(np.float32))
                   for var in v1.global_variables()]
        with v1.Session(graph=graph) as sess:
            sess.run(assigns)
            gd = v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), outputs)
    return gd.SerializeToString(), inputs, outputs


def _state_shapes(kind: str, layers: int) -> dict[str, tuple[int, int]]:
    n_h = PROJ if kind == "peephole_projection" else UNITS
    return {name: shape for k in range(layers) for name, shape in ((f"c_in{k}", (1, UNITS)), (f"h_in{k}", (1, n_h)))}


def _tf_steps(pb: bytes, kind: str, layers: int, outputs: list[str]) -> list[tuple[dict, dict]]:
    """(feeds, TensorFlow's outputs) of each token, from a zero state fed back as an app does."""
    state = {name: np.zeros(shape, np.float32) for name, shape in _state_shapes(kind, layers).items()}
    steps = []
    for token in _tokens():
        feeds = {"token": token, **state}
        values = dict(zip(outputs, run_tf(pb, feeds, outputs), strict=True))
        steps.append((feeds, values))
        state = {name: values[name.replace("_in", "_out")] for name in state}
    return steps


def _tokens() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    return [rng.integers(0, VOCAB, (1,)).astype(np.int32) for _ in range(TOKENS)]


def _run_litert(interp, feeds: dict) -> dict:
    by_name = {d["name"]: d["index"] for d in interp.get_input_details()}
    for name, value in feeds.items():
        interp.set_tensor(by_name[name], value)
    interp.invoke()
    return {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}


def _convert(pb: bytes, inputs: list[str], outputs: list[str], stateful: bool = False, **options):
    return api.convert_bytes(pb, input_arrays=inputs, output_arrays=outputs, stateful_rnn=stateful, **options)


@pytest.mark.parametrize(("kind", "layers"), [("basic", 1), ("peephole_projection", 1), ("basic", 2)])
def test_step_model_fuses_with_the_same_interface(kind, layers):
    """Each step fed the state TensorFlow's previous step gave, in one LiteRT interpreter with
    and without XNNPACK and in ours: within the float policy of TensorFlow's outputs."""
    pb, inputs, outputs = _step_model(kind, layers)
    result = _convert(pb, inputs, outputs)
    assert op_types(result.model).count("UNIDIRECTIONAL_SEQUENCE_LSTM") == layers
    assert result.graph.inputs == inputs and result.graph.outputs == outputs
    reference = read_model(result.model).main
    engines = {"LiteRT": litert(result.model, delegates=False), "LiteRT+XNNPACK": litert(result.model)}
    ours = Interpreter(reference)
    failures = []
    for k, (feeds, tf_values) in enumerate(_tf_steps(pb, kind, layers, outputs)):
        candidates = {"TensorFlow": tf_values, "toco-py": ours.run(feeds)}
        candidates |= {name: _run_litert(interp, feeds) for name, interp in engines.items()}
        failures += [f"token {k}: {f}" for f in policy_failures(reference, feeds, candidates)]
    assert not failures, failures


def test_stateful_rnn_keeps_the_state_in_the_model(tmp_path):
    """--stateful_rnn: only the token goes in, the cell states stay in the model; each invoke
    continues from the last one (TensorFlow fed back its own state), until reset."""
    kind, layers = "basic", 2
    pb, inputs, outputs = _step_model(kind, layers)
    result = _convert(pb, inputs, outputs, stateful=True)
    graph = result.graph
    assert graph.inputs == ["token"]
    assert graph.outputs == [n for n in outputs if not n.startswith("c_out")]
    assert op_types(result.model).count("UNIDIRECTIONAL_SEQUENCE_LSTM") == layers
    reference = read_model(result.model).main
    engines = {"LiteRT": litert(result.model, delegates=False), "LiteRT+XNNPACK": litert(result.model)}
    ours = Interpreter(reference)
    steps = _tf_steps(pb, kind, layers, outputs)
    feeds_by_step = [{"token": feeds["token"]} for feeds, _ in steps]
    failures = []
    # The truth and its allowance carry the state over the steps (tolerance.sequence_bounds).
    for k, (bounds, feeds, (_, tf_values)) in enumerate(zip(sequence_bounds(reference, feeds_by_step),
                                                           feeds_by_step, steps, strict=True)):
        candidates = {"TensorFlow": tf_values, "toco-py": ours.run(feeds)}
        candidates |= {name: _run_litert(interp, feeds) for name, interp in engines.items()}
        for label, values in candidates.items():
            for name in graph.outputs:
                verdict = judge(name, values[name], bounds.truth[name], bounds.allowed[name])
                if not verdict.passed:
                    failures.append(f"token {k} {label} {name}: {verdict.ratio:.3g} allowances")
    assert not failures, failures
    # After a reset the first token's outputs come back; without one they do not.
    feeds, first = steps[0]
    interp = engines["LiteRT"]
    carried = _run_litert(interp, {"token": feeds["token"]})["probs"]
    interp.reset_all_variables()
    again = _run_litert(interp, {"token": feeds["token"]})["probs"]
    assert np.abs(again - first["probs"]).max() < 1e-6
    assert np.abs(carried - first["probs"]).max() > 1e-3
    # The C bundle carries the state over its invokes too (against the interpreter's steps).
    bundle = generate_bundle(reference, str(tmp_path / "lm"), "lm")
    report = verify_steps(reference, str(tmp_path / "lm"), "lm", bundle.plan.arena_size, len(feeds_by_step),
                          opt=TEST_OPT, feeds=feeds_by_step)
    assert report.passed, "\n".join(f"{c.name}: {c.max_abs} {c.note}" for c in report.checks if not c.passed)


def test_state_in_without_state_out_stays_unfused_with_a_note():
    """State fed in but never given back: nothing says which outputs an app would feed back,
    so the cell stays as it is (and still computes TensorFlow's values)."""
    pb, inputs, outputs = _step_model("basic", 1, state_out=False)
    lines = []
    result = _convert(pb, inputs, outputs, log=lines.append)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in op_types(result.model)
    assert any("fuse_lstm" in line and "unfused" in line for line in lines), lines
    reference = read_model(result.model).main
    rng = np.random.default_rng(2)
    feeds = {"token": _tokens()[0]} | {name: rng.normal(0, 1, shape).astype(np.float32)
                                       for name, shape in _state_shapes("basic", 1).items()}
    tf_values = dict(zip(outputs, run_tf(pb, feeds, outputs), strict=True))
    assert policy_failures(reference, feeds, {"TensorFlow": tf_values, "LiteRT": _run_litert(
        litert(result.model), feeds)}) == []


def test_stateful_rnn_without_an_lstm_says_so(tmp_path):
    pb, inputs, outputs = _step_model("basic", 1, state_out=False)
    result = _convert(pb, inputs, outputs, stateful=True)
    assert any("--stateful_rnn" in note for note in result.notes), result.notes
    assert result.graph.inputs == inputs

