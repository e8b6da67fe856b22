"""C bundles of fused TF1 LSTMs (passes/fuse_lstm.py -> UNIDIRECTIONAL_SEQUENCE_LSTM,
kernels/sequence_lstm.c): static_rnn graphs built as test_fuse_lstm builds them, converted by toco-py,
generated, built and run for 3 invokes in one process, each step's output within the float
tolerance policy of the interpreter's float64 run (codegen --verify --steps), and the bundle's
output close to TensorFlow's run of the .pb. A CIFG LSTM is refused in one line."""
from __future__ import annotations

import numpy as np
import pytest

from tests import test_fuse_lstm as fuse
from tests import test_lstm_op as lstm_op
from tests.support import lstm_models
from tests.support.codegen_check import TEST_OPT
from tests.support.oracle import litert, run_tf
from tests.support.policy import policy_failures
from toco_py import api
from toco_py.codegen.bundle import generate_bundle
from toco_py.codegen.lowering import CodegenError
from toco_py.codegen.verify import run_bundle_steps, verify_steps
from toco_py.tflite.reader import read_model

# (cell kind, layers, time_major, last_only): every option fuse_lstm emits once.
CASES = [
    ("lstm", 1, False, False),
    ("basic", 2, True, False),
    ("peephole_clip", 1, True, True),
    ("projection", 1, False, False),
    ("peephole_projection", 1, True, False),
    ("relu", 1, False, True),
]


@pytest.mark.parametrize(("kind", "layers", "time_major", "last_only"), CASES)
def test_fused_lstm_bundle_verifies_over_steps(kind, layers, time_major, last_only, tmp_path):
    pb = fuse._static_lstm(kind, layers, time_major, last_only)
    graph = read_model(api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"]).model).main
    assert [op.type for op in graph.ops].count("UNIDIRECTIONAL_SEQUENCE_LSTM") == layers
    steps = [{"x": x} for x in fuse._inputs(time_major)]
    out = str(tmp_path / "seq")
    bundle = generate_bundle(graph, out, "seq")
    report = verify_steps(graph, out, "seq", bundle.plan.arena_size, len(steps), opt=TEST_OPT,
                          feeds=steps)
    assert report.passed, "\n".join(f"{c.name}: {c.max_abs} {c.note}" for c in report.checks if not c.passed)
    # Every invoke starts from a zero state, as TensorFlow's run does (fuse_lstm's FILL).
    got = run_bundle_steps(str(tmp_path / "seq" / "seq_run"), graph, steps)
    failures = [f"invoke {k}: {f}" for k, (feeds, ours) in enumerate(zip(steps, got))
                for f in policy_failures(graph, feeds, {"TensorFlow": {"y": run_tf(pb, feeds, ["y"])[0]},
                                                        "bundle": {"y": ours["y"]}})]
    assert not failures, failures
    assert np.any(got[0]["y"] != 0)


def test_cifg_is_refused_in_one_line(tmp_path):
    pb = fuse._static_lstm("lstm", 1, False, False)
    graph = read_model(api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"]).model).main
    lstm = next(op for op in graph.ops if op.type == "UNIDIRECTIONAL_SEQUENCE_LSTM")
    lstm.inputs[1] = lstm.inputs[5] = lstm.inputs[12] = ""  # no input gate
    with pytest.raises(CodegenError, match="CIFG .* has no C kernel yet"):
        generate_bundle(graph, str(tmp_path / "cifg"), "cifg")


def test_keras_lstm_state_carries_over_invokes_as_in_litert(tmp_path):
    """TF's converter's Keras LSTM keeps its state in variable tensors no op zeroes: the bundle
    carries them in its state buffer, 3 invokes in one process within the float policy of one
    interpreter's runs (codegen --verify --steps) and of LiteRT's, the state carried in both."""
    model = lstm_models.float_model("sequences")
    graph = read_model(model).main
    inputs = list(lstm_models.sequences(3, 2, "sequences"))
    (name,), (out_name,) = graph.inputs, graph.outputs
    steps = [{name: x} for x in inputs]
    out = str(tmp_path / "keras")
    bundle = generate_bundle(graph, out, "keras")
    report = verify_steps(graph, out, "keras", bundle.plan.arena_size, len(steps), opt=TEST_OPT, feeds=steps)
    assert report.passed, "\n".join(f"{c.name}: {c.max_abs} {c.note}" for c in report.checks if not c.passed)
    got = [g[out_name] for g in run_bundle_steps(str(tmp_path / "keras" / "keras_run"), graph, steps)]
    interp = litert(model, delegates=False)
    theirs = []
    for x in inputs:
        interp.set_tensor(interp.get_input_details()[0]["index"], x)
        interp.invoke()
        theirs.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
    assert lstm_op._sequence_failures(graph, inputs, {"bundle": got, "LiteRT": theirs}) == []
    # The same input invoked again gives another output: the state carried.
    again = run_bundle_steps(str(tmp_path / "keras" / "keras_run"), graph, [steps[0], steps[0]])
    assert not np.allclose(again[0][out_name], again[1][out_name], atol=1e-3)
