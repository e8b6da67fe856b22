"""--cluster K: weights of conv / depthwise / FC / transpose conv take at most K values (per
tensor or per output channel) in float32, float16, dynamic and int8 files, deterministic for a
seed; LiteRT runs the models as our interpreter does; the gzip saving is measured."""
import gzip

import numpy as np
import pytest
import tensorflow as tf

from tests.support import networks
from tests.support.cli import assert_one_line_error, toco
from tests.support.oracle import freeze, litert
from tests.support.policy import end_to_end_failures
from tests.support.quant_models import differing_elements
from toco_py import api
from toco_py.compress.cli_options import build_cluster_options
from toco_py.compress.cluster import ClusterOptions, cluster_values, weight_ops
from toco_py.compress.kmeans import kmeans_1d
from toco_py.errors import TocoError
from toco_py.inspect_model import load_model, summarize
from toco_py.interpreter import Interpreter
from toco_py.quantize.driver import QuantizeOptions
from toco_py.quantize.params import quantize_symmetric, symmetric_weight_params
from toco_py.quantize.schemes import INT16X8
from toco_py.tensor_io import random_inputs
from toco_py.tflite.reader import read_model

v1 = tf.compat.v1


def _build():
    rng = np.random.default_rng(0)
    x = v1.placeholder(tf.float32, [1, 6, 6, 3], name="x")
    h = tf.nn.relu(tf.nn.conv2d(x, rng.normal(0, 0.3, (3, 3, 3, 8)).astype(np.float32), 1, "SAME"))
    h = tf.nn.depthwise_conv2d(h, rng.normal(0, 0.3, (3, 3, 8, 2)).astype(np.float32), [1, 1, 1, 1], "SAME")
    h = tf.nn.conv2d_transpose(tf.nn.relu6(h), rng.normal(0, 0.2, (2, 2, 4, 16)).astype(np.float32),
                               [1, 12, 12, 4], 2, "SAME")
    flat = tf.reshape(h, [1, 12 * 12 * 4])
    y = tf.matmul(flat, rng.normal(0, 0.05, (576, 10)).astype(np.float32)) + rng.normal(0, 0.1, 10).astype(np.float32)
    return {"y": tf.identity(y, name="y")}


@pytest.fixture(scope="module")
def pb():
    return freeze(_build)[0]


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    path = tmp_path_factory.mktemp("cal") / "x.npy"
    np.save(path, np.random.default_rng(1).normal(0, 1, (16, 6, 6, 3)).astype(np.float32))
    return str(path)


def _convert(pb, mode, calibration, cluster):
    quantize = None if mode == "float32" else QuantizeOptions(mode, calibration_data=calibration)
    if mode == "int16x8":
        quantize.int8.scheme = INT16X8
    return api.convert_bytes(pb, quantize=quantize, cluster=cluster)


def _weights(model: bytes) -> dict[str, tuple[np.ndarray, int]]:
    """Each weighted op's stored weights (read back from the file, float16 behind its
    DEQUANTIZE), by op type, with the channel axis."""
    graph = read_model(model).main
    found = {}
    for op in graph.ops:
        spec = weight_ops().get(op.type)
        if spec is None:
            continue
        name = op.inputs[spec[0]]
        producer = graph.producer(name)
        if producer is not None and producer.type == "DEQUANTIZE":
            name = producer.inputs[0]
        found[op.type] = (graph.tensors[name].data, spec[1])
    return found


def _most_values(w: np.ndarray, axis: int | None) -> int:
    slices = [w] if axis is None else list(np.moveaxis(w, axis, 0))
    return max(np.unique(s).size for s in slices)


MODES = ["float32", "float16", "dynamic", "int8", "int16x8"]


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_at_most_k_values_in_the_written_file(pb, calibration, mode, per_channel):
    k = 4
    plain_model = _convert(pb, mode, calibration, None).model
    plain = _weights(plain_model)
    clustered = _weights(_convert(pb, mode, calibration, ClusterOptions(k, per_channel)).model)
    assert set(clustered) == {"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED"}
    if mode == "int16x8":  # int16 activations around the int8 weights
        graph = read_model(plain_model).main
        assert graph.tensors[graph.ops[1].inputs[0]].dtype == "int16"
    for op_type, (w, axis) in clustered.items():
        axis = axis if per_channel else None
        assert w.dtype == plain[op_type][0].dtype and w.shape == plain[op_type][0].shape
        assert _most_values(w, axis) <= k, (op_type, _most_values(w, axis))
        assert _most_values(plain[op_type][0], axis) > k, op_type  # so that the bound says something


