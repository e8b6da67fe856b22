"""C bundles of int8 fused LSTMs (TFLite's 8x8_16, kernels/sequence_lstm_s8.c): TF's converter's
Keras int8 LSTM, our own int8 conversion of TF1 cells (its FILLs zero the states each invoke)
and the optional parts of tests/test_lstm_op.py built to int8 (peepholes, projection, clips,
time major) run for several invokes in one process, a carried state in the bundle's state
buffer, bit for bit with the interpreter (codegen --verify --steps) and with LiteRT's reference
kernels, built with -Werror under ASan and UBSan. The int8 output state starts
at its zero point, as LiteRT and TFLM reset a variable tensor, and NAME_reset() returns to it.
CIFG and layer norm are refused in one line; check --target codegen accepts the models."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from tests import test_lstm_op as lstm_op
from tests.support import lstm_models
from tests.support.codegen_check import TEST_OPT, table
from tests.support.oracle import litert
from tests.test_codegen_control_flow import RESET_DRIVER, _sources
from toco_py import api
from toco_py.check import check_graph
from toco_py.codegen.bundle import generate_bundle
from toco_py.codegen.lowering import CodegenError
from toco_py.codegen.verify import run_bundle_steps, verify_steps
from toco_py.ir import Graph
from toco_py.ops.lstm import INDEX
from toco_py.quantize.driver import QuantizeOptions
from toco_py.quantize.full_integer import Int8Options
from toco_py.tflite.reader import read_model
from toco_py.tflite.writer import model_bytes

SANITIZE = "-fsanitize=address,undefined -fno-sanitize-recover=all"
INVOKES = 4
KERAS = "two_layers_time_major"

# test_lstm_op's int8 cases the kernel has (it refuses CIFG, as the float one), and LiteRT's
# peephole over n_output values of the flat gates with a time-major batch of 2 (_peephole).
CASES = {**{case: parts for case, parts in lstm_op.INT8_CASES.items() if not parts.get("cifg")},
         "time_major_peephole_projection_clip": {"time_major": True, "peephole": True, "projection": 3,
                                                 "cell_clip": 0.5}}


def case_model(case: str) -> bytes:
    return model_bytes(lstm_op._quantize_lstm(lstm_op._lstm_graph(**CASES[case])))


def one_op_graphs() -> list[Graph]:
    """The graphs this module bundles (test_codegen_tables lowers them)."""
    return [read_model(case_model(case)).main for case in sorted(CASES)]


def _bit_exact_failures(model: bytes, inputs: list[np.ndarray], folder, carried: bool = True) -> list[str]:
    """What differs, [] when nothing does: the bundle, built with -Werror under the sanitizers,
    runs the inputs in one process, each invoke equal to the interpreter's (--verify --steps)
    and to LiteRT's reference kernels on one interpreter. The same input invoked twice gives
    another output if the state is carried over invokes, the same one if FILLs zero it."""
    graph = read_model(model).main
    steps = [{graph.inputs[0]: x} for x in inputs]
    out = str(folder / "lstm")
    bundle = generate_bundle(graph, out, "lstm")
    report = verify_steps(graph, out, "lstm", bundle.plan.arena_size, len(steps), opt=TEST_OPT,
                          extra_cflags=SANITIZE, feeds=steps)
    if not report.passed:
        return [f"against the interpreter: {table(report)}"]
    got = run_bundle_steps(str(folder / "lstm" / "lstm_run"), graph, steps)
    theirs = lstm_op._litert_runs(model, inputs, reference=True)
    failures = [f"invoke {k}: {np.count_nonzero(ours[graph.outputs[0]] != want)} of {want.size} differ "
                "from LiteRT's reference kernels"
                for k, (ours, want) in enumerate(zip(got, theirs)) if not np.array_equal(ours[graph.outputs[0]], want)]
    again = run_bundle_steps(str(folder / "lstm" / "lstm_run"), graph, [steps[0], steps[0]])
    if np.array_equal(again[0][graph.outputs[0]], again[1][graph.outputs[0]]) == carried:
        failures.append("the state is " + ("not carried over invokes" if carried else "carried over invokes"))
    return failures


@pytest.mark.parametrize("case", CASES)
def test_optional_parts_bit_exact_over_invokes(case, tmp_path):
    model = case_model(case)
    graph = read_model(model).main
    rng = np.random.default_rng(5)
    inputs = [rng.integers(-128, 128, graph.tensors["x"].shape).astype(np.int8) for _ in range(INVOKES)]
    assert _bit_exact_failures(model, inputs, tmp_path) == []


def test_rows_longer_than_the_dot_product_lanes_bit_exact(monkeypatch, tmp_path):
    """Rows of 20 inputs, 18 outputs and 36 cells: the C dot product's 16 lanes and their tail
    (the cases above are shorter than one run of lanes)."""
    monkeypatch.setattr(lstm_op, "N_INPUT", 20)
    monkeypatch.setattr(lstm_op, "N_CELL", 36)
    graph = lstm_op._quantize_lstm(lstm_op._lstm_graph(peephole=True, projection=18, time_major=True))
    model = model_bytes(graph)
    rng = np.random.default_rng(8)
    inputs = [rng.integers(-128, 128, graph.tensors["x"].shape).astype(np.int8) for _ in range(INVOKES)]
    assert _bit_exact_failures(model, inputs, tmp_path) == []


@pytest.mark.parametrize("cell_log2", [-9, -15])
def test_cell_scales_at_the_ends_of_litert_tanh_bit_exact(cell_log2, tmp_path):
    """The cell's tanh in Q6.9 (its exp in 7 integer bits) and in Q0.15 (the
    cases above have 2^-11: Q4.11; the Keras model 2^-16, no tanh)."""
    graph = lstm_op._quantize_lstm(lstm_op._lstm_graph(peephole=True, time_major=True))
    graph.tensors["c"].quant.scale[:] = 2.0 ** cell_log2
    model = model_bytes(graph)
    rng = np.random.default_rng(6)
    inputs = [rng.integers(-128, 128, graph.tensors["x"].shape).astype(np.int8) for _ in range(INVOKES)]
    assert _bit_exact_failures(model, inputs, tmp_path) == []


@pytest.fixture(scope="module")
def keras_model() -> bytes:
    """Two Keras LSTM layers, time major, through TF's converter (one conversion, ~10-40 s: the
    only Keras model of this file; batch-major ones are the cases above)."""
    return lstm_models.int8_model(KERAS)


def test_keras_int8_lstm_bit_exact_over_invokes(keras_model, tmp_path):
    graph = read_model(keras_model).main
    lstms = [op for op in graph.ops if op.type == "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    assert len(lstms) == 2
    # A zero point the bundle must start the output state at (zero would differ at once).
    assert graph.tensors[lstms[0].inputs[INDEX["output_state"]]].quant.zero_point[0] != 0
    # The second layer's cell scale is 2^-16, where LiteRT leaves the cell's tanh unapplied.
    assert graph.tensors[lstms[1].inputs[INDEX["cell_state"]]].quant.scale[0] == np.float32(2.0 ** -16)
    assert _bit_exact_failures(keras_model, lstm_op._int8_inputs(graph, INVOKES, 4, KERAS), tmp_path) == []
    assert check_graph(graph, KERAS, "codegen").findings == []


def test_reset_returns_to_the_zero_point_state(keras_model, tmp_path):
    """The inputs run twice in one process, NAME_reset() between: the same outputs, the
    interpreter's from its reset state."""
    graph = read_model(keras_model).main
    inputs = lstm_op._int8_inputs(graph, 3, 7, KERAS)
    folder = tmp_path / "s"
    generate_bundle(graph, str(folder), "s")
    (folder / "reset_main.c").write_text(RESET_DRIVER)
    sources = [str(folder / f) for f in _sources(folder) if f != "main.c"] + [str(folder / "reset_main.c")]
    subprocess.run(["cc", "-std=c99", "-O1", "-o", str(folder / "reset_run"), *sources, "-lm"], check=True)
    np.stack(inputs).tofile(folder / "frames.bin")
    subprocess.run([str(folder / "reset_run"), str(folder / "frames.bin"), str(folder / "out.bin")], check=True)
    t = graph.tensors[graph.outputs[0]]
    got = np.fromfile(folder / "out.bin", np.int8).reshape(2, len(inputs), *t.shape)
    np.testing.assert_array_equal(got[0], got[1])
    np.testing.assert_array_equal(got[0], np.stack(lstm_op._our_runs(graph, inputs)))


