"""--accuracy_target and --keep_float: the ops kept in float are the ones that matter, the
target holds on the held-back samples when LiteRT runs the model, the choice is the same for
the same data, and bad requests fail in one line."""
import numpy as np
import pytest
import tensorflow as tf

from tests.support.cli import assert_one_line_error, toco
from tests.support.oracle import freeze, litert
from tests.support.quant_models import differing_elements
from toco_py import api
from toco_py.quantize.driver import QuantizeOptions
from toco_py.tflite.reader import read_model

v1 = tf.compat.v1
SAMPLES = 32


def _outlier_mlp() -> bytes:
    """x -> dense(16) -> dense(8) -> tanh -> dense(4): the first dense's 16th unit reaches about
    200 times the others' values and the second reads it with a tiny weight, so int8's
    per-tensor scale of the tensor between them is too coarse for the units that carry the
    result. Only with both denses in float does that tensor stay float: either one alone in
    int8 still writes or reads it in int8."""
    rng = np.random.default_rng(7)

    def build():
        x = v1.placeholder(tf.float32, [1, 8], name="x")
        w1 = rng.normal(0, 0.5, (8, 16)).astype(np.float32)
        w1[:, 15] *= 200.0
        h = tf.matmul(x, w1, name="wide")
        w2 = rng.normal(0, 0.5, (16, 8)).astype(np.float32)
        w2[15, :] = 1e-4
        h = tf.nn.tanh(tf.matmul(h, w2, name="mix"))
        y = tf.matmul(h, rng.normal(0, 0.5, (8, 4)).astype(np.float32), name="head")
        return {"y": tf.identity(y, name="y")}
    return freeze(build)[0]


def _files(tmp_path):
    pb = tmp_path / "m.pb"
    pb.write_bytes(_outlier_mlp())
    rng = np.random.default_rng(3)
    calibration = tmp_path / "cal.npy"
    np.save(calibration, rng.normal(0, 1, (SAMPLES, 1, 8)).astype(np.float32))
    return pb, calibration


def _held_back_error(model: bytes, float_model: bytes, calibration) -> float:
    """LiteRT's error on the last quarter of the calibration samples (the held-back ones), by
    the measure the target speaks of: max over outputs of mean |q - f| / range of f."""
    samples = np.load(calibration)[SAMPLES - SAMPLES // 4:]
    quant, ref = litert(model, reference=True), litert(float_model)
    got, want = [], []
    for sample in samples:
        for interp, out in ((quant, got), (ref, want)):
            interp.set_tensor(interp.get_input_details()[0]["index"], sample)
            interp.invoke()
            out.append(interp.get_tensor(interp.get_output_details()[0]["index"]).astype(np.float64))
    got, want = np.array(got), np.array(want)
    return float(np.mean(np.abs(got - want)) / np.ptp(want))


def _convert(pb, out, calibration, *flags):
    return toco("convert", "--graph_def_file", str(pb), "--output_file", str(out), "--quantize", "int8",
                "--calibration-data", str(calibration), *flags)


def _in_process(pb, calibration, keep=(), target=None) -> bytes:
    """The model the CLI's --keep_float / --accuracy_target make, converted in this process."""
    options = QuantizeOptions("int8", calibration_data=str(calibration), accuracy_target=target)
    options.int8.keep_float = dict.fromkeys(keep, "named by --keep_float")
    return api.convert(str(pb), quantize=options).model


def test_accuracy_target_keeps_the_ops_that_matter(tmp_path):
    pb, calibration = _files(tmp_path)
    float_model = tmp_path / "f.tflite"
    assert toco("convert", "--graph_def_file", str(pb), "--output_file", str(float_model)).returncode == 0
    target = 0.01
    full_error = _held_back_error(_in_process(pb, calibration), float_model.read_bytes(), calibration)
    assert full_error > 2 * target, full_error  # the case needs the target to act
    out = tmp_path / "mixed.tflite"
    proc = _convert(pb, out, calibration, "--accuracy_target", str(target))
    assert proc.returncode == 0, proc.stderr
    note = next(line for line in proc.stderr.splitlines() if line.startswith("--accuracy_target"))
    assert "2 of 4 ops" in note and "FULLY_CONNECTED wide" in note and "FULLY_CONNECTED mix" in note, note
    graph = read_model(out.read_bytes()).main
    dtypes = [graph.tensors[op.outputs[0]].dtype for op in graph.ops if op.type == "FULLY_CONNECTED"]
    assert dtypes == ["float32", "float32", "int8"]
    assert _held_back_error(out.read_bytes(), float_model.read_bytes(), calibration) <= target
    assert _in_process(pb, calibration, target=target) == out.read_bytes()
    assert _in_process(pb, calibration, keep=("wide", "mix")) == out.read_bytes()
    for alone in ("wide", "mix"):  # none of the two suffices alone: the choice is the fewest
        model = _in_process(pb, calibration, keep=(alone,))
        assert _held_back_error(model, float_model.read_bytes(), calibration) > target


def test_fallback_int16x8_computes_the_chosen_ops_in_16x8(tmp_path):
    """The same two ops, in 16x8 inside the int8 model: int8 -> int16 -> int8 requantizations
    around them, the target met in LiteRT, and our interpreter bit-exact with its reference
    kernels on the mixed model."""
    pb, calibration = _files(tmp_path)
    float_model = tmp_path / "f.tflite"
    assert toco("convert", "--graph_def_file", str(pb), "--output_file", str(float_model)).returncode == 0
    out = tmp_path / "mixed16.tflite"
    proc = _convert(pb, out, calibration, "--accuracy_target", "0.01", "--fallback", "int16x8")
    assert proc.returncode == 0, proc.stderr
    assert "2 of 4 ops (50%) computed in 16x8" in proc.stderr, proc.stderr
    graph = read_model(out.read_bytes()).main
    dtypes = [graph.tensors[op.outputs[0]].dtype for op in graph.ops if op.type == "FULLY_CONNECTED"]
    assert dtypes == ["int16", "int16", "int8"]
    assert _held_back_error(out.read_bytes(), float_model.read_bytes(), calibration) <= 0.01
    assert differing_elements(out.read_bytes()) == 0


@pytest.mark.parametrize("flags, fragments", [
    (["--accuracy_target", "0"], ["--accuracy_target 0", "above 0"]),
    (["--keep_float", "nothing_here"], ["--keep_float", "nothing_here"]),
    (["--keep_float", ","], ["--keep_float names no op"]),
    (["--accuracy_target", "1e-9", "--inference_input_type", "int8"], ["not met even with every quantized op"]),
    (["--fallback", "int16x8"], ["--fallback int16x8", "--accuracy_target"]),
])
def test_bad_requests_fail_in_one_line(tmp_path, flags, fragments):
    pb, calibration = _files(tmp_path)
    out = tmp_path / "out.tflite"
    assert_one_line_error(_convert(pb, out, calibration, *flags), *fragments)
    assert not out.exists()


def test_accuracy_target_needs_calibration_data(tmp_path):
    pb, _ = _files(tmp_path)
    out = tmp_path / "out.tflite"
    proc = toco("convert", "--graph_def_file", str(pb), "--output_file", str(out), "--quantize", "int8",
                "--default_ranges_min", "-1", "--default_ranges_max", "1", "--accuracy_target", "0.01")
    assert_one_line_error(proc, "--accuracy_target needs --calibration-data")
    assert not out.exists()
