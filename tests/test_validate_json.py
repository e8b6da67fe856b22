"""validate --json, and the ops whose quantization alone costs the outputs most
(toco_py/sensitivity.py), on an MLP whose middle layer has weights int8 cannot hold: every
output channel of fc2 has one weight of 50 (on a unit that is always 0, so the float model
never feels it) among weights of about 0.2, so the per-channel scale 50/127 rounds the
others to a step of 0.39. The oracle is a hand computation in numpy from the parameters and
weights LiteRT reads from the int8 file."""
import json

import numpy as np
import pytest
import tensorflow as tf

from tests.support.cli import assert_one_line_error, toco
from tests.support.networks import _freeze_v1

v1 = tf.compat.v1
BATCH = 8  # one input set holds 8 rows: the measure averages over them
LAYERS = ("fc1", "fc2", "fc3")


def _weights():
    rng = np.random.default_rng(7)
    w1 = rng.normal(0, 0.25, (16, 32)).astype(np.float32)
    b1 = rng.normal(0, 0.1, 32).astype(np.float32)
    b1[0] = -100.0  # unit 0 of fc1 is always 0 after the ReLU
    w2 = rng.normal(0, 0.2, (32, 24)).astype(np.float32)
    w2[0, :] = 50.0  # ... and carries fc2's outlier weights
    b2 = rng.normal(0, 0.1, 24).astype(np.float32)
    w3 = rng.normal(0, 0.2, (24, 8)).astype(np.float32)
    b3 = rng.normal(0, 0.1, 8).astype(np.float32)
    return [(w1, b1, True), (w2, b2, True), (w3, b3, False)]


def _float_forward(x, layers):
    for w, b, relu in layers:
        x = x @ w + b
        x = np.maximum(x, 0) if relu else x
    return x


def _build():
    x = v1.placeholder(tf.float32, [BATCH, 16], name="x")
    h = x
    for name, (w, b, relu) in zip(LAYERS, _weights()):
        h = tf.nn.bias_add(tf.matmul(h, tf.constant(w)), tf.constant(b))
        h = tf.nn.relu(h, name=name) if relu else tf.identity(h, name=name)
    return {"x": x}, [h]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vjson")
    pb = folder / "mlp.pb"
    pb.write_bytes(_freeze_v1("outlier_mlp", _build).pb)
    rng = np.random.default_rng(0)
    np.savez(folder / "cal.npz", x=rng.normal(0, 1, (32, BATCH, 16)).astype(np.float32))
    np.savez(folder / "one.npz", x=rng.normal(0, 1, (BATCH, 16)).astype(np.float32))
    paths = {"pb": pb, "float": folder / "float.tflite", "int8": folder / "int8.tflite",
             "inputs": folder / "one.npz", "folder": folder}
    for out, extra in ((paths["float"], []), (paths["int8"], ["--quantize", "int8", "--calibration-data",
                                                              str(folder / "cal.npz")])):
        proc = toco("convert", "--graph_def_file", str(pb), "-o", str(out), *extra)
        assert proc.returncode == 0, proc.stderr
    return paths


def _validate(files, *args, reference="float"):
    return toco("validate", str(files[reference]), str(files["int8"]), "--inputs", str(files["inputs"]), *args)


