"""The FFT / complex family (RFFT, RFFT2D, ComplexAbs, Real, Imag -> RFFT2D, COMPLEX_ABS, REAL,
IMAG; a spectrogram built with tf.signal.stft) and Lgamma's composition: converted as TF's
converter converts them, run by LiteRT on our .tflite within the float tolerance policy of
TensorFlow on the .pb, kept in float by int8, refused by codegen."""
import math
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from tests.support.cli import assert_one_line_error, toco
from tests.support.irgraph import build, evaluate, run_passes, types
from tests.support.oracle import freeze, op_types, run_litert, run_tf, tf_convert
from tests.support.policy import end_to_end_failures, tensorflow_and_litert_failures
from toco_py import api
from toco_py.errors import ConversionError
from toco_py.interpreter import Interpreter
from toco_py.passes import remove_identity_slice
from toco_py.quantize.driver import QuantizeOptions

v1 = tf.compat.v1
SEEDS = range(3)


def _graph(shape, make):
    """A frozen graph of make(x) on a float32 placeholder x of `shape`: (pb, output names)."""
    def build():
        x = v1.placeholder(tf.float32, shape, name="x")
        outs = make(x)
        return {f"y{i}": tf.identity(out, name=f"y{i}") for i, out in enumerate(outs)}
    pb, names = freeze(build)
    return pb, [names[k] for k in sorted(names)]


def _both(pb, outputs, tmp_path):
    """Our conversion and TF's converter's, of input x."""
    ours = api.convert_bytes(pb, input_arrays=["x"], output_arrays=outputs)
    path = tmp_path / "m.pb"
    path.write_bytes(pb)
    return ours, tf_convert(str(path), ["x"], outputs)


def _feeds(shape, seed, low=None, high=None):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return {"x": x.astype(np.float32)}


def _assert_matches_tf(pb, outputs, ours, theirs, shape, low=None, high=None):
    """Same ops as TF's converter (or fewer), and LiteRT on ours and TensorFlow on the .pb
    within the policy's allowance, on every seed."""
    assert len(op_types(ours.model)) <= len(op_types(theirs))
    for seed in SEEDS:
        assert tensorflow_and_litert_failures(pb, ours.model, _feeds(shape, seed, low, high), outputs) == []


SPECTRA = {
    # 1-D: TF's converter writes RESHAPE, RFFT2D of height 1, RESHAPE.
    "rfft_abs": ((2, 8), lambda x: [tf.abs(tf.signal.rfft(x, [8]))]),
    "rfft_parts": ((3, 16), lambda x: [tf.math.real(tf.signal.rfft(x, [16])),
                                       tf.math.imag(tf.signal.rfft(x, [16]))]),
    "rfft_padded_vector": ((5,), lambda x: [tf.abs(tf.signal.rfft(x, [8]))]),
    "rfft_cropped": ((2, 12), lambda x: [tf.abs(tf.signal.rfft(x, [8]))]),
    # 2-D: the inner two axes cropped (6 -> 4) and padded (6 -> 8).
    "rfft2d": ((2, 6, 6), lambda x: [tf.abs(tf.signal.rfft2d(x, [4, 8])),
                                     tf.math.real(tf.signal.rfft2d(x, [4, 8]))]),
}


@pytest.mark.parametrize("name", list(SPECTRA))
def test_spectra_match_tf(name, tmp_path):
    shape, make = SPECTRA[name]
    pb, outputs = _graph(shape, make)
    ours, theirs = _both(pb, outputs, tmp_path)
    assert Counter(op_types(ours.model)) == Counter(op_types(theirs))
    _assert_matches_tf(pb, outputs, ours, theirs, shape)
    # Our interpreter (the reader's graph) and LiteRT, each within the policy.
    assert end_to_end_failures(ours.model, seeds=SEEDS) == []


