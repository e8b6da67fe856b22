"""tf.cond with a predicate known only at run time -> IF with then/else subgraphs (cond_to_if),
from TF1 Switch/Merge and from TF2's functional If: LiteRT on our .tflite matches TensorFlow on
the .pb for both values of the predicate, the op count (over all subgraphs) is at most TF's
converter's, and the refusals stay one-line errors."""
import contextlib

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.lite.python.convert_phase import ConverterError

from tests.support.cli import assert_one_line_error, toco
from tests.support.oracle import freeze, run_litert, run_tf, tf_convert
from tests.support.policy import tensorflow_and_litert_failures
from toco_py import api
from toco_py.errors import TocoError
from toco_py.quantize.driver import QuantizeOptions
from toco_py.tflite.reader import read_model

v1 = tf.compat.v1


@contextlib.contextmanager
def control_flow(version: int):
    """TF1 (Switch/Merge) or TF2 (functional If) control flow for the graphs built inside."""
    if version == 1:
        v1.disable_control_flow_v2()
    try:
        yield
    finally:
        v1.enable_control_flow_v2()


def _x(shape=(2, 4), name="x"):
    return v1.placeholder(tf.float32, shape, name=name)


def _pred():
    return v1.placeholder(tf.bool, [], name="p")


def two_outputs():
    x, p = _x(), _pred()
    w = tf.constant(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4))
    a, b = tf.cond(p, lambda: (tf.nn.relu(x) * 2.0 + w, tf.reduce_sum(x, axis=1)),
                   lambda: (tf.tanh(x) - 1.0, tf.reduce_max(x, axis=1)))
    return {"a": tf.identity(a * 3.0, name="a"), "b": tf.identity(b, name="b")}


def identity_branch():
    x, p = _x(), _pred()
    return {"y": tf.identity(tf.cond(p, lambda: x, lambda: x * x) + 1.0, name="y")}


def nested():
    x, p = _x(), _pred()
    q = tf.reduce_sum(x) > 0

    def inner():
        return tf.cond(q, lambda: x + 10.0, lambda: x - 10.0)
    return {"y": tf.identity(tf.cond(p, inner, lambda: tf.sigmoid(x)), name="y")}


def two_conds_in_a_row():
    x, p = _x(), _pred()
    first = tf.cond(p, lambda: x * 2.0, lambda: x * -1.0)
    return {"y": tf.identity(tf.cond(p, lambda: first + 1.0, lambda: tf.abs(first)), name="y")}


GRAPHS = {"two_outputs": (two_outputs, 1), "identity_branch": (identity_branch, 1),
          "nested": (nested, 2), "two_conds_in_a_row": (two_conds_in_a_row, 2)}


def _converted(build, version, tmp_path):
    with control_flow(version):
        pb, names = freeze(build)
    outputs = sorted(names.values())
    result = api.convert_bytes(pb, input_arrays=["x", "p"], output_arrays=outputs)
    return pb, outputs, result


def _ops_over_subgraphs(model: bytes) -> int:
    return sum(len(g.ops) for g in read_model(model).graphs)


@pytest.mark.parametrize("name", list(GRAPHS))
@pytest.mark.parametrize("version", [1, 2])
def test_cond_becomes_if_and_matches_tensorflow(name, version, tmp_path):
    build, ifs = GRAPHS[name]
    pb, outputs, result = _converted(build, version, tmp_path)
    model = read_model(bytes(result.model))
    assert sum(op.type == "IF" for g in model.graphs for op in g.ops) == ifs
    assert len(model.graphs) == 1 + 2 * ifs
    rng = np.random.default_rng(0)
    for p in (True, False):
        for _ in range(2):
            feeds = {"x": rng.normal(size=(2, 4)).astype(np.float32), "p": np.array(p)}
            assert tensorflow_and_litert_failures(pb, result.model, feeds, outputs) == []
    path = tmp_path / "m.pb"
    path.write_bytes(pb)
    with control_flow(version):
        theirs = tf_convert(str(path), ["x", "p"], outputs)
    assert _ops_over_subgraphs(bytes(result.model)) <= _ops_over_subgraphs(theirs)


