"""--calibration-method measured (quantize/range_choice.py): one calibration run gives every
method's ranges, and the set chosen is the one whose model LiteRT measures with the least output
error on the calibration samples; the model written is that method's own conversion."""
import re

import numpy as np
import pytest
import tensorflow as tf

from tests.support.cli import toco
from tests.support.oracle import freeze, run_litert, run_tf
from tests.test_int8_models import differing_elements
from toco_py import api
from toco_py.quantize.calibrate import calibrate, calibrate_methods
from toco_py.quantize.driver import QuantizeOptions
from toco_py.quantize.range_choice import MEASURING_SAMPLES, METHODS, pick

v1 = tf.compat.v1


def _stray_sample_model():
    """A TANH between two FCs, calibrated on inputs in [0, 1] and one stray sample, last (not
    among the samples the choice is measured on), with a spike of 40 in one input: min/max
    spend the input's steps on it, the 99.9th percentile does not."""
    def build():
        rng = np.random.default_rng(0)
        x = v1.placeholder(tf.float32, [1, 64], name="x")
        h = tf.tanh(tf.matmul(x, rng.normal(0, 0.5, (64, 32)).astype(np.float32)))
        return {"y": tf.matmul(h, rng.normal(0, 0.3, (32, 8)).astype(np.float32), name="y")}
    pb, names = freeze(build)
    samples = np.random.default_rng(1).uniform(0, 1, (32, 64)).astype(np.float32)
    samples[-1, 5] = 40.0
    return pb, names["y"], samples


def _convert(pb, output, path, method):
    options = QuantizeOptions("int8", calibration_data=str(path), calibration_method=method,
                              percentile=None if method in ("minmax", "mse") else 99.9)
    return api.convert_bytes(pb, output_arrays=[output], quantize=options)


def test_one_run_gives_each_methods_ranges(tmp_path):
    pb, output, samples = _stray_sample_model()
    graph = api.convert_bytes(pb, output_arrays=[output]).graph
    feeds = [{"x": s[None]} for s in samples]
    together = calibrate_methods(graph, feeds, METHODS)
    for method in METHODS:
        assert together[method] == calibrate(graph, feeds, method=method), method


def test_measured_ranges_are_the_least_error_litert_measures(tmp_path):
    pb, output, samples = _stray_sample_model()
    np.save(tmp_path / "cal.npy", samples)
    result = _convert(pb, output, tmp_path / "cal.npy", "measured")
    [note] = [n for n in result.notes if n.startswith("activation ranges:")]
    chosen = re.match(r"activation ranges: (\w+),", note).group(1)
    reported = {m: float(e) for m, e in re.findall(r"(\w+) ([0-9.e-]+)(?:,| of)", note.split("(", 1)[1])}
    assert set(reported) == set(METHODS), note
    feeds = [{"x": s[None]} for s in samples[:MEASURING_SAMPLES]]
    truth = np.stack([run_tf(pb, f, [output])[0] for f in feeds]).astype(np.float64)
    measured = {}
    for method in METHODS:
        model = _convert(pb, output, tmp_path / "cal.npy", method).model
        # LiteRT's reference kernels, which ours equal bit for bit (its default ones may round
        # differently on some CPUs).
        got = np.stack([next(iter(run_litert(model, f, reference=True).values())) for f in feeds]).astype(np.float64)
        measured[method] = float(np.mean(np.abs(got - truth))) / float(np.ptp(truth))
        if method == chosen:
            assert model == result.model
    # The note prints three digits (at most 0.5% off); its float truth is our interpreter's,
    # here it is TF's, which differ by float rounding (~1e-7 of the range).
    for method in METHODS:
        assert reported[method] == pytest.approx(measured[method], rel=6e-3), (method, note)
    # Measured: min/max and mse 0.0177, percentile 0.0089 (mse, weighing the spike by its
    # square, keeps min/max's range).
    assert chosen == "percentile" == pick(measured), measured
    assert measured[chosen] < 0.6 * measured["minmax"], measured
    assert differing_elements(result.model) == 0


def test_min_max_stays_unless_another_is_clearly_lower():
    assert pick({"minmax": 1.0, "percentile": 0.95, "mse": 0.92}) == "minmax"
    assert pick({"minmax": 1.0, "percentile": 0.85, "mse": 0.6}) == "mse"
    assert pick({"minmax": 1.0, "percentile": 0.8, "mse": 1.3}) == "percentile"


def test_cli_measured_with_a_percentile(tmp_path):
    pb, output, samples = _stray_sample_model()
    (tmp_path / "m.pb").write_bytes(pb)
    np.save(tmp_path / "cal.npy", samples)
    out = tmp_path / "q.tflite"
    proc = toco("convert", "--graph_def_file", str(tmp_path / "m.pb"), "--output_arrays", output,
                "--output_file", str(out), "--quantize", "int8", "--calibration-data", str(tmp_path / "cal.npy"),
                "--calibration-method", "measured", "--calibration-percentile", "99.9")
    assert proc.returncode == 0, proc.stderr
    assert "activation ranges:" in proc.stdout + proc.stderr
    assert differing_elements(out.read_bytes()) == 0