def test_complex_output_is_judged_in_both_parts(tmp_path):
    """A complex64 graph output: LiteRT's equals TF's within the policy, which perturbs and
    judges both parts of complex results."""
    pb, outputs = _graph((2, 16), lambda x: [tf.signal.rfft(x, [16])])
    ours, theirs = _both(pb, outputs, tmp_path)
    got = run_litert(ours.model, _feeds((2, 16), 0))[outputs[0]]
    assert got.dtype == np.complex64 and got.shape == (2, 9)
    _assert_matches_tf(pb, outputs, ours, theirs, (2, 16))


def test_spectrogram_matches_tf(tmp_path):
    """tf.signal.stft (frames by GATHER, a Hann window, the FFT of each frame zero-padded to
    256) followed by tf.abs: TF's converter's ops (its slice of the whole signal to the frame
    grid removed), and LiteRT within the policy."""
    shape = (2, 1000)
    pb, outputs = _graph(shape, lambda x: [tf.abs(tf.signal.stft(
        x, frame_length=200, frame_step=80, fft_length=256, window_fn=tf.signal.hann_window))])
    ours, theirs = _both(pb, outputs, tmp_path)
    assert Counter(op_types(ours.model)) == Counter(op_types(theirs))
    assert "RFFT2D" in op_types(ours.model)
    _assert_matches_tf(pb, outputs, ours, theirs, shape)


@pytest.mark.parametrize("make, fragment", [
    (lambda x: tf.signal.rfft(x, [6]), "fft_length [6] must be 1 power(s) of two"),
    (lambda x: tf.signal.rfft2d(x, [4, 12]), "fft_length [4, 12] must be 2 power(s) of two"),
], ids=["rfft", "rfft2d"])
def test_non_power_of_two_refused(make, fragment, tmp_path):
    pb, outputs = _graph((4, 12), lambda x: [tf.abs(make(x))])
    path = tmp_path / "m.pb"
    path.write_bytes(pb)
    proc = toco("convert", "--graph_def_file", str(path), "--output_file", str(tmp_path / "m.tflite"),
                "--input_arrays", "x", "--output_arrays", outputs[0])
    assert_one_line_error(proc, fragment, "RFFT")


def test_variable_fft_length_refused():
    def build():
        x = v1.placeholder(tf.float32, (2, 8), name="x")
        n = v1.placeholder(tf.int32, (1,), name="n")
        return {"y": tf.abs(tf.signal.rfft(x, n), name="y")}
    pb, _ = freeze(build)
    with pytest.raises(ConversionError, match="fft_length must be a constant"):
        api.convert_bytes(pb, input_arrays=["x", "n"], output_arrays=["y"])


def test_int8_keeps_the_fft_in_float(tmp_path):
    """No int8 kernel in LiteRT: RFFT2D and COMPLEX_ABS stay float between a DEQUANTIZE and a
    QUANTIZE, the int8 RESHAPE before them too, op for op as TF's converter keeps them; the
    model prepares and runs in LiteRT."""
    shape = (1, 32)
    pb, outputs = _graph(shape, lambda x: [tf.abs(tf.signal.rfft(x * 0.5 + 0.25, [32])) * 0.5])
    samples = [_feeds(shape, seed)["x"] for seed in range(8)]
    np.save(tmp_path / "calibration.npy", np.stack(samples))
    ours = api.convert_bytes(pb, input_arrays=["x"], output_arrays=outputs,
                             quantize=QuantizeOptions("int8", calibration_data=str(tmp_path / "calibration.npy")))
    assert any("kept in float" in note and "COMPLEX_ABS" in note and "RFFT2D" in note
               for note in ours.notes), ours.notes
    (tmp_path / "m.pb").write_bytes(pb)
    conv = v1.lite.TFLiteConverter.from_frozen_graph(str(tmp_path / "m.pb"), ["x"], outputs)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([s] for s in samples)
    assert op_types(ours.model) == op_types(conv.convert())
    out = run_litert(ours.model, _feeds(shape, 9))[outputs[0]]
    assert out.shape == (1, 17) and np.all(np.isfinite(out))