def test_our_int8_lstm_bit_exact_over_invokes(tmp_path):
    """toco-py's own int8 conversion of a TF1 static_rnn (quantize/lstm.py): QUANTIZE, int8
    FILLs zeroing the states at their zero points each invoke, the integer LSTM, DEQUANTIZE;
    the float outputs equal the interpreter's and LiteRT's reference kernels'."""
    from tests.test_fuse_lstm import _static_lstm
    from tests.test_int8_lstm import _sequences

    layers = 1
    np.save(tmp_path / "calibration.npy", _sequences(False, 8, 1))
    options = QuantizeOptions("int8", calibration_data=str(tmp_path / "calibration.npy"),
                              int8=Int8Options(int8_only=True))
    model = api.convert_bytes(_static_lstm("lstm", layers, False, False), input_arrays=["x"],
                              output_arrays=["y"], quantize=options).model
    graph = read_model(model).main
    lstms = [op for op in graph.ops if op.type == "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    assert len(lstms) == layers and all(graph.tensors[op.inputs[0]].dtype == "int8" for op in lstms)
    assert [op.type for op in graph.ops].count("FILL") == 2 * layers
    assert _bit_exact_failures(model, list(_sequences(False, INVOKES, 2)), tmp_path, carried=False) == []


def test_our_stateful_int8_language_model_step_bit_exact_over_tokens(tmp_path):
    """--stateful_rnn --quantize int8 of a 2-layer LSTM language model step: the app feeds one
    token per invoke, the int8 states stay in the bundle (its output states starting at their
    zero points); every output of every token equals LiteRT's reference kernels' (and the
    interpreter's, --verify --steps)."""
    from tests import test_lstm_step_models as step_models

    pb, inputs, outputs = step_models._step_model("basic", 2)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "calibration.npz", token=rng.integers(0, step_models.VOCAB, (16, 1)).astype(np.int32))
    options = QuantizeOptions("int8", calibration_data=str(tmp_path / "calibration.npz"))
    model = api.convert_bytes(pb, input_arrays=inputs, output_arrays=outputs, stateful_rnn=True,
                              quantize=options).model
    graph = read_model(model).main
    assert graph.inputs == ["token"]
    feeds = [{"token": rng.integers(0, step_models.VOCAB, (1,)).astype(np.int32)} for _ in range(INVOKES)]
    bundle = generate_bundle(graph, str(tmp_path / "lm"), "lm")
    report = verify_steps(graph, str(tmp_path / "lm"), "lm", bundle.plan.arena_size, len(feeds), opt=TEST_OPT,
                          extra_cflags=SANITIZE, feeds=feeds)
    assert report.passed, table(report)
    got = run_bundle_steps(str(tmp_path / "lm" / "lm_run"), graph, feeds)
    interp = litert(model, reference=True, delegates=False)
    index = {d["name"]: d["index"] for d in interp.get_input_details() + interp.get_output_details()}
    for k, (ours, feed) in enumerate(zip(got, feeds)):
        interp.set_tensor(index["token"], feed["token"])
        interp.invoke()
        for name in graph.outputs:
            assert np.array_equal(ours[name], interp.get_tensor(index[name])), f"token {k}: {name}"


def _layer_norm(graph: Graph) -> Graph:
    """test_lstm_op quantizes no layer-norm LSTM: the plain one given a coefficient input."""
    lstm = graph.ops[0]
    lstm.inputs[INDEX["forget_layer_norm_coefficients"]] = lstm.inputs[INDEX["forget_gate_bias"]]
    return graph


@pytest.mark.parametrize(("parts", "message"), [("cifg", "CIFG .* has no C kernel yet"),
                                                ("layer_norm", "layer norm has no C kernel yet")])
def test_cifg_and_layer_norm_are_refused_in_one_line(parts, message, tmp_path):
    if parts == "cifg":
        graph = lstm_op._quantize_lstm(lstm_op._lstm_graph(cifg=True))
    else:
        graph = _layer_norm(lstm_op._quantize_lstm(lstm_op._lstm_graph()))
    with pytest.raises(CodegenError, match=message) as err:
        generate_bundle(graph, str(tmp_path / "refused"), "refused")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "refused").exists()
