"""int8 LSTMs in TFLite's 8x8_16 scheme (quantize/lstm.py).

TF1 static_rnn cells: `convert --quantize int8 --int8_only` gives one fully integer fused
UNIDIRECTIONAL_SEQUENCE_LSTM per layer; our interpreter equals LiteRT's reference kernels bit
for bit on it over several invokes (the FILLs zero the int8 and int16 states each time), and
its error against TensorFlow's float run of the .pb is within that of TF's converter's int8
model of the same graph (which keeps the cells unfused, a dozen int8 ops a step) calibrated on
the same samples; so for a bidirectional pair. A step model is int8 with --stateful_rnn; with
its state fed in as graph inputs, its LSTM stays float. (TF's converter's float Keras LSTMs
quantized by us: tests/test_lstm_op.py.)"""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from tests.support.oracle import litert, run_litert, run_tf  # noqa: E402
from tests.test_fuse_lstm import BATCH, FEATURES, STEPS, _static_lstm  # noqa: E402
from toco_py import api  # noqa: E402
from toco_py.interpreter import Interpreter  # noqa: E402
from toco_py.ir import Graph  # noqa: E402
from toco_py.ops.lstm import INDEX  # noqa: E402
from toco_py.quantize.driver import QuantizeOptions  # noqa: E402
from toco_py.quantize.full_integer import Int8Options  # noqa: E402
from toco_py.tflite.reader import read_model  # noqa: E402

v1 = tf.compat.v1
LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"
SAMPLES = 16
INVOKES = 3


def _sequences(time_major: bool, count: int, seed: int) -> np.ndarray:
    shape = (STEPS, BATCH, FEATURES) if time_major else (BATCH, STEPS, FEATURES)
    return np.random.default_rng(seed).uniform(-1.5, 1.5, (count, *shape)).astype(np.float32)


def _lstms(graph: Graph) -> list:
    return [op for op in graph.ops if op.type == LSTM]


def _check_fully_integer(graph: Graph, layers: int) -> None:
    """One op per layer, each reading integers only: int8 weights and states, int16 peepholes
    and cell state, int32 biases; and its hidden intermediate int8."""
    lstms = _lstms(graph)
    assert len(lstms) == layers, [op.type for op in graph.ops]
    for op in lstms:
        dtypes = {graph.tensors[n].dtype for n in op.inputs if n}
        assert dtypes <= {"int8", "int16", "int32"}, dtypes
        assert graph.tensors[op.inputs[INDEX["cell_state"]]].dtype == "int16"
        assert graph.tensors[op.attrs["intermediates"][-1]].dtype == "int8"


def _bit_exact(model: bytes, inputs: list[np.ndarray]) -> None:
    """Our interpreter and LiteRT's reference kernels, invoke after invoke on one interpreter each."""
    graph = read_model(model).main
    ours, theirs = Interpreter(graph), litert(model, reference=True, delegates=False)
    (x,), (y,) = theirs.get_input_details(), theirs.get_output_details()
    for k, value in enumerate(inputs):
        theirs.set_tensor(x["index"], value)
        theirs.invoke()
        expected = theirs.get_tensor(y["index"])
        got = ours.run({graph.inputs[0]: value})[graph.outputs[0]]
        assert np.array_equal(got, expected), f"invoke {k}: {np.count_nonzero(got != expected)} differ"


def _tf_int8(pb_path: str, calibration: np.ndarray) -> bytes:
    """TF's converter, full integer with float input and output, as ours is converted."""
    conv = v1.lite.TFLiteConverter.from_frozen_graph(pb_path, ["x"], ["y"])
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.representative_dataset = lambda: ([s] for s in calibration)
    return conv.convert()


def _mean_error(pb: bytes, model: bytes, inputs: np.ndarray) -> float:
    """Mean |error| against TensorFlow's float run of the .pb, over every output element of
    every input."""
    return float(np.mean([np.abs(run_litert(model, {"x": x})["y"] - run_tf(pb, {"x": x}, ["y"])[0]).mean()
                          for x in inputs]))


# (cell, layers, time major, last step only). Measured mean errors, ours and TF's converter's:
# basic 0.00124 / 0.00278, peephole_clip 0.00112 / 0.00247, projection 0.00148 / 0.00306,
# 2 layers 0.00068 / 0.00187, 2 layers time major 0.00077 / 0.00193: the fused op keeps its
# cell state in int16, where TF's unfused cells round every step's products to int8.
CASES = [
    ("basic", 1, False, False),
    ("peephole_clip", 1, True, False),
    ("projection", 1, False, True),
    ("lstm", 2, False, False),
    ("lstm", 2, True, True),
]


@pytest.mark.parametrize(("kind", "layers", "time_major", "last_only"), CASES)
def test_static_rnn_int8_is_one_integer_op_per_layer(tmp_path, kind, layers, time_major, last_only):
    _check_int8(tmp_path, _static_lstm(kind, layers, time_major, last_only), layers, time_major)