def test_codegen_refuses_the_family(tmp_path):
    pb, outputs = _graph((2, 8), lambda x: [tf.abs(tf.signal.rfft(x, [8]))])
    model = tmp_path / "m.tflite"
    model.write_bytes(api.convert_bytes(pb, input_arrays=["x"], output_arrays=outputs).model)
    proc = toco("codegen", str(model), "-o", str(tmp_path / "bundle"))
    assert_one_line_error(proc, "no C kernel", "RFFT2D", "COMPLEX_ABS")


# ---- the whole-input slice tf.signal.frame leaves (passes/remove_identity_slice.py) -------


def _slices(op_type, spec, attrs=None):
    consts = {f"s{i}": np.array(v, np.int32) for i, v in enumerate(spec)}
    return build({"x": (2, 5)}, consts, [(op_type, ["x", *consts], ["s"], attrs or {}),
                                         ("ADD", ["s", "s"], ["y"])], ["y"])


@pytest.mark.parametrize("op_type, spec, attrs, removed", [
    ("STRIDED_SLICE", ([0, 0], [2, 5], [1, 1]), {}, True),
    ("STRIDED_SLICE", ([0, 0], [0, 0], [1, 1]), {"begin_mask": 3, "end_mask": 3}, True),
    ("SLICE", ([0, 0], [-1, 5]), {}, True),
    ("STRIDED_SLICE", ([0, 0], [2, 4], [1, 1]), {}, False),     # drops the last column
    ("STRIDED_SLICE", ([0, 0], [0, 0], [1, -1]), {"begin_mask": 3, "end_mask": 3}, False),  # reversed
    ("STRIDED_SLICE", ([0, 0], [2, 5], [1, 2]), {}, False),     # every other column
    ("STRIDED_SLICE", ([0, 0], [1, 5], [1, 1]), {"shrink_axis_mask": 1}, False),
    ("STRIDED_SLICE", ([0, 0, 0], [2, 1, 5], [1, 1, 1]), {"new_axis_mask": 2}, False),
    ("SLICE", ([0, 1], [2, 4]), {}, False),
], ids=["full", "masked", "slice", "shorter", "reversed", "strided", "shrink", "new_axis", "offset"])
def test_identity_slice_removed_only_when_whole(op_type, spec, attrs, removed):
    before = _slices(op_type, spec, attrs)
    after = _slices(op_type, spec, attrs)
    run_passes(after, remove_identity_slice.PASS)
    assert (op_type not in types(after)) == removed
    feeds = {"x": np.arange(10, dtype=np.float32).reshape(2, 5)}
    want, got = evaluate(before, feeds), evaluate(after, feeds)
    np.testing.assert_array_equal(got["y"], want["y"])


# ---- Lgamma ------------------------------------------------------------------------------

# (low, high) input ranges: the coverage graph's, (0, 100] and negative non-integers.
LGAMMA_RANGES = [(0.5, 2.0), (1e-6, 100.0), (-100.0, -1e-3), (-3.01, -2.99)]


def _lgamma_inputs(low, high, count, seed=0):
    x = np.random.default_rng(seed).uniform(low, high, count).astype(np.float32)
    x[x == np.round(x)] += np.float32(0.25)  # off the poles at the non-positive integers
    return x


@pytest.fixture(scope="module")
def lgamma_models(tmp_path_factory):
    pb, outputs = _graph((4096,), lambda x: [tf.math.lgamma(x)])
    ours, theirs = _both(pb, outputs, tmp_path_factory.mktemp("lgamma"))
    return pb, outputs, ours, theirs


