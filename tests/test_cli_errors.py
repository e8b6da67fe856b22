"""Every bad input gets one line naming the problem and the fix, exit code 2, no output file."""
import numpy as np
import pytest
import tensorflow as tf

from tests.support import models
from tests.support.cli import assert_one_line_error, toco
from tests.support.oracle import freeze

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
    assert_one_line_error(proc, "Erf (erf_a, erf_b)", "Cumprod (running)", "Digamma (dg)",
                          "--allow_custom_ops")
    assert not out.exists()


def test_allow_custom_ops_emits_them(tmp_path):
    pb = tmp_path / "u.pb"
    pb.write_bytes(freeze(models.unsupported_ops_graph)[0])
    out = tmp_path / "u.tflite"
    proc = toco("convert", "--graph_def_file", str(pb), "--output_file", str(out),
                "--allow_custom_ops")
    assert proc.returncode == 0, proc.stderr
    assert "custom ops: Cumprod, Digamma, Erf" in proc.stderr
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
    assert (tmp_path / "m.tflite").read_bytes()[4:8] == b"TFL3"


@pytest.mark.parametrize("command", [["run", "{pb}", "--random"], ["codegen", "{pb}", "-o", "{out}"],
                                     ["quantize", "{pb}", "{out}", "--quantize", "dynamic"]])
def test_graphdef_given_where_a_tflite_is_expected(tmp_path, mlp_pb, command):
    out = tmp_path / "out"
    proc = toco(*[part.format(pb=mlp_pb, out=out) for part in command])
    assert_one_line_error(proc, "is a GraphDef, not a .tflite", "toco-py convert --graph_def_file")
    assert not out.exists()


DIGITS_CNN = __import__("pathlib").Path(__file__).parent.parent / "examples" / "models" / "digits_cnn.pb"


@pytest.fixture(scope="module")
def vector_fed_conv_pb(tmp_path_factory):
    """digits_cnn.pb with its image placeholder declared [1, 64]: a Conv2D fed a vector."""
    from toco_py.frontend.proto import GraphDef

    gd = GraphDef()
    gd.ParseFromString(DIGITS_CNN.read_bytes())
    shape = next(n for n in gd.node if n.op == "Placeholder").attr["shape"].shape
    shape.Clear()
    for size in (1, 64):
        shape.dim.add().size = size
    path = tmp_path_factory.mktemp("pb") / "vector_fed_conv.pb"
    path.write_bytes(gd.SerializeToString())
    return path


@pytest.mark.parametrize("command", [
    ["convert", "--graph_def_file", "{pb}", "-o", "{out}/m.tflite"],
    ["convert", "--graph_def_file", "{pb}", "-o", "{out}/m.tflite", "--dump_graphviz_dir", "{out}/dot"],
    ["check", "{pb}"], ["inspect", "{pb}"], ["inspect", "{pb}", "--graphviz", "{out}/m.dot"],
], ids=["convert", "dump_graphviz_dir", "check", "inspect", "inspect-graphviz"])
def test_malformed_graph_named_by_every_command(tmp_path, vector_fed_conv_pb, command):
    """Every command that reads a .pb goes through the same checked import."""
    proc = toco(*[part.format(pb=vector_fed_conv_pb, out=tmp_path) for part in command])
    assert_one_line_error(proc, "node 'conv1/Conv2D'", "the GraphDef is malformed")
    assert not (tmp_path / "m.tflite").exists()


@pytest.mark.parametrize("reference", ["nope.pb", "nope.tflite", "."])
def test_validate_missing_reference(tmp_path, mlp_pb, reference):
    model = tmp_path / "m.tflite"
    assert toco("convert", "--graph_def_file", str(mlp_pb), "-o", str(model)).returncode == 0
    proc = toco("validate", str(tmp_path / reference), str(model))
    assert_one_line_error(proc, "no such file" if reference != "." else "is not a file")