def test_bidirectional_pair_int8(tmp_path):
    """Two integer ops, the backward one on the reversed sequence (tests/test_fuse_bidirectional.py).
    Measured mean errors: 0.00162 ours, 0.00268 TF's converter's."""
    from tests.test_fuse_bidirectional import _bidirectional

    _check_int8(tmp_path, _bidirectional("lstm", 1, False), 2, False)


def _check_int8(tmp_path, pb: bytes, lstms: int, time_major: bool) -> None:
    """`lstms` integer ops, bit-exact with LiteRT's reference kernels, within TF's converter's
    int8 error on the same calibration samples."""
    calibration = _sequences(time_major, SAMPLES, 1)
    np.save(tmp_path / "calibration.npy", calibration)
    options = QuantizeOptions("int8", calibration_data=str(tmp_path / "calibration.npy"),
                              int8=Int8Options(int8_only=True))
    result = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"], quantize=options)
    _check_fully_integer(result.graph, lstms)
    inputs = _sequences(time_major, SAMPLES, 2)
    _bit_exact(result.model, list(inputs[:INVOKES]))
    (tmp_path / "m.pb").write_bytes(pb)
    theirs = _tf_int8(str(tmp_path / "m.pb"), calibration)
    assert LSTM not in {op.type for op in read_model(theirs).main.ops}
    ours_error, theirs_error = _mean_error(pb, result.model, inputs), _mean_error(pb, theirs, inputs)
    assert ours_error <= theirs_error, (ours_error, theirs_error)


def test_peepholes_with_a_projection_stay_in_float(tmp_path):
    """LiteRT's integer kernel applies the peepholes to the first n_output cells only: such an
    LSTM stays in float with a note, and --int8_only refuses it."""
    from toco_py.errors import ConversionError

    pb = _static_lstm("peephole_projection", 1, True, True)
    np.save(tmp_path / "calibration.npy", _sequences(True, 4, 1))
    options = QuantizeOptions("int8", calibration_data=str(tmp_path / "calibration.npy"))
    result = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"], quantize=options)
    (lstm,) = _lstms(result.graph)
    assert result.graph.tensors[lstm.inputs[0]].dtype == "float32"
    assert any("peepholes and a projection" in note for note in result.notes), result.notes
    # Its state FILLs stay float too (the op updates the variables they write), and it runs.
    assert {result.graph.tensors[lstm.inputs[INDEX[s]]].dtype for s in ("output_state", "cell_state")} == {"float32"}
    x = _sequences(True, 1, 2)[0]
    error = np.abs(run_litert(result.model, {"x": x})["y"] - run_tf(pb, {"x": x}, ["y"])[0]).max()
    step = float(result.graph.tensors[result.graph.producer("y").inputs[0]].quant.scale[0])
    assert error <= step, (error, step)  # measured: 0.0019, the output's step 0.0039
    options.int8.int8_only = True
    with pytest.raises(ConversionError, match="--int8_only: no int8 scheme for an LSTM with peepholes"):
        api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"], quantize=options)



def test_step_model_int8_with_the_state_in_the_model(tmp_path):
    """A token-per-invoke step model (tests/test_lstm_step_models.py): with --stateful_rnn each
    layer is one integer op whose state stays in the model, bit-exact with LiteRT's reference
    kernels and XNNPACK token after token, and near TensorFlow's float steps; with the state
    fed in and out as graph inputs the cells stay unfused, every op integer, with a note (a
    fused op would stay float)."""
    from tests.test_lstm_step_models import _convert, _run_litert, _step_model, _tf_steps

    pb, inputs, outputs = _step_model("basic", 2)
    steps = _tf_steps(pb, "basic", 2, outputs)
    np.savez(tmp_path / "calibration.npz", **{n: np.stack([feeds[n] for feeds, _ in steps]) for n in inputs})
    options = QuantizeOptions("int8", calibration_data=str(tmp_path / "calibration.npz"))
    lines = []
    fed = _convert(pb, inputs, outputs, quantize=options, log=lines.append)
    assert not _lstms(fed.graph)
    assert not [op for op in fed.graph.ops if op.type not in ("QUANTIZE", "DEQUANTIZE") and any(
        fed.graph.tensors[n].dtype == "float32" for n in op.outputs)]
    assert any("fuse_lstm" in line and "fed in as graph inputs" in line for line in lines), lines
    options.int8.int8_only = True
    result = _convert(pb, inputs, outputs, stateful=True, quantize=options)
    _check_fully_integer(result.graph, 2)
    graph = read_model(result.model).main
    ours, engines = Interpreter(graph), [litert(result.model, reference=True), litert(result.model)]
    for k, (feeds, tf_values) in enumerate(steps):
        expected = ours.run({"token": feeds["token"]})
        for interp in engines:
            got = _run_litert(interp, {"token": feeds["token"]})
            assert all(np.array_equal(got[n], expected[n]) for n in got), f"token {k}"
        # Within two steps of the int8 softmax output (1/256) of TensorFlow's float run on
        # average (measured: 0.30 to 0.92 of a step over the 6 tokens, growing with the state).
        assert np.abs(expected["probs"] - tf_values["probs"]).mean() < 2 / 256, k
