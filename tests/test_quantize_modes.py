"""Dynamic-range and float16 quantization: sizes against TensorFlow's converter, results of
our interpreter against LiteRT's reference kernels, and `toco-py quantize` on a .tflite."""
import numpy as np
import pytest
import tensorflow as tf

from tests.support import networks, tiny_tflite
from tests.support.cli import assert_one_line_error, toco
from tests.support.kernel_check import one_op_graph
from tests.support.oracle import litert
from tests.support.policy import end_to_end_failures, op_by_op_failures
from toco_py import api
from toco_py.interpreter import Interpreter
from toco_py.quantize.driver import QuantizeOptions
from toco_py.tflite.reader import read_model


def tf_quantized(net, tmp_path, mode: str) -> bytes:
    pb = tmp_path / "m.pb"
    pb.write_bytes(net.pb)
    conv = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(str(pb), list(net.inputs), net.outputs)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        conv.target_spec.supported_types = [tf.float16]
    return conv.convert()


def check_against_litert_reference(model: bytes, seeds=range(3)) -> None:
    """Op by op, each op fed the values LiteRT's reference kernels computed for its inputs,
    our kernels and LiteRT's agree within the float tolerance policy's allowance (hybrid ops:
    TFLite's reference arithmetic, so only float rounding apart); end to end, ours and
    LiteRT's are each within the policy's allowance of the float64 truth, which carries the
    on-the-fly input roundings that upstream float noise can flip by one step."""
    failures = op_by_op_failures(model, kind="reference")
    failures += end_to_end_failures(model, seeds, kinds=("reference",))
    assert not failures, failures


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
    check_against_litert_reference(ours)
    # LiteRT's optimized kernels quantize a hybrid op's input by another scheme: op by op they
    # are within half an input step per element of the reference arithmetic.
    failures = op_by_op_failures(ours, kind="builtin", other_schemes=True)
    assert not failures, failures


@pytest.mark.parametrize("name", ["lstm_language_model", "dropout_mlp"])  # GRU: all weights < 1024
def test_dynamic_range_recurrent(name, tmp_path):
    net = networks.SMALL_NETWORKS[name]()
    result = api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs,
                               quantize=QuantizeOptions("dynamic"))
    weights = [t for t in result.graph.tensors.values() if t.dtype == "int8"]
    assert weights and all(t.quant is not None and t.quant.per_channel for t in weights)
    assert len(result.model) <= len(tf_quantized(net, tmp_path, "dynamic"))
    check_against_litert_reference(result.model)


def test_quantize_command_on_a_float_tflite(tmp_path):
    float_model = tmp_path / "digits.tflite"
    api.convert("examples/models/digits_cnn.pb", str(float_model))
    for mode in ("dynamic", "float16"):
        out = tmp_path / f"digits_{mode}.tflite"
        proc = toco("quantize", str(float_model), str(out), "--quantize", mode)
        assert proc.returncode == 0, proc.stderr
        check_against_litert_reference(out.read_bytes())
    proc = toco("quantize", str(float_model), str(tmp_path / "x.tflite"))
    assert_one_line_error(proc, "choose a mode")
    proc = toco("quantize", str(tmp_path / "digits_dynamic.tflite"), str(tmp_path / "y.tflite"),
                "--quantize", "float16")
    assert_one_line_error(proc, "already quantized")
    assert not (tmp_path / "x.tflite").exists() and not (tmp_path / "y.tflite").exists()


def test_quantize_command_refuses_an_int16_model(tmp_path):
    """int16 tensors with quantization parameters are as quantized as int8 ones."""
    q16 = {"type": 7, "quant": {"scale": [0.01], "zero_point": [0]}}
    model = tmp_path / "add_int16.tflite"
    model.write_bytes(tiny_tflite.tiny_model(
        tensors=({**tiny_tflite.X, **q16}, {**tiny_tflite.C, **q16}, {**tiny_tflite.Y, **q16}),
        buffers=(None, np.array([1, -2, 3, 4], np.int16).tobytes())))
    proc = toco("quantize", str(model), str(tmp_path / "z.tflite"), "--quantize", "dynamic")
    assert_one_line_error(proc, "already quantized (e.g. tensor 'x')")
    assert not (tmp_path / "z.tflite").exists()