def test_a_channel_short_of_the_tensor_peak_keeps_k_integers(pb, calibration):
    """Per tensor in int8: a channel whose largest centroid is below the tensor's still maps
    the K centroids to the same K integers (one scale for all channels); each channel scaled
    by its own peak would map them to more."""
    result = _convert(pb, "int8", calibration, ClusterOptions(4))
    w, axis = _weights(result.model)["DEPTHWISE_CONV_2D"]
    peaks = np.abs(np.moveaxis(w, axis, 0)).reshape(w.shape[axis], -1).max(1)
    assert peaks.min() < peaks.max()  # some channel lacks the tensor's largest centroid
    assert np.unique(w).size <= 4
    own_scales = quantize_symmetric(w.astype(np.float32), symmetric_weight_params(w.astype(np.float32), axis))
    assert np.unique(own_scales).size > 4


def test_deterministic_for_a_seed(pb, calibration):
    def model(seed):
        return _convert(pb, "int8", calibration, ClusterOptions(8, seed=seed)).model
    assert model(0) == model(0)
    assert model(0) != model(1)


def test_kmeans_error_small_when_k_is_large():
    """k-means with K centroids on normal weights: the RMS error falls about as 1/K (a uniform
    quantizer's step over the range, ~8 sigma wide for 20000 values, is 8/K sigma, its RMS error
    step/sqrt(12) = 2.3/K sigma; k-means does better than the uniform grid). Measured: K=256
    gives 0.0045 sigma, K=16 0.067 sigma."""
    w = np.random.default_rng(3).normal(0, 1, 20000).astype(np.float32)
    for k in (16, 256):
        out = cluster_values(w, k, None, np.random.default_rng(0))
        rms = float(np.sqrt(np.mean((out - w) ** 2)))
        assert np.unique(out).size <= k
        assert rms < 2.3 / k, (k, rms)


def test_model_error_small_when_k_is_large(pb):
    """The test model's output with 256 clusters per tensor against without, as a share of the
    output's peak: measured 0.004-0.010 over seeds 0-4 (64 clusters: 0.025-0.066; 16: 0.15-0.25,
    falling as 1/K with the weights' error). Bound: 0.02."""
    plain = _convert(pb, "float32", None, None).graph
    clustered = _convert(pb, "float32", None, ClusterOptions(256)).graph
    for seed in range(3):
        feeds = random_inputs(plain, seed)
        want, got = Interpreter(plain).run(feeds)["y"], Interpreter(clustered).run(feeds)["y"]
        assert np.abs(got - want).max() < 0.02 * np.abs(want).max(), seed


def test_kmeans_keeps_few_values_and_zeros():
    rng = np.random.default_rng(0)
    values = np.array([0.5, -1.0, 0.5, 2.0])
    centroids, index = kmeans_1d(values, 4, rng)
    assert np.array_equal(centroids[index], values)
    w = np.where(rng.random(1000) < 0.5, 0, rng.normal(0, 1, 1000)).astype(np.float32)
    out = cluster_values(w, 8, None, rng, keep_zeros=True)
    assert np.array_equal(out == 0, w == 0) and np.unique(out).size <= 8


def test_kmeans_drops_a_cluster_that_empties():
    """Found by search: with this seed k-means++ starts from 2, 16 and 19; the means 5.7, 12.5
    and 19 leave the middle cluster empty, and the two left settle at once (MobileNetV2's
    weights per channel at K=32 did so too). Every value gets its nearest remaining centroid."""
    values = np.array([7.0, 2.0, 16.0, 19.0, 8.0, 9.0])
    centroids, index = kmeans_1d(values, 3, np.random.default_rng(23931))
    assert centroids.size == 2 and np.all(np.diff(centroids) > 0)
    nearest = np.abs(values[:, None] - centroids[None]).argmin(1)
    assert np.array_equal(np.abs(values - centroids[index]), np.abs(values - centroids[nearest]))


def test_litert_matches_our_interpreter(pb, calibration):
    for mode in ("float32", "float16", "dynamic"):
        model = _convert(pb, mode, calibration, ClusterOptions(8)).model
        assert end_to_end_failures(model, seeds=range(3), kinds=("builtin", "reference")) == [], mode
    for per_channel in (False, True):
        int8_model = _convert(pb, "int8", calibration, ClusterOptions(8, per_channel)).model
        assert differing_elements(int8_model) == 0


def _gzip(data: bytes) -> int:
    return len(gzip.compress(data, 9, mtime=0))


@pytest.mark.parametrize("mode", ["float32", "int8"])
def test_savings_measured_against_the_file_without_each_technique(pb, calibration, mode):
    plain = _convert(pb, mode, calibration, None).model
    result = _convert(pb, mode, calibration, ClusterOptions(16))
    savings = {s.technique: s for s in result.savings}
    clustering = savings.pop("clustering (K=16 per tensor)")
    assert clustering.file_bytes == len(plain) - len(result.model) == 0
    assert clustering.gzip_bytes == _gzip(plain) - _gzip(result.model) > 0
    if mode == "int8":
        unquantized = _convert(pb, "float32", calibration, ClusterOptions(16)).model
        quantization = savings.pop("quantization (int8)")
        assert quantization.file_bytes == len(unquantized) - len(result.model) > 0
        assert quantization.gzip_bytes == _gzip(unquantized) - _gzip(result.model)
    assert not savings