@pytest.mark.parametrize("low, high", LGAMMA_RANGES)
def test_lgamma_matches_tf(lgamma_models, low, high):
    pb, outputs, ours, theirs = lgamma_models
    assert len(op_types(ours.model)) == 23 < len(op_types(theirs))
    for seed in SEEDS:
        feeds = {"x": _lgamma_inputs(low, high, 4096, seed)}
        assert tensorflow_and_litert_failures(pb, ours.model, feeds, outputs) == []


@pytest.mark.parametrize("low, high", LGAMMA_RANGES)
def test_lgamma_accuracy(lgamma_models, low, high):
    """Against math.lgamma, relative to max(|lgamma|, 1): the float64 run of our ops (the
    policy's truth) is off by the float32 rounding of its constants, 1e-6 at most (measured:
    5e-7); LiteRT on our ops is off by no more than twice LiteRT on TF's converter's 58 ops
    (measured: 0.67-1.62x over 3 seeds in 9 ranges)."""
    _, outputs, ours, theirs = lgamma_models
    x = _lgamma_inputs(low, high, 4096)
    exact = np.array([math.lgamma(v) for v in x.astype(np.float64)])
    scale = np.maximum(np.abs(exact), 1.0)
    truth = Interpreter(ours.graph, float64=True).run({"x": x})[outputs[0]]
    assert np.max(np.abs(truth - exact) / scale) < 1e-6
    ours_error = np.max(np.abs(run_litert(ours.model, {"x": x})[outputs[0]] - exact) / scale)
    tf_error = np.max(np.abs(next(iter(run_litert(theirs, {"x": x}).values())) - exact) / scale)
    assert ours_error <= 2 * tf_error, (ours_error, tf_error)


def _lgamma_int8(tmp_path, int8_only=False):
    """An int8 conversion of lgamma(relu(x) + 1/2) on (1, 64) inputs: (pb, outputs, result)."""
    from toco_py.quantize.full_integer import Int8Options

    shape = (1, 64)
    pb, outputs = _graph(shape, lambda x: [tf.math.lgamma(tf.nn.relu(x) + 0.5)])
    np.save(tmp_path / "calibration.npy", np.stack([_feeds(shape, seed)["x"] for seed in range(16)]))
    return pb, outputs, api.convert_bytes(pb, input_arrays=["x"], output_arrays=outputs, quantize=QuantizeOptions(
        "int8", calibration_data=str(tmp_path / "calibration.npy"), int8=Int8Options(int8_only=int8_only)))


def test_lgamma_stays_float_in_int8(tmp_path):
    """Quantized, Lgamma's series is lost (a mean error of 1.25 output ranges, measured on the
    op coverage graph); so its ops stay float between a DEQUANTIZE and a QUANTIZE, the note says
    why, and the model is off TensorFlow by the int8 rounding around it only."""
    pb, outputs, ours = _lgamma_int8(tmp_path)
    kept = [note for note in ours.notes if "Lgamma's series" in note]
    assert kept and "--int8_only quantizes them" in kept[0], ours.notes
    errors = []
    for seed in range(16, 32):
        feeds = _feeds((1, 64), seed)
        want = run_tf(pb, feeds, outputs)[0]
        errors.append(np.max(np.abs(run_litert(ours.model, feeds)[outputs[0]] - want)) / np.ptp(want))
    # Half a step of the input (6/255 for N(0, 1) samples) and of the ADD's output (3/255),
    # times |digamma| <= 1.97 on [0.5, 3.5], plus half an output step, over an output range
    # of about 1.3: at most 4.3%; measured 3.3% (mean over 16 inputs).
    assert np.mean(errors) < 0.043, errors


def test_lgamma_with_int8_only_is_refused(tmp_path):
    """ROUND and SIN have no int8 kernel in LiteRT, so the composition cannot be all int8."""
    with pytest.raises(ConversionError, match=r"--int8_only: no int8 kernel for ROUND \(Lgamma\); SIN"):
        _lgamma_int8(tmp_path, int8_only=True)
