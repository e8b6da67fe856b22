"""The reference interpreter against LiteRT, on every network of the passes issue as
converted by toco-py and by TensorFlow's converter; run/validate on the command line."""
import json

import numpy as np
import pytest

from tests.support import networks
from tests.support.cli import assert_one_line_error, toco
from tests.support.oracle import tf_convert
from tests.support.policy import end_to_end_failures, op_by_op_failures
from toco_py import api
from toco_py.errors import TocoError
from toco_py.interpreter import Interpreter
from toco_py.ir import Op
from toco_py.tflite.reader import read_model
from toco_py.tflite.writer import model_bytes


def check_against_litert(model: bytes, seeds=(0, 1)):
    """Our outputs and LiteRT's (builtin kernels) within the float tolerance policy's
    allowance of the float64 truth."""
    failures = end_to_end_failures(model, seeds)
    assert not failures, failures


@pytest.fixture(scope="module")
def network(request):
    return networks.SMALL_NETWORKS[request.param]()


@pytest.mark.parametrize("network", list(networks.SMALL_NETWORKS), indirect=True)
@pytest.mark.parametrize("converter", ["toco-py", "tensorflow"])
def test_small_networks_match_litert(network, converter, tmp_path):
    if converter == "toco-py":
        model = api.convert_bytes(network.pb, input_arrays=list(network.inputs),
                                  output_arrays=network.outputs).model
    else:
        pb = tmp_path / "m.pb"
        pb.write_bytes(network.pb)
        model = tf_convert(str(pb), list(network.inputs), network.outputs)
    check_against_litert(model)


@pytest.mark.parametrize("name", networks.KERAS_APPLICATIONS)
def test_keras_applications_match_litert(name, tmp_path):
    net = networks.keras_application(name, 96 if name != "InceptionV3" else 75)
    pb = tmp_path / "m.pb"
    pb.write_bytes(net.pb)
    for model in (api.convert_bytes(net.pb).model, tf_convert(str(pb), list(net.inputs), net.outputs)):
        failures = op_by_op_failures(model)
        assert not failures, failures
        check_against_litert(model, seeds=(0,))


def test_missing_kernel_named_before_running():
    result = api.convert_bytes(networks.SMALL_NETWORKS["tile_range"]().pb)
    graph = result.graph
    graph.ops.insert(1, Op("CUSTOM", [graph.ops[0].outputs[0]], [graph.ops[0].outputs[0] + "_c"],
                           {"custom_code": "MyOp"}))
    with pytest.raises(TocoError, match=r"no kernel for: #1 MyOp"):
        Interpreter(graph)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    pb = "examples/models/digits_cnn.pb"
    model = folder / "digits.tflite"
    api.convert(pb, str(model))
    return pb, model, folder


def test_run_with_input_files(digits):
    _, model, folder = digits
    images = np.load("examples/models/digits_test.npz")["image"][:1]
    np.save(folder / "image.npy", images)
    out = folder / "out.npz"
    proc = toco("run", str(model), "--input", f"image={folder / 'image.npy'}", "-o", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)["outputs"][0]
    assert summary["name"] == "probs" and summary["shape"] == [1, 10]
    probs = np.load(out)["probs"]
    assert probs.shape == (1, 10) and abs(probs.sum() - 1) < 1e-5
    np.savez(folder / "in.npz", image=images)
    proc = toco("run", str(model), "--inputs", str(folder / "in.npz"), "-o", str(folder / "out2.npz"))
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(folder / "out2.npz")["probs"], probs)


def test_run_random_is_seeded(digits):
    _, model, folder = digits
    outs = []
    for name in ("a", "b"):
        proc = toco("run", str(model), "--random", "--seed", "3", "-o", str(folder / f"{name}.npz"))
        assert proc.returncode == 0, proc.stderr
        outs.append(np.load(folder / f"{name}.npz")["probs"])
    np.testing.assert_array_equal(*outs)


@pytest.mark.parametrize("args,fragment", [
    ([], "no data for input(s) image [1, 8, 8, 1] float32"),
    (["--input", "nope=x.npy"], "the model has no input 'nope'"),
    (["--input", "image"], "write NAME=FILE.npy"),
])
def test_run_errors(digits, args, fragment):
    _, model, folder = digits
    proc = toco("run", str(model), *args, "-o", str(folder / "never.npz"))
    assert_one_line_error(proc, fragment)
    assert not (folder / "never.npz").exists()


def test_run_rejects_a_broken_model(tmp_path, digits):
    _, model, _ = digits
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(model.read_bytes()[:300])
    proc = toco("run", str(bad), "--random", "-o", str(tmp_path / "o.npz"))
    assert_one_line_error(proc)


def test_validate_pass_and_fail(digits):
    pb, model, _ = digits
    proc = toco("validate", pb, str(model), "--per-tensor", "--samples", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "float tolerance policy" in proc.stdout
    assert "toco-py vs TensorFlow" in proc.stdout and "LiteRT vs TensorFlow" in proc.stdout
    assert "conv2/Relu6" in proc.stdout and "SNR dB" in proc.stdout
    proc = toco("validate", pb, str(model), "--atol", "0", "--rtol", "0")
    assert proc.returncode == 1 and "FAIL" in proc.stdout
    proc = toco("validate", str(model))
    assert proc.returncode == 0 and "toco-py vs LiteRT" in proc.stdout


def test_model_bytes_roundtrip_runs(digits):
    """A model read back and written again by us runs the same in LiteRT."""
    _, model, _ = digits
    again = model_bytes(read_model(model.read_bytes()).main)
    check_against_litert(again)


def test_validate_catches_a_wrong_conversion(digits, tmp_path):
    """The policy's allowance is far below what a wrong weight does: the model with one conv
    bias changed by 1 % of the biases' range fails against the .pb, in our interpreter and
    in LiteRT."""
    pb, model, _ = digits
    graph = read_model(model.read_bytes()).main
    conv = next(op for op in graph.ops if op.type == "CONV_2D")
    bias = graph.tensors[conv.inputs[2]]
    bias.data = bias.data.copy()
    bias.data[0] += 0.01 * float(np.ptp(bias.data) or 1.0)
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(model_bytes(graph))
    proc = toco("validate", pb, str(broken))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.count("FAIL") == 2, proc.stdout


def test_validate_of_an_int8_model_uses_reference_kernels_and_fixed_tolerances(digits, tmp_path):
    pb, _, folder = digits
    int8 = folder / "digits_int8.tflite"
    proc = toco("convert", "--graph_def_file", pb, "-o", str(int8), "--quantize", "int8",
                "--calibration-data", "examples/models/digits_calibration.npz")
    assert proc.returncode == 0, proc.stderr
    proc = toco("validate", str(int8))
    assert proc.returncode == 0 and "float tolerance policy" in proc.stdout, proc.stdout
    proc = toco("validate", pb, str(int8))
    assert "atol=0.0001 rtol=0.001" in proc.stdout, proc.stdout