def test_bad_reference_outside_the_cut_ignored(tmp_path, mlp_pb):
    """A node input 'x:foo' (not an output index) is only looked at where the cut needs it."""
    from toco_py.frontend.proto import GraphDef

    gd = GraphDef()
    gd.ParseFromString(mlp_pb.read_bytes())
    stray = gd.node.add()
    stray.name, stray.op = "stray", "Identity"
    stray.input.append("x:foo")
    pb, out = tmp_path / "stray.pb", tmp_path / "m.tflite"
    pb.write_bytes(gd.SerializeToString())
    proc = toco("convert", "--graph_def_file", str(pb), "-o", str(out), "--output_arrays", "probs")
    assert proc.returncode == 0, proc.stderr
    proc = toco("convert", "--graph_def_file", str(pb), "-o", str(out), "--output_arrays", "stray")
    assert_one_line_error(proc, "'x:foo'", "malformed")


def test_split_ref():
    from toco_py.frontend.context import split_ref, tensor_name

    assert split_ref("x") == ("x", 0) and split_ref("x:0") == ("x", 0)
    assert split_ref("a/b:12") == ("a/b", 12) and split_ref("x:foo") == ("x:foo", 0)
    assert split_ref("x:-1") == ("x:-1", 0) and split_ref("x:\uff11") == ("x:\uff11", 0)
    assert tensor_name("x:0") == "x" and tensor_name("x:2") == "x:2" and tensor_name("x:foo") == "x:foo"


def test_fold_limit_reaches_upstream_shape_inference(mlp_pb, monkeypatch):
    """An interior input's shape is inferred by running the passes upstream of it: under the
    conversion's folding limit, not the default."""
    from toco_py import api
    from toco_py.passes import fold_constants

    seen = []
    real = api.run_all

    def spy(*args, **kwargs):
        seen.append(fold_constants.size_limit)
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "run_all", spy)
    result = api.convert(str(mlp_pb), input_arrays=["h1"], output_arrays=["probs"], fold_limit=12345)
    assert any("inferred from the graph upstream" in n for n in result.notes), result.notes
    assert len(seen) >= 2 and set(seen) == {12345}
    assert fold_constants.size_limit == fold_constants.DEFAULT_SIZE_LIMIT


def test_validate_keeps_the_worst_sample():
    """A later failing sample with a larger error replaces an earlier failing one."""
    from toco_py.validate import Comparison, keep_worst

    def row(max_abs, passed):
        return Comparison("y", "toco-py", "TensorFlow", max_abs, max_abs, 0.0, 1.0, passed)

    worst = {}
    for r in (row(0.1, True), row(0.5, False), row(2.0, False), row(9.0, True), row(1.0, False)):
        keep_worst(worst, [r])
    assert worst[("y", "toco-py")].max_abs == 2.0 and not worst[("y", "toco-py")].passed
    worst = {}
    for r in (row(0.1, True), row(0.3, True), row(0.2, True)):
        keep_worst(worst, [r])
    assert worst[("y", "toco-py")].max_abs == 0.3


# ---- our bugs are not the user's: exit code 3, one line asking for a report --------------