def test_both_branches_run_in_litert_as_in_tensorflow(tmp_path):
    """The values differ with the predicate: the IF really chooses at run time."""
    pb, outputs, result = _converted(identity_branch, 1, tmp_path)
    x = np.full((2, 4), 3.0, np.float32)
    got = {p: run_litert(result.model, {"x": x, "p": np.array(p)})[outputs[0]] for p in (True, False)}
    np.testing.assert_array_equal(got[True], x + 1)
    np.testing.assert_array_equal(got[False], x * x + 1)


def test_constant_predicate_still_folds(tmp_path):
    def build():
        x = _x()
        return {"y": tf.identity(tf.cond(tf.constant(True), lambda: x * 2.0, lambda: x), name="y")}
    with control_flow(1):
        pb, _ = freeze(build)
    result = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"])
    assert result.graph.subgraphs == [] and [op.type for op in result.graph.ops] == ["MUL"]


def test_int8_calibration_that_never_takes_a_branch_is_a_clear_error(tmp_path):
    """The else-branch's tensors have no range when every sample takes the then-branch
    (tests/test_int8_control_flow.py quantizes conds calibrated on both)."""
    def build():
        x, p = _x(), _pred()
        return {"y": tf.identity(tf.cond(p, lambda: x + 1.0, lambda: x * x - 2.0), name="y")}
    with control_flow(1):
        pb, _ = freeze(build)
    np.savez(tmp_path / "c.npz", x=np.ones((4, 2, 4), np.float32), p=np.ones(4, bool))
    with pytest.raises(TocoError, match="subgraph 'cond_else'.*the calibration data never ran it"):
        api.convert_bytes(pb, input_arrays=["x", "p"], output_arrays=["y"],
                          quantize=QuantizeOptions("int8", calibration_data=str(tmp_path / "c.npz")))


def test_float16_weights_in_every_subgraph(tmp_path):
    """float16 stores the weights of each subgraph as float16 (the branch constant here)."""
    pb, outputs, _ = _converted(two_outputs, 1, tmp_path)
    result = api.convert_bytes(pb, input_arrays=["x", "p"], output_arrays=outputs,
                               quantize=QuantizeOptions("float16"))
    model = read_model(bytes(result.model))
    assert any(t.dtype == "float16" for g in model.graphs[1:] for t in g.tensors.values())
    rng = np.random.default_rng(1)
    for p in (True, False):
        feeds = {"x": rng.normal(size=(2, 4)).astype(np.float32), "p": np.array(p)}
        want = run_tf(pb, feeds, outputs)
        got = run_litert(result.model, feeds)
        # Only w (|w| <= 1) changes in float16, by at most 2^-11 relative, then times 3.
        for name, expected in zip(outputs, want):
            np.testing.assert_allclose(got[name], expected, rtol=1e-6, atol=3 * 2.0**-11)


def test_if_takes_its_shapes_from_the_then_branch(tmp_path):
    from toco_py.passes.propagate_shapes import propagate_shapes

    _, _, result = _converted(two_outputs, 1, tmp_path)
    graph = result.graph
    (if_op,) = [op for op in graph.ops if op.type == "IF"]
    then = graph.subgraphs[if_op.attrs["then_subgraph_index"]]
    for name in if_op.outputs:
        graph.tensors[name].shape = None
    propagate_shapes(graph)
    assert [graph.tensors[n].shape for n in if_op.outputs] == [then.tensors[n].shape for n in then.outputs] \
        == [(2, 4), (2,)]


