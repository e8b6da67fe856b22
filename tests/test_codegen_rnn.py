"""C bundles of real converted loops: TF1 dynamic_rnn LSTM and GRU (float, and our int8
conversion; an LSTM with sequence_length too; the float LSTM without sequence_length becomes
the fused op, no loop), a nested loop with a cond on i % 2, the
seeds' greedy and beam search decoders. Each is
converted by toco-py, generated, built and run for 3 invokes in one process: float outputs
within the tolerance policy of the float64 truth (codegen --verify --steps), the int8 models'
outputs bit for bit with the interpreter and with LiteRT's reference kernels (their outputs
are DEQUANTIZEd, so --verify alone would hold them to the float policy only). A loop whose
TensorArray grows (-1 sizes) stays refused, and check --target codegen says so."""
from __future__ import annotations

import numpy as np
import pytest

from tests import test_int8_control_flow as int8_cf
from tests import test_tf1_while as tf1
from tests.support import seed_models
from tests.support.cli import assert_one_line_error, toco
from tests.support.codegen_check import TEST_OPT
from tests.support.oracle import litert
from toco_py import api
from toco_py.codegen.bundle import generate_bundle
from toco_py.codegen.verify import run_bundle_steps, verify_steps
from toco_py.interpreter import Interpreter
from toco_py.ir import Graph
from toco_py.tflite.reader import read_model

STEPS = 3


def _float_model(name: str) -> tuple[bytes, list[dict]]:
    rng = np.random.default_rng(5)
    if name in ("greedy", "beam"):
        seed = seed_models.seed_model(name, "tf1")
        model = api.convert_bytes(seed.pb, input_arrays=seed.inputs, output_arrays=seed.outputs).model
        return model, seed_models.feeds(name, STEPS)
    build_fn, shape = {"lstm": (tf1.RNNS["lstm"], (2, 5, 3)),
                       "gru_time_major": (tf1.RNNS["gru_time_major"], (5, 2, 3)),
                       "lstm_sequence_length": (tf1.RNNS["lstm_sequence_length"], (2, 5, 3)),
                       "nested": (tf1._nested_with_cond, (2, 4))}[name]
    pb, _ = tf1._freeze_tf1(build_fn)
    steps = [{"x": rng.standard_normal(shape).astype(np.float32)} for _ in range(STEPS)]
    if name == "nested":  # the outer loop runs 3, 4 and 5 times: both branches of the cond
        steps = [dict(s, n=np.int32(3 + k)) for k, s in enumerate(steps)]
    return api.convert_bytes(pb).model, steps


def _bundle(graph: Graph, folder, name: str, steps: list[dict]):
    out = str(folder / name)
    bundle = generate_bundle(graph, out, name)
    return bundle, verify_steps(graph, out, name, bundle.plan.arena_size, len(steps), opt=TEST_OPT,
                                feeds=steps)


@pytest.mark.parametrize("name", ["lstm", "gru_time_major", "lstm_sequence_length", "nested", "greedy",
                                  "beam"])
def test_float_loops_build_and_verify(name, tmp_path):
    model, steps = _float_model(name)
    graph = read_model(model).main
    kinds = {op.type for g in graph.subgraphs or [graph] for op in g.ops}
    if name == "lstm":  # no loop left: the fused op (passes/fuse_lstm_loop.py), its state zeroed each invoke
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in kinds and "WHILE" not in kinds, kinds
    else:
        assert "WHILE" in kinds and kinds & {"LOGICAL_AND", "FLOOR_MOD"}
    _, report = _bundle(graph, tmp_path, name, steps)
    assert report.passed, "\n".join(f"{c.name}: {c.max_abs} {c.note}" for c in report.checks if not c.passed)
    if name == "greedy":  # the decoder emitted tokens (not a loop that never ran)
        got = run_bundle_steps(str(tmp_path / name / f"{name}_run"), graph, steps)
        assert all(np.any(g["tokens"] != 0) for g in got)


def test_beam_decoder_runs_clean_under_sanitizers(tmp_path):
    """AddressSanitizer (each kernel call may touch only its own tensors: the rest of the
    arena is poisoned) and UBSan over the beam search: TOPK_V2, FLOOR_DIV / FLOOR_MOD, GATHER
    of the parent beams, LOG_SOFTMAX, in a loop."""
    model, steps = _float_model("beam")
    graph = read_model(model).main
    out = str(tmp_path / "beam")
    bundle = generate_bundle(graph, out, "beam")
    report = verify_steps(graph, out, "beam", bundle.plan.arena_size, len(steps), opt="-O1 -g",
                          extra_cflags="-fsanitize=address,undefined -fno-sanitize-recover=all",
                          feeds=steps)
    assert report.passed


@pytest.mark.parametrize("name", ["lstm", "gru_time_major"])
def test_int8_rnn_bit_for_bit(name, tmp_path):
    _, _, model, checks = int8_cf._convert_int8(name, tmp_path)
    graph = read_model(model).main
    steps = checks[:STEPS]
    bundle, report = _bundle(graph, tmp_path, name, steps)
    assert report.passed
    got = run_bundle_steps(str(tmp_path / name / f"{name}_run"), graph, steps)
    interp, lite = Interpreter(graph), litert(model, reference=True)
    for k, feeds in enumerate(steps):
        for detail in lite.get_input_details():
            lite.set_tensor(detail["index"], feeds[detail["name"]])
        lite.invoke()
        ours = interp.run(dict(feeds))
        for detail in lite.get_output_details():
            out = detail["name"]
            np.testing.assert_array_equal(got[k][out], ours[out], err_msg=f"{out} step {k}")
            np.testing.assert_array_equal(got[k][out], lite.get_tensor(detail["index"]),
                                          err_msg=f"{out} step {k}")
    assert "fc_s8" in bundle.families  # the cell runs in int8


def test_a_growing_tensor_array_stays_refused(tmp_path):
    """A TensorArray of dynamic size grows as the loop writes it ([-1, 3]): one line."""
    pb, _ = tf1._freeze_tf1(tf1._growing_array(loop=True))
    model = tmp_path / "grow.tflite"
    model.write_bytes(api.convert_bytes(pb).model)
    out = tmp_path / "bundle"
    proc = toco("codegen", str(model), "-o", str(out))
    assert_one_line_error(proc, "WHILE", "loop variable", "changes as the loop runs", "fixed shapes")
    assert not out.exists()


def test_check_reports_a_loop_codegen_refuses(tmp_path):
    """TF's converter's loop that grows a tensor by CONCATENATION: codegen has a kernel for
    each op but refuses the loop; check --target codegen used to call it supported."""
    from tests.test_codegen_control_flow import _growing_loop

    model = tmp_path / "grow.tflite"
    model.write_bytes(_growing_loop())
    proc = toco("check", str(model), "--target", "codegen")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "WHILE (loop variables change shape)" in proc.stdout
    assert "changes as the loop runs" in proc.stdout
    assert toco("check", str(model), "--target", "tflite").returncode == 0
