"""Full-integer int8 models end to end: bit-exact with LiteRT's reference kernels, accurate on
real data, no bigger than TensorFlow's converter's, and quantization-aware graphs without
calibration data."""
import numpy as np
import pytest

from tests.support import networks
from tests.support.cli import assert_one_line_error, toco
from tests.support.oracle import litert
from tests.support.quant_models import (
    calibration_file,
    differing_elements,
    int8_ours,
    int8_tf,
    runs_with_default_delegate,
    samples_of,
)
from toco_py import api
from toco_py.quantize.driver import QuantizeOptions
from toco_py.tflite.reader import read_model

INT8_NETWORKS = ["computed_axis_softmax", "conv_bn_separable", "fused_patterns", "lstm_language_model",
                 "gru_static_rnn", "dropout_mlp"]


@pytest.mark.parametrize("name", INT8_NETWORKS)
def test_small_networks_bit_exact_and_no_bigger(name, tmp_path):
    net = networks.SMALL_NETWORKS[name]()
    calibration = calibration_file(net, tmp_path)
    ours = int8_ours(net, calibration)
    assert differing_elements(ours.model) == 0
    runs_with_default_delegate(ours.model)
    theirs = int8_tf(net, tmp_path, samples_of(calibration, net))
    assert differing_elements(theirs) == 0, "TF's converter's int8 model in our interpreter"
    assert len(ours.model) <= len(theirs), (len(ours.model), len(theirs))


@pytest.mark.parametrize("name", networks.KERAS_APPLICATIONS)
def test_keras_applications_int8(name, tmp_path):
    net = networks.keras_application(name, 96 if name != "InceptionV3" else 75)
    calibration = calibration_file(net, tmp_path, count=8)
    ours = int8_ours(net, calibration)
    float_model = api.convert_bytes(net.pb).model
    assert differing_elements(ours.model, seeds=(0,)) == 0
    theirs = int8_tf(net, tmp_path, samples_of(calibration, net))
    assert differing_elements(theirs, seeds=(0,)) == 0
    assert len(ours.model) <= len(theirs)
    assert len(ours.model) <= 0.3 * len(float_model)


def _accuracy(model: bytes, images: np.ndarray, labels: np.ndarray) -> float:
    interp = litert(model)
    detail = interp.get_input_details()[0]
    out = interp.get_output_details()[0]["index"]
    hits = 0
    for image, label in zip(images, labels):
        interp.set_tensor(detail["index"], image[None])
        interp.invoke()
        hits += int(np.argmax(interp.get_tensor(out)) == label)
    return hits / len(labels)


def test_digits_accuracy_on_real_data(tmp_path):
    net = networks.trained_digits_cnn()
    (train_x, _), (test_x, test_y) = networks.digits_data()
    calibration = tmp_path / "calibration.npy"
    np.save(calibration, train_x[:200])
    float_model = api.convert_bytes(net.pb).model
    ours = int8_ours(net, str(calibration)).model
    theirs = int8_tf(net, tmp_path, [{"image": x[None]} for x in train_x[:200]])
    float_acc = _accuracy(float_model, test_x, test_y)
    ours_acc = _accuracy(ours, test_x, test_y)
    tf_acc = _accuracy(theirs, test_x, test_y)
    assert float_acc > 0.9
    assert ours_acc >= float_acc - 0.01, (ours_acc, float_acc)
    assert ours_acc >= tf_acc, (ours_acc, tf_acc)


def test_quantization_aware_graph_needs_no_calibration(tmp_path):
    """Ranges from fake-quant nodes are used as they are; the model runs in LiteRT's default
    interpreter (with its default delegate)."""
    net = networks.SMALL_NETWORKS["fake_quant_mlp"]()
    result = api.convert_bytes(net.pb, quantize=QuantizeOptions("int8"))
    x = result.graph.tensors[result.graph.inputs[0]]
    assert x.dtype == "float32"
    inner = result.graph.tensors[result.graph.ops[0].outputs[0]]
    assert inner.dtype == "int8"
    assert float(inner.quant.scale[0]) == pytest.approx(6.0 / 255, rel=0.02)
    interp = litert(result.model)
    interp.set_tensor(interp.get_input_details()[0]["index"], np.ones((1, 20), np.float32))
    interp.invoke()
    assert differing_elements(result.model) == 0


def test_int8_io_types_and_toco_flags(tmp_path):
    net = networks.trained_digits_cnn(epochs=2)
    pb = tmp_path / "digits.pb"
    pb.write_bytes(net.pb)
    (train_x, _), _ = networks.digits_data()
    np.savez(tmp_path / "cal.npz", image=train_x[:50])
    out = tmp_path / "u8.tflite"
    proc = toco("convert", "--graph_def_file", str(pb), "--output_file", str(out),
                "--inference_type", "QUANTIZED_UINT8", "--calibration-data", str(tmp_path / "cal.npz"))
    assert proc.returncode == 0, proc.stderr
    graph = read_model(out.read_bytes()).main
    assert graph.tensors[graph.inputs[0]].dtype == "uint8" and graph.tensors[graph.outputs[0]].dtype == "uint8"
    assert differing_elements(out.read_bytes()) == 0
    proc = toco("convert", "--graph_def_file", str(pb), "--output_file", str(out), "--quantize", "int8")
    assert_one_line_error(proc, "--calibration-data")
    proc = toco("convert", "--graph_def_file", str(pb), "--output_file", str(tmp_path / "d.tflite"),
                "--inference_type", "INT8", "--default_ranges_min", "-6", "--default_ranges_max", "6",
                "--mean_values", "0", "--std_dev_values", "255")
    assert proc.returncode == 0, proc.stderr
    graph = read_model((tmp_path / "d.tflite").read_bytes()).main
    x = graph.tensors[graph.inputs[0]]
    assert x.dtype == "int8" and float(x.quant.scale[0]) == pytest.approx(1 / 255, rel=1e-4)