def _litert_layers(path):
    """Per FULLY_CONNECTED, in order: (input params, weights, bias, output params), the
    weights and bias dequantized from the int8 and int32 values LiteRT reads from the file."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    interp.allocate_tensors()
    details = {d["index"]: d for d in interp.get_tensor_details()}

    def params(i):
        q = details[i]["quantization_parameters"]
        return float(q["scales"][0]), int(q["zero_points"][0])

    def real(i):  # per output channel: axis 0 of the weights (out, in) and of the bias
        value = interp.get_tensor(i).astype(np.float64)
        return value * details[i]["quantization_parameters"]["scales"].reshape(-1, *[1] * (value.ndim - 1))

    return [(params(op["inputs"][0]), real(op["inputs"][1]).T, real(op["inputs"][2]), params(op["outputs"][0]))
            for op in interp._get_ops_details() if op["op_name"] == "FULLY_CONNECTED"]


def _fake_quant(x, params):
    scale, zero = params
    return (np.clip(np.round(x / scale) + zero, -128, 127) - zero) * scale


def _emulated(x, quantized, int8_layers):
    """The model with the layers `quantized` in int8 (input and output on their int8 grid,
    weights and bias the file's) and the others in float."""
    for k, ((w, b, relu), (in_params, w8, b32, out_params)) in enumerate(zip(_weights(), int8_layers)):
        if k in quantized:
            x = _fake_quant(x, in_params) @ w8 + b32
        else:
            x = x @ w + b
        x = np.maximum(x, 0) if relu else x
        if k in quantized:
            x = _fake_quant(x, out_params)
    return x


def _error(y, truth):
    return float(np.mean(np.abs(y - truth)) / (truth.max() - truth.min()))


def test_json_ranks_the_op_whose_quantization_costs_most(files):
    proc = _validate(files, "--json")
    assert proc.returncode == 1, proc.stderr  # int8 misses the default 1e-4 tolerance, as in the table form
    doc = json.loads(proc.stdout)
    assert doc["candidate"] == str(files["int8"]) and doc["samples"] == 1 and doc["passed"] is False
    assert "tensors" not in doc  # without --per-tensor
    ops = doc["contributors"]["ops"]
    assert [op["type"] for op in ops] == ["FULLY_CONNECTED"] * 3 and [op["rank"] for op in ops] == [1, 2, 3]
    assert [op["tensor"] for op in ops][0] == "fc2", ops
    assert ops[0]["error"] > 5 * ops[1]["error"], "fc2's weights dominate the error"

    x = np.load(files["inputs"])["x"].astype(np.float64)
    truth = _float_forward(x, _weights())
    int8_layers = _litert_layers(files["int8"])
    alone = {LAYERS[k]: _error(_emulated(x, {k}, int8_layers), truth) for k in range(3)}
    measured = {op["tensor"]: op["error"] for op in ops}
    # Our kernels compute what the hand computation does (the integer kernel's requantization
    # rounds as the float product does but within ~1e-9 of a step from a tie, which these data
    # do not reach); the float layers run in float32 in our interpreter, in float64 here: each
    # output differs by the float32 rounding of sums of <= 32 terms over 3 layers, under
    # 2^-24 * 32 * 3 * max|y| in the reference and again in the perturbed run.
    tolerance = 2 * 2.0 ** -24 * 32 * 3 * np.abs(truth).max() / (truth.max() - truth.min())
    assert measured == pytest.approx(alone, abs=tolerance, rel=0)
    assert max(alone, key=alone.get) == "fc2"

    # Keeping fc2 in float lowers the whole int8 model's error most.
    everything = _error(_emulated(x, {0, 1, 2}, int8_layers), truth)
    kept = {LAYERS[k]: everything - _error(_emulated(x, {0, 1, 2} - {k}, int8_layers), truth) for k in range(3)}
    assert max(kept, key=kept.get) == "fc2", kept
    assert doc["contributors"]["model_error"] == pytest.approx(everything, abs=tolerance, rel=0)


def _table_rows(stdout: str, header: str) -> list[list[str]]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header)) + 1
    rows = []
    for line in lines[start + 1:]:
        if not line.strip() or line.startswith("per tensor"):
            break
        rows.append(line.split())
    return rows