def hybrid_fc_model(tmp_path) -> tuple[np.ndarray, bytes]:
    """A dynamic-range FULLY_CONNECTED (its input quantized on the fly, asymmetrically), and
    an input that this quantization (scale (127.5 + 127.5) / 255 = 1, zero point -0.5 before
    rounding) puts exactly halfway between two steps in every element."""
    from toco_py.tflite.writer import model_bytes

    x = np.concatenate([[-127.5, 127.5], np.arange(-30.5, 31.5)]).astype(np.float32).reshape(1, 64)
    w = np.random.default_rng(5).standard_normal((32, 64)).astype(np.float32)
    float_file = tmp_path / "fc.tflite"
    float_file.write_bytes(model_bytes(one_op_graph("FULLY_CONNECTED", [x, w], const={1})))
    api.quantize_tflite(str(float_file), str(tmp_path / "fc_dynamic.tflite"), QuantizeOptions("dynamic"))
    return x, (tmp_path / "fc_dynamic.tflite").read_bytes()


def test_hybrid_rounding_is_litert_reference_bit_for_bit(tmp_path, monkeypatch):
    """On inputs that are ties for the on-the-fly rounding, our hybrid kernel equals LiteRT's
    reference kernel exactly; rounding half to even instead of away from zero must differ."""
    from toco_py.ops import hybrid

    x, model = hybrid_fc_model(tmp_path)
    graph = read_model(model).main
    op = graph.ops[0]
    assert graph.tensors[op.inputs[1]].dtype == "int8" and op.attrs.get("asymmetric_quantize_inputs")
    interp = litert(model, reference=True)
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    want = interp.get_tensor(interp.get_output_details()[0]["index"])
    np.testing.assert_array_equal(Interpreter(graph).run({graph.inputs[0]: x})[graph.outputs[0]], want)
    monkeypatch.setattr(hybrid, "_round", np.round)  # numpy rounds half to even
    assert not np.array_equal(Interpreter(graph).run({graph.inputs[0]: x})[graph.outputs[0]], want)


def test_quantize_a_tensorflow_float16_tflite(tmp_path):
    """TF's float16 file keeps its weights as DEQUANTIZEs of float16 constants: they are read as
    the float32 weights they stand for, so int8 gives them symmetric per-channel params (as
    filters, not activations: LiteRT refused MediaPipe's pose landmarker quantized before) and
    runs bit-exact with LiteRT's reference kernels; pruning alone keeps them float16."""
    from tests.support.quant_models import calibration_file, differing_elements

    net = networks.SMALL_NETWORKS["conv_bn_separable"]()
    half = tmp_path / "half.tflite"
    half.write_bytes(tf_quantized(net, tmp_path, "float16"))
    options = QuantizeOptions("int8", calibration_data=calibration_file(net, tmp_path, count=8))
    result = api.quantize_tflite(str(half), None, options)
    assert any(n.endswith("float16 weight tensors read as float32") for n in result.notes), result.notes
    graph = result.graph
    filters = [graph.tensors[op.inputs[1]] for op in graph.ops if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    assert filters and all(f.is_const and f.dtype == "int8" and not np.any(f.quant.zero_point) for f in filters)
    assert not any(op.type == "DEQUANTIZE" and graph.tensors[op.inputs[0]].dtype == "float16" for op in graph.ops)
    assert differing_elements(result.model) == 0
    from toco_py.compress.prune import PruneOptions

    pruned = api.quantize_tflite(str(half), None, None, prune=PruneOptions(0.5))
    weights = [pruned.graph.tensors[op.inputs[0]] for op in pruned.graph.ops if op.type == "DEQUANTIZE"]
    assert weights and all(w.dtype == "float16" for w in weights)
    assert any("50.0% of their values now zero" in n for n in pruned.notes), pruned.notes