def batch_norm_on_a_training_flag():
    """A tf.compat.v1.layers network as TF1 training code leaves it: its batch norm switches
    on an is_training placeholder between the batch's statistics and the moving ones."""
    x = v1.placeholder(tf.float32, [2, 6, 6, 3], name="x")
    training = v1.placeholder(tf.bool, [], name="p")
    h = v1.layers.conv2d(x, 4, 3, padding="same")
    h = tf.nn.relu(v1.layers.batch_normalization(h, training=training))
    return {"y": tf.identity(tf.reduce_mean(h, axis=[1, 2]), name="y")}


@pytest.mark.parametrize("version", [1, 2])
def test_batch_norm_on_a_training_placeholder(version, tmp_path):
    """Both branches convert (the training one's FusedBatchNorm in training mode too) and
    LiteRT gives TensorFlow's values for both flags. TF's converter converts the TF1 form
    (we use no more ops) but not the TF2 one: its branches keep FusedBatchNormV3 and
    OptionalFromValue, which need Flex ops."""
    with control_flow(version):
        pb, names = freeze(batch_norm_on_a_training_flag)
    result = api.convert_bytes(pb, input_arrays=["x", "p"], output_arrays=["y"])
    model = read_model(bytes(result.model))
    assert [op.type for op in model.main.ops if op.type == "IF"] == ["IF"]
    rng = np.random.default_rng(3)
    for p in (True, False):
        feeds = {"x": rng.normal(size=(2, 6, 6, 3)).astype(np.float32), "p": np.array(p)}
        assert tensorflow_and_litert_failures(pb, result.model, feeds, ["y"]) == []
    path = tmp_path / "m.pb"
    path.write_bytes(pb)
    with control_flow(version):
        if version == 2:
            with pytest.raises(ConverterError, match="ERROR_NEEDS_FLEX_OPS"):
                tf_convert(str(path), ["x", "p"], ["y"])
            return
        theirs = tf_convert(str(path), ["x", "p"], ["y"])
    assert _ops_over_subgraphs(bytes(result.model)) <= _ops_over_subgraphs(theirs)


def _branch_cast_to_int(gd) -> None:
    """One branch's value reaches the cond's end as int32, the other as float32."""
    merge = next(n for n in gd.node if n.op == "Merge")
    cast = gd.node.add(name="else_as_int", op="Cast", input=[merge.input[1]])
    cast.attr["SrcT"].type, cast.attr["DstT"].type = tf.float32.as_datatype_enum, tf.int32.as_datatype_enum
    merge.input[1] = cast.name


def _else_function_returns_int(gd) -> None:
    """The functional If's else branch returns int32 where the then branch returns float32."""
    node = next(n for n in gd.node if n.op in ("If", "StatelessIf"))
    else_fn = next(f for f in gd.library.function if f.signature.name == node.attr["else_branch"].func.name)
    ret = else_fn.signature.output_arg[0].name
    cast = else_fn.node_def.add(name="as_int", op="Cast", input=[else_fn.ret[ret]])
    cast.attr["SrcT"].type, cast.attr["DstT"].type = tf.float32.as_datatype_enum, tf.int32.as_datatype_enum
    else_fn.ret[ret] = "as_int:y:0"
    else_fn.signature.output_arg[0].type = tf.int32.as_datatype_enum


@pytest.mark.parametrize("version, mutate", [(1, _branch_cast_to_int), (2, _else_function_returns_int)])
def test_branches_of_different_dtypes_are_a_one_line_error(version, mutate, tmp_path):
    with control_flow(version):
        pb, _ = freeze(identity_branch)
    gd = v1.GraphDef()
    gd.ParseFromString(pb)
    mutate(gd)
    path, out = tmp_path / "bad.pb", tmp_path / "bad.tflite"
    path.write_bytes(gd.SerializeToString())
    proc = toco("convert", "--graph_def_file", str(path), "--output_file", str(out),
                "--input_arrays", "x,p", "--output_arrays", "y")
    assert_one_line_error(proc, "different dtypes", "float32", "int32", "malformed")
    assert not out.exists()