def test_inspect_reports_the_clustered_weights_and_their_packed_form(pb, calibration, tmp_path):
    # Per channel with K=16, the conv's 8 channels of 27 weights and the depthwise's 16 of 9 are
    # too short for 16-entry tables and 4-bit indices to take fewer bytes: only 2 tensors pack.
    for k, per_channel, packing in ((4, False, 4), (16, True, 2)):
        path = tmp_path / "c.tflite"
        path.write_bytes(_convert(pb, "int8", calibration, ClusterOptions(k, per_channel)).model)
        compression = summarize(load_model(str(path)))["compression"]
        rows = {r["name"]: r for r in compression["clustered_weights"]}
        assert len(rows) == packing and compression["gzip_bytes"] == _gzip(path.read_bytes())
        graph = read_model(path.read_bytes()).main
        for name, row in rows.items():
            w, axis = graph.tensors[name].data, weight_ops()[graph.consumers(name)[0].type][1]
            assert row["values"] == np.unique(w).size and row["bytes"] == w.nbytes
            assert row["values_per_channel"] == _most_values(w, axis) <= k
            assert row["packed_bytes"] < row["bytes"]
        [packed] = compression["savings"]
        assert packed["file_bytes_saved"] == sum(r["bytes"] - r["packed_bytes"] for r in rows.values())
    path.write_bytes(_convert(pb, "int8", calibration, None).model)
    assert summarize(load_model(str(path)))["compression"]["clustered_weights"] == []


def _top1(model: bytes, images: np.ndarray, labels: np.ndarray) -> float:
    interp = litert(model)
    inp, out = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
    hits = 0
    for image, label in zip(images, labels):
        interp.set_tensor(inp, image[None])
        interp.invoke()
        hits += int(np.argmax(interp.get_tensor(out)) == label)
    return hits / len(labels)


def test_digits_top1_at_16_clusters_int8(tmp_path):
    """Measured on the 397 held-out digits (one digit is 0.25 points), seeds 0-3: float 0.987;
    int8 with 16 clusters per tensor 0.972-0.980, per channel 0.982-0.985 (no fine-tuning, which
    TF-MOT does after clustering). Bounds: 2 points per tensor, 1 per channel."""
    net = networks.trained_digits_cnn()
    (train_x, _), (test_x, test_y) = networks.digits_data()
    np.save(tmp_path / "cal.npy", train_x[:200])
    float_top1 = _top1(api.convert_bytes(net.pb).model, test_x, test_y)
    options = QuantizeOptions("int8", calibration_data=str(tmp_path / "cal.npy"))
    assert float_top1 > 0.95
    for per_channel, bound in ((False, 0.02), (True, 0.01)):
        clustered = api.convert_bytes(net.pb, quantize=options, cluster=ClusterOptions(16, per_channel)).model
        top1 = _top1(clustered, test_x, test_y)
        assert top1 >= float_top1 - bound, (per_channel, top1, float_top1)


def test_cli_quantize_clusters_and_validate_measures_the_cost(pb, tmp_path):
    float_path, clustered = tmp_path / "f.tflite", tmp_path / "c.tflite"
    float_path.write_bytes(api.convert_bytes(pb).model)
    proc = toco("quantize", str(float_path), str(clustered), "--cluster", "4", "--cluster_per_channel",
                "--cluster_seed", "2")
    assert proc.returncode == 0, proc.stderr
    assert "clustering (K=4 per channel)" in proc.stderr and "gzip bytes saved" in proc.stderr
    w, axis = _weights(clustered.read_bytes())["CONV_2D"]
    assert _most_values(w, axis) <= 4
    proc = toco("validate", str(float_path), str(clustered), "--samples", "2")
    assert proc.returncode == 1 and "FAIL" in proc.stdout, proc.stdout + proc.stderr  # clustering costs accuracy


def test_bad_input(pb, tmp_path):
    (tmp_path / "m.pb").write_bytes(pb)
    out = tmp_path / "out.tflite"
    proc = toco("convert", "--graph_def_file", str(tmp_path / "m.pb"), "-o", str(out), "--cluster", "257")
    assert_one_line_error(proc, "--cluster 257", "2 to 256")
    assert not out.exists()
    with pytest.raises(TocoError, match="--cluster 1: give a number of clusters from 2 to 256"):
        ClusterOptions(1)
    with pytest.raises(TocoError, match="add --cluster K"):
        build_cluster_options(None, True, None)
    gptq = QuantizeOptions("int8", weight_rounding="gptq")
    with pytest.raises(TocoError, match="--weight-rounding gptq .* drop it or --cluster"):
        api.convert_bytes(pb, quantize=gptq, cluster=ClusterOptions(4))
    add, _ = freeze(lambda: {"y": tf.identity(v1.placeholder(tf.float32, [1, 4], name="x") * 2.0, name="y")})
    with pytest.raises(TocoError, match="no constant float32 weights of .* drop --cluster"):
        api.convert_bytes(add, cluster=ClusterOptions(4))
