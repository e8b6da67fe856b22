"""Every bad input gets one line naming the problem and the fix, exit code 2, no output file."""
import models
import numpy as np
import pytest
import tensorflow as tf
from cli import assert_one_line_error, toco
from oracle import freeze

v1 = tf.compat.v1


@pytest.fixture(scope="module")
def mlp_pb(tmp_path_factory):
    path = tmp_path_factory.mktemp("pb") / "mlp.pb"
    path.write_bytes(freeze(models.mlp)[0])
    return path


def test_unsupported_ops_listed_together(tmp_path):
    pb = tmp_path / "u.pb"
    pb.write_bytes(freeze(models.unsupported_ops_graph)[0])
    out = tmp_path / "u.tflite"
    proc = toco("convert", "--graph_def_file", str(pb), "--output_file", str(out))
    assert_one_line_error(proc, "Erf (erf_a, erf_b)", "Cumsum (running)", "Lgamma (lg)",
                          "--allow_custom_ops")
    assert not out.exists()


def test_allow_custom_ops_emits_them(tmp_path):
    pb = tmp_path / "u.pb"
    pb.write_bytes(freeze(models.unsupported_ops_graph)[0])
    out = tmp_path / "u.tflite"
    proc = toco("convert", "--graph_def_file", str(pb), "--output_file", str(out),
                "--allow_custom_ops")
    assert proc.returncode == 0, proc.stderr
    assert "custom ops: Cumsum, Erf, Lgamma" in proc.stderr
    assert out.read_bytes()[4:8] == b"TFL3"


@pytest.mark.parametrize("mutate,fragment", [
    (lambda data: data[: len(data) // 2], "not a TensorFlow GraphDef"),
    (lambda data: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "not a TensorFlow GraphDef"),
    (lambda data: b"", "holds no graph nodes"),
    (lambda data: b"hello, this is text", "not a TensorFlow GraphDef"),
    (lambda data: b"\0\0\0\0TFL3" + data, "already a TFLite model"),
], ids=["truncated", "png", "empty", "text", "tflite"])
def test_bad_graph_files(tmp_path, mlp_pb, mutate, fragment):
    bad = tmp_path / "bad.pb"
    bad.write_bytes(mutate(mlp_pb.read_bytes()))
    out = tmp_path / "out.tflite"
    proc = toco("convert", "--graph_def_file", str(bad), "--output_file", str(out))
    assert_one_line_error(proc, fragment, "frozen graph")
    assert not out.exists()


def test_missing_file(tmp_path):
    out = tmp_path / "out.tflite"
    proc = toco("convert", "--graph_def_file", str(tmp_path / "nope.pb"), "--output_file", str(out))
    assert_one_line_error(proc, "no such file", "--graph_def_file")
    assert not out.exists()


@pytest.mark.parametrize("flag,value,fragments", [
    ("--input_arrays", "xx", ["unknown input array 'xx'", "did you mean 'x'"]),
    ("--output_arrays", "prob", ["unknown output array 'prob'", "did you mean 'probs'"]),
    ("--input_shapes", "1,a", ["'a' is not an integer", "--input_shapes=1,224,224,3:1,10"]),
    ("--input_shapes", "1,16:1,3", ["gives 2 shapes for 1 inputs"]),
    ("--input_shapes", "1,15", ["[1, 15]", "input 'x'", "[1, 16]"]),
])
def test_bad_flags(tmp_path, mlp_pb, flag, value, fragments):
    out = tmp_path / "out.tflite"
    proc = toco("convert", "--graph_def_file", str(mlp_pb), "--output_file", str(out), flag, value)
    assert_one_line_error(proc, *fragments)
    assert not out.exists()


def test_unknown_input_shape_named(tmp_path):
    def build():
        x = v1.placeholder(tf.float32, None, name="anything")
        return {"y": tf.nn.relu(x, name="y")}

    pb = tmp_path / "s.pb"
    pb.write_bytes(freeze(build)[0])
    out = tmp_path / "s.tflite"
    proc = toco("convert", "--graph_def_file", str(pb), "--output_file", str(out))
    assert_one_line_error(proc, "input 'anything' has an unknown shape", "--input_shapes")
    assert not out.exists()
    proc = toco("convert", "--graph_def_file", str(pb), "--output_file", str(out),
                "--input_shapes", "2,3")
    assert proc.returncode == 0, proc.stderr


def test_failed_conversion_keeps_existing_output(tmp_path, mlp_pb):
    """A failure neither leaves a partial file nor touches one that was already there."""
    out = tmp_path / "out.tflite"
    out.write_bytes(b"previous")
    proc = toco("convert", "--graph_def_file", str(mlp_pb), "--output_file", str(out),
                "--output_arrays", "nope")
    assert proc.returncode == 2
    assert out.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.tflite"]


def test_input_file_not_modified(tmp_path, mlp_pb):
    before = mlp_pb.read_bytes()
    proc = toco("convert", "--graph_def_file", str(mlp_pb), "--output_file", str(tmp_path / "m.tflite"))
    assert proc.returncode == 0, proc.stderr
    assert mlp_pb.read_bytes() == before
    assert np.frombuffer(before, np.uint8).size > 0


@pytest.mark.parametrize("command", [["run", "{pb}", "--random"], ["codegen", "{pb}", "-o", "{out}"],
                                     ["quantize", "{pb}", "{out}", "--quantize", "dynamic"]])
def test_graphdef_given_where_a_tflite_is_expected(tmp_path, mlp_pb, command):
    out = tmp_path / "out"
    proc = toco(*[part.format(pb=mlp_pb, out=out) for part in command])
    assert_one_line_error(proc, "is a GraphDef, not a .tflite", "toco-py convert --graph_def_file")
    assert not out.exists()
