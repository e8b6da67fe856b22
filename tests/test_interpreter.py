"""The reference interpreter against LiteRT, on every network of the passes issue as
converted by toco-py and by TensorFlow's converter; run/validate on the command line."""
import json

import networks
import numpy as np
import pytest
from cli import assert_one_line_error, toco
from oracle import litert, tf_convert

from toco_py import api
from toco_py.errors import TocoError
from toco_py.interpreter import Interpreter
from toco_py.ir import Op
from toco_py.ops import REGISTRY
from toco_py.tensor_io import random_inputs
from toco_py.tflite.reader import read_model
from toco_py.tflite.writer import model_bytes

RELATIVE = 1e-5


def litert_by_index(model: bytes, feeds_by_index: dict[int, np.ndarray], keep_all: bool = False):
    interp = litert(model, delegates=False, preserve_all=keep_all)
    for index, value in feeds_by_index.items():
        interp.set_tensor(index, value)
    interp.invoke()
    if keep_all:
        return {i: interp.get_tensor(i) for i in range(len(interp.get_tensor_details()))}
    return {d["index"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}


def close(got: np.ndarray, want: np.ndarray, relative: float) -> float:
    """max |got - want| over the largest magnitude of want; asserts shape and dtype agree."""
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape, got.dtype, want.dtype)
    scale = max(float(np.max(np.abs(want))), 1e-30) if want.size else 1.0
    return float(np.max(np.abs(got.astype(np.float64) - want))) / scale if want.size else 0.0


def check_against_litert(model: bytes, seeds=(0, 1), relative: float = RELATIVE):
    """Our outputs within `relative` of LiteRT's (optimized kernels), relative to the output's
    largest magnitude."""
    graph = read_model(model).main
    names = list(graph.tensors)
    interp = Interpreter(graph)
    for seed in seeds:
        feeds = random_inputs(graph, seed)
        ours = interp.run(feeds)
        theirs = litert_by_index(model, {names.index(n): v for n, v in feeds.items()})
        for name in graph.outputs:
            assert close(ours[name], theirs[names.index(name)], relative) <= relative, name


def check_each_op_against_litert(model: bytes) -> None:
    """Every op, fed the values LiteRT computed for its inputs, gives LiteRT's output within
    1e-5 relative. (End to end, a deep network's float32 rounding grows with depth: LiteRT's
    own reference and optimized kernels differ by up to 1e-4 on InceptionV3.)"""
    graph = read_model(model).main
    names = list(graph.tensors)
    feeds = random_inputs(graph, 0)
    lite = litert_by_index(model, {names.index(n): v for n, v in feeds.items()}, keep_all=True)
    for op in graph.ops:
        args = [None if not n else graph.tensors[n].data if graph.tensors[n].is_const else lite[names.index(n)]
                for n in op.inputs]
        result = REGISTRY[op.type].kernel(op, *args)
        for out, name in zip(result if isinstance(result, (tuple, list)) else [result], op.outputs):
            assert close(np.asarray(out), lite[names.index(name)], RELATIVE) <= RELATIVE, (op, name)


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
        check_each_op_against_litert(model)
        check_against_litert(model, seeds=(0,), relative=1e-3)


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
