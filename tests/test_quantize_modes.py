"""Dynamic-range and float16 quantization: sizes against TensorFlow's converter, results of
our interpreter against LiteRT's reference kernels, and `toco-py quantize` on a .tflite."""
import networks
import numpy as np
import pytest
import tensorflow as tf
from cli import assert_one_line_error, toco
from oracle import litert

from toco_py import api
from toco_py.interpreter import Interpreter
from toco_py.quantize.driver import QuantizeOptions
from toco_py.tensor_io import random_inputs
from toco_py.tflite.reader import read_model


def tf_quantized(net, tmp_path, mode: str) -> bytes:
    pb = tmp_path / "m.pb"
    pb.write_bytes(net.pb)
    conv = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(str(pb), list(net.inputs), net.outputs)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        conv.target_spec.supported_types = [tf.float16]
    return conv.convert()


def ours_vs_litert_reference(model: bytes) -> float:
    """max |ours - LiteRT reference| over max |LiteRT reference|."""
    graph = read_model(model).main
    names = list(graph.tensors)
    feeds = random_inputs(graph, 0)
    interp = litert(model, reference=True)
    for name, value in feeds.items():
        interp.set_tensor(names.index(name), value)
    interp.invoke()
    ours = Interpreter(graph).run(feeds)
    worst = 0.0
    for name in graph.outputs:
        want = interp.get_tensor(names.index(name)).astype(np.float64)
        worst = max(worst, float(np.max(np.abs(ours[name] - want)) / max(np.max(np.abs(want)), 1e-30)))
    return worst


@pytest.fixture(scope="module")
def mobilenet_v2():
    return networks.keras_application("MobileNetV2", 96)


@pytest.mark.parametrize("mode", ["dynamic", "float16"])
def test_keras_network(mobilenet_v2, tmp_path, mode):
    ours = api.convert_bytes(mobilenet_v2.pb, quantize=QuantizeOptions(mode)).model
    float_model = api.convert_bytes(mobilenet_v2.pb).model
    theirs = tf_quantized(mobilenet_v2, tmp_path, mode)
    assert len(ours) <= len(theirs), (len(ours), len(theirs))
    assert len(ours) < 0.55 * len(float_model) if mode == "float16" else len(ours) < 0.3 * len(float_model)
    assert ours_vs_litert_reference(ours) <= 1e-5


@pytest.mark.parametrize("name", ["lstm_language_model", "dropout_mlp"])  # GRU: all weights < 1024
def test_dynamic_range_recurrent(name, tmp_path):
    net = networks.SMALL_NETWORKS[name]()
    result = api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs,
                               quantize=QuantizeOptions("dynamic"))
    weights = [t for t in result.graph.tensors.values() if t.dtype == "int8"]
    assert weights and all(t.quant is not None and t.quant.per_channel for t in weights)
    assert len(result.model) <= len(tf_quantized(net, tmp_path, "dynamic"))
    assert ours_vs_litert_reference(result.model) <= 1e-5


def test_quantize_command_on_a_float_tflite(tmp_path):
    float_model = tmp_path / "digits.tflite"
    api.convert("examples/models/digits_cnn.pb", str(float_model))
    for mode in ("dynamic", "float16"):
        out = tmp_path / f"digits_{mode}.tflite"
        proc = toco("quantize", str(float_model), str(out), "--quantize", mode)
        assert proc.returncode == 0, proc.stderr
        assert ours_vs_litert_reference(out.read_bytes()) <= 1e-5
    proc = toco("quantize", str(float_model), str(tmp_path / "x.tflite"))
    assert_one_line_error(proc, "choose a mode")
    proc = toco("quantize", str(tmp_path / "digits_dynamic.tflite"), str(tmp_path / "y.tflite"),
                "--quantize", "float16")
    assert_one_line_error(proc, "already quantized")
    assert not (tmp_path / "x.tflite").exists() and not (tmp_path / "y.tflite").exists()