def _toco_here(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """`toco-py ARGS` in this process, so that a bug injected with monkeypatch takes effect:
    (exit code, stderr)."""
    from toco_py.cli import main

    monkeypatch.setattr("sys.argv", ["toco-py", *args])
    with pytest.raises(SystemExit) as stop:
        main()
    return stop.value.code, capsys.readouterr().err


def _assert_internal_error(code: int, stderr: str, where: str, what: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 3 and len(lines) == 1 and "Traceback" not in stderr, (code, stderr)
    assert lines[0].startswith(f"internal error in toco-py ({where}): {what}"), lines[0]
    assert lines[0].endswith("please report it with the graph, or rerun with --debug for the traceback")
    assert "malformed" not in lines[0]


def _broken(exception: Exception):
    def fail(*args, **kwargs):
        raise exception
    return fail


def test_a_kernel_bug_met_while_folding_is_an_internal_error(tmp_path, mlp_pb, monkeypatch, capsys):
    """The weight transposes fold with the TRANSPOSE kernel; its rule accepted the inputs,
    so its failing is ours, not a malformed graph."""
    from dataclasses import replace

    from toco_py.ops import REGISTRY

    monkeypatch.setitem(REGISTRY, "TRANSPOSE",
                        replace(REGISTRY["TRANSPOSE"], kernel=_broken(TypeError("injected bug"))))
    out = tmp_path / "m.tflite"
    code, stderr = _toco_here(monkeypatch, capsys, "convert", "--graph_def_file", str(mlp_pb), "-o", str(out))
    _assert_internal_error(code, stderr, "pass fold_constants on node 'MatMul'", "TypeError: injected bug")
    assert not out.exists()


def test_a_bug_in_a_rewrite_names_the_pass(tmp_path, mlp_pb, monkeypatch, capsys):
    from toco_py.passes import stages
    from toco_py.passes.base import Pass

    broken = Pass("fuse_activation", _broken(KeyError("fused_activation_function")))
    monkeypatch.setitem(stages.STAGES, "fuse", [broken])
    code, stderr = _toco_here(monkeypatch, capsys, "convert", "--graph_def_file", str(mlp_pb),
                              "-o", str(tmp_path / "m.tflite"))
    _assert_internal_error(code, stderr, "pass fuse_activation on node 'MatMul'",
                           "KeyError: 'fused_activation_function'")


def test_a_bug_in_a_mapper_names_the_node(tmp_path, mlp_pb, monkeypatch, capsys):
    from toco_py.frontend.tf_ops import MAPPERS

    monkeypatch.setitem(MAPPERS, "MatMul", _broken(IndexError("list index out of range")))
    code, stderr = _toco_here(monkeypatch, capsys, "check", str(mlp_pb))
    _assert_internal_error(code, stderr, "the MatMul mapper on node 'MatMul'",
                           "IndexError: list index out of range")


def test_debug_prints_the_traceback(tmp_path, mlp_pb, monkeypatch, capsys):
    from toco_py.frontend.tf_ops import MAPPERS

    monkeypatch.setitem(MAPPERS, "MatMul", _broken(IndexError("list index out of range")))
    code, stderr = _toco_here(monkeypatch, capsys, "--debug", "check", str(mlp_pb))
    assert code == 3
    assert stderr.startswith("Traceback") and 'in fail\n    raise exception' in stderr, stderr
    assert "The above exception was the direct cause" in stderr  # the bug, then where it was met
    assert stderr.splitlines()[-1].startswith("internal error in toco-py (the MatMul mapper on node 'MatMul')")


def test_malformed_constants_found_by_folding_are_the_graphs(tmp_path):
    """A Fill whose dims only folding reveals (a PlaceholderWithDefault's default) to be
    negative: the graph's fault, exit code 2, though it shows inside a pass."""
    def build():
        x = v1.placeholder(tf.float32, [1, 4], name="x")
        dims = v1.placeholder_with_default(tf.constant([-3, 4]), [2], name="dims")
        return {"y": tf.add(x, tf.fill(dims, 1.0, name="fill"), name="y")}

    pb, out = tmp_path / "fill.pb", tmp_path / "fill.tflite"
    pb.write_bytes(freeze(build)[0])
    proc = toco("convert", "--graph_def_file", str(pb), "-o", str(out))
    assert_one_line_error(proc, "node 'fill' (FILL) would compute 'fill' of shape [-3, 4]", "malformed")
    assert not out.exists()


@pytest.mark.parametrize("field,value,held", [("i", 1, "an int"), ("s", b"true", "a string")])
def test_an_attribute_of_another_kind_is_the_graphs(mlp_pb, field, value, held):
    """A mapper reads each attribute as the kind it relies on: MatMul's transpose_b stored as
    another kind is a malformed node (exit code 2), not a TypeError of ours."""
    from toco_py import api
    from toco_py.errors import ConversionError
    from toco_py.frontend.proto import GraphDef

    gd = GraphDef.FromString(mlp_pb.read_bytes())
    setattr(next(n for n in gd.node if n.name == "MatMul").attr["transpose_b"], field, value)
    with pytest.raises(ConversionError, match=f"node 'MatMul' \\(MatMul\\): attribute 'transpose_b' "
                                              f"holds {held}, not a bool; the graph is malformed"):
        api.convert_bytes(gd.SerializeToString())


def test_run_with_data_of_another_shape(tmp_path, mlp_pb):
    model = tmp_path / "m.tflite"
    assert toco("convert", "--graph_def_file", str(mlp_pb), "-o", str(model)).returncode == 0
    np.save(tmp_path / "x.npy", np.zeros((1, 15), np.float32))
    proc = toco("run", str(model), "--input", f"x={tmp_path / 'x.npy'}", "-o", str(tmp_path / "out.npz"))
    assert_one_line_error(proc, "input 'x' has shape [1, 16], got data of shape [1, 15]")
    assert not (tmp_path / "out.npz").exists()