def test_json_matches_the_tables(files):
    args = ("--per-tensor", "--atol", "10")  # passes: exit 0 in both forms
    table, as_json = _validate(files, *args), _validate(files, *args, "--json")
    assert table.returncode == 0 and as_json.returncode == 0, table.stderr + as_json.stderr
    doc = json.loads(as_json.stdout)
    assert doc["passed"] is True and doc["tolerance"]["atol"] == 10
    outputs = _table_rows(table.stdout, "atol=10")
    assert len(outputs) == len(doc["outputs"]) == 2  # ours and LiteRT, against LiteRT on the float file
    for cells, row in zip(outputs, doc["outputs"]):
        assert cells[0] == row["tensor"] and cells[-1] == "pass"
        assert cells[-3:-1] == [f"{row['max_abs']:.3g}", f"{row['max_rel']:.3g}"]
    tensors = _table_rows(table.stdout, "per tensor")
    assert [c[0] for c in tensors] == [r["tensor"] for r in doc["tensors"]]
    marks = {op["tensor"]: f"#{op['rank']} {op['error']:.3g}" for op in doc["contributors"]["ops"][:5]}
    for cells, row in zip(tensors, doc["tensors"]):
        assert cells[1:5] == [f"{row[k]:.3g}" for k in ("max_abs", "max_rel", "snr_db", "cosine")]
        assert " ".join(cells[5:7]) == marks.get(row["tensor"], " ".join(cells[5:7])), cells
    assert {" ".join(c[5:7]) for c in tensors if len(c) > 5 and c[5].startswith("#")} == set(marks.values())


def test_pb_reference_ranks_the_same_op(files):
    proc = _validate(files, "--json", reference="pb")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["outputs"][0]["reference"] == "TensorFlow"
    assert doc["contributors"]["ops"][0]["tensor"] == "fc2"


def test_json_without_a_float_reference_has_no_contributors(files):
    proc = toco("validate", str(files["int8"]), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["contributors"] is None and doc["reference"] is None and doc["passed"] is True


def test_json_with_a_broken_model_is_a_one_line_error(files):
    bad = files["folder"] / "broken.tflite"
    bad.write_bytes(files["int8"].read_bytes()[:200])
    proc = toco("validate", str(files["float"]), str(bad), "--json")
    assert_one_line_error(proc)
    assert proc.stdout == ""


def test_a_sequence_of_steps_is_compared_but_not_ranked(files):
    proc = toco("validate", str(files["float"]), str(files["int8"]), "--steps", "2", "--json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert [r["step"] for r in doc["steps"]] == [0, 0, 1, 1]
    assert doc["contributors"]["ops"] == [] and "sequence of steps" in doc["contributors"]["note"]


def test_a_file_of_samples_is_compared_sample_by_sample(files):
    """Input sets stacked along the first axis (k times the batch, as in a calibration file)
    are k samples: the report keeps the worst of them, as validating each alone finds."""
    rng = np.random.default_rng(3)
    sets = [rng.normal(0, 1, (BATCH, 16)).astype(np.float32) for _ in range(3)]
    worst = 0.0
    for k, x in enumerate(sets):
        np.savez(files["folder"] / f"set{k}.npz", x=x)
        proc = toco("validate", str(files["float"]), str(files["int8"]), "--inputs",
                    str(files["folder"] / f"set{k}.npz"), "--atol", "10", "--json")
        assert proc.returncode == 0, proc.stderr
        worst = max(worst, json.loads(proc.stdout)["outputs"][0]["max_abs"])
    np.savez(files["folder"] / "sets.npz", x=np.concatenate(sets))
    proc = toco("validate", str(files["float"]), str(files["int8"]), "--inputs", str(files["folder"] / "sets.npz"),
                "--atol", "10", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["samples"] == 3 and doc["outputs"][0]["max_abs"] == worst


@pytest.mark.parametrize("shape", [(BATCH + 1, 16), (BATCH, 15), (BATCH * 16,)])
def test_data_of_another_shape_is_a_one_line_error(files, shape):
    np.savez(files["folder"] / "odd.npz", x=np.zeros(shape, np.float32))
    proc = toco("validate", str(files["float"]), str(files["int8"]), "--inputs", str(files["folder"] / "odd.npz"))
    assert_one_line_error(proc)
    assert "has shape [8, 16]" in proc.stderr and f"{list(shape)}" in proc.stderr


def test_samples_with_data_from_files_is_a_one_line_error(files):
    proc = _validate(files, "--samples", "2")
    assert_one_line_error(proc)
    assert "along each input's first axis" in proc.stderr

