"""Ops whose output size depends on the input values (WHERE, UNIQUE, RANGE of run-time bounds),
BROADCAST_ARGS, and Size of a tensor of run-time size: our kernels against LiteRT's reference
kernels on one-op models, and TF graphs end to end (TensorFlow on the .pb, LiteRT on our
.tflite, op counts against TF's converter), in float and int8; the -1 sizes in the written
shape_signature, in `inspect`, and codegen's refusal."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tests.support.cli import assert_one_line_error, toco
from tests.support.kernel_check import (
    compare_int8_with_litert,
    compare_with_litert,
    one_op_graph,
    quant,
)
from tests.support.oracle import freeze, litert, op_types, tf_convert
from tests.support.tf_compare import convert_tf
from toco_py import api
from toco_py.interpreter import Interpreter
from toco_py.ops import REGISTRY
from toco_py.quantize.driver import QuantizeOptions
from toco_py.tflite.reader import read_graph
from toco_py.tflite.writer import model_bytes

v1 = tf.compat.v1
pytestmark = pytest.mark.usefixtures("repeatable_draws")  # conftest: RNG reseeded per test
RNG = np.random.default_rng(13)


def _x(*shape, name="x"):
    return v1.placeholder(tf.float32, shape, name=name)


def normal(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


# ---- one-op models against LiteRT's kernels ----------------------------------------------

@pytest.mark.parametrize("dtype", ["bool", "float32", "int32", "int64", "int8", "uint8"])
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 4), (2, 1, 3, 2)], ids=str)
def test_where(dtype, shape):
    x = (RNG.integers(-1, 2, shape) * RNG.integers(0, 2, shape)).astype(dtype)
    x.flat[-1] = 1  # LiteRT's Python API cannot read an empty output (test below)
    compare_with_litert("WHERE", [x])


def test_where_of_nothing_true_is_empty():
    x = np.zeros((3, 4), bool)
    interp = litert(model_bytes(one_op_graph("WHERE", [x])))
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    assert interp.get_output_details()[0]["shape"].tolist() == [0, 2]
    assert REGISTRY["WHERE"].kernel(None, x).shape == (0, 2)


@pytest.mark.parametrize("index_type", ["int32", "int64"])
@pytest.mark.parametrize("dtype", ["float32", "int32", "int64", "int8", "int16", "uint8"])
def test_unique(dtype, index_type):
    x = RNG.integers(-3, 4, 12).astype(dtype)
    values, index = compare_with_litert("UNIQUE", [x], {"idx_out_type": index_type}, n_outputs=2)
    assert index.dtype == index_type and np.array_equal(values[index], x)


def test_unique_keeps_first_occurrence_order():
    x = np.array([5, 1, 5, 9, 1, 0], np.int32)
    values, index = compare_with_litert("UNIQUE", [x], n_outputs=2)
    assert values.tolist() == [5, 1, 9, 0] and index.tolist() == [0, 1, 0, 2, 1, 3]


def test_unique_int8():
    """Quantized values: the raw integers compared and copied, in the input's params."""
    x = RNG.integers(-128, 128, 40).astype(np.int8)
    compare_int8_with_litert("UNIQUE", [x], [quant(0.05, 3)], [quant(0.05, 3), None])


@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("s0,s1", [([2, 1, 4], [3, 1]), ([5], [1, 1, 5]), ([1], [])], ids=str)
def test_broadcast_args(s0, s1, dtype):
    (out,) = compare_with_litert("BROADCAST_ARGS", [np.array(s0, dtype), np.array(s1, dtype)])
    assert out.tolist() == list(np.broadcast_shapes(tuple(s0), tuple(s1)))


@pytest.mark.parametrize("bounds", [(0, 7, 1), (10, -3, -4), (2, 3, 5)], ids=str)
@pytest.mark.parametrize("dtype", ["int32", "float32"])
def test_range_of_run_time_bounds(bounds, dtype):
    compare_with_litert("RANGE", [np.array(b, dtype) for b in bounds])


# ---- TF graphs end to end ------------------------------------------------------------------

FEEDS_X = {"x": normal(4, 3)}


def _shape_signature(model: bytes, name: str) -> list[int]:
    details = litert(model, delegates=False).get_tensor_details()
    return next(d["shape_signature"].tolist() for d in details if d["name"] == name)


def test_where_gather_nd_sum(tmp_path):
    """x -> Where(x > 0) -> GatherNd(x, coordinates) -> Sum: the sizes in between are known
    when LiteRT runs the model, and written as TF's converter writes them."""
    def build():
        x = _x(4, 3)
        picked = tf.gather_nd(x, tf.where(x > 0))
        return {"y": tf.reduce_sum(picked, name="y"), "picked": tf.identity(picked, name="picked")}
    ours = convert_tf(build, FEEDS_X, tmp_path, "Where", float_math=True)
    assert ours == ["GREATER", "WHERE", "GATHER_ND", "SUM"]
    pb, _ = freeze(build)
    model = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y", "picked"]).model
    (tmp_path / "m.pb").write_bytes(pb)
    theirs = tf_convert(str(tmp_path / "m.pb"), ["x"], ["y", "picked"])
    for name in ("Where", "picked"):
        assert _shape_signature(model, name) == _shape_signature(theirs, name)
    assert _shape_signature(model, "Where") == [-1, 2]


def test_elementwise_ops_after_where_keep_the_run_time_size(tmp_path):
    def build():
        x = _x(4, 3)
        picked = tf.gather_nd(x, tf.where(x > 0.5))
        return {"y": tf.nn.relu(picked * 2.0 - 1.5, name="y"),
                "m": tf.reduce_max(tf.exp(picked), name="m")}
    ours = convert_tf(build, FEEDS_X, tmp_path, "Where", float_math=True)
    assert "WHERE" in ours


def _op_output_signatures(model: bytes) -> dict[str, list[int]]:
    interp = litert(model, delegates=False)
    details = interp.get_tensor_details()
    return {details[i]["name"]: details[i]["shape_signature"].tolist()
            for op in interp._get_ops_details() for i in op["outputs"]}


def test_run_time_sizes_flow_through_the_ops_after_them(tmp_path):
    """Rows picked by WHERE through gathers, FC, softmax, transposes, reductions, concat,
    slices, pads, reshapes, SHAPE, CUMSUM and PACK: every size known only at run time is -1
    in the shape signature TF's converter writes for the same tensor."""
    w = normal(3, 5)

    def build():
        x = _x(6, 3)
        rows = tf.gather(x, tf.reshape(tf.where(x[:, 0] > 0), [-1]))
        probs = tf.nn.softmax(tf.nn.relu(tf.matmul(rows, w)))
        mean = tf.reduce_mean(tf.transpose(probs), axis=1, keepdims=True)
        wide = tf.squeeze(tf.expand_dims(tf.concat([rows, rows * 2.0], axis=1), 0), 0)
        flat = tf.reshape(tf.pad(wide[:, 1:4], [[1, 1], [0, 0]]), [-1])
        return {"mean": tf.identity(mean, name="mean"),
                "flat": tf.multiply(flat, tf.cast(tf.shape(flat)[0], tf.float32), name="flat"),
                "sum": tf.reduce_sum(tf.cumsum(rows, axis=0), axis=0, name="sum"),
                "pack": tf.stack([rows, rows], axis=1, name="pack")}
    convert_tf(build, {"x": normal(6, 3)}, tmp_path, "Where", float_math=True)
    pb, names = freeze(build)
    (tmp_path / "m.pb").write_bytes(pb)
    outputs = list(names.values())
    ours = _op_output_signatures(api.convert_bytes(pb, input_arrays=["x"], output_arrays=outputs).model)
    theirs = _op_output_signatures(tf_convert(str(tmp_path / "m.pb"), ["x"], outputs))
    shared = sorted(ours.keys() & theirs.keys())
    assert len(shared) >= 15 and {n: ours[n] for n in shared} == {n: theirs[n] for n in shared}
    assert ours["pack"] == [-1, 2, 3] and ours["transpose"] == [5, -1]


def test_reshape_to_a_shape_computed_at_run_time(tmp_path):
    """reshape(t, [tf.shape(t)[0], -1]) of rows picked by WHERE, then a dense layer."""
    w = normal(6, 5)

    def build():
        x = _x(6, 2, 3)
        rows = tf.gather(x, tf.reshape(tf.where(x[:, 0, 0] > 0), [-1]))
        return {"y": tf.matmul(tf.reshape(rows, [tf.shape(rows)[0], -1]), w, name="y")}
    ours = convert_tf(build, {"x": normal(6, 2, 3)}, tmp_path, "Where", float_math=True)
    assert ours[-2:] == ["RESHAPE", "FULLY_CONNECTED"]


def test_an_unknown_rank_after_a_run_time_size_is_an_error(tmp_path):
    """A reshape to a shape of a length known at run time only leaves the rank (and the type
    of what follows) unknown: a one-line error naming the op, not a model of guessed types."""
    def build():
        x = _x(4, 3)
        target = tf.cast(tf.reshape(tf.where(x > 5.0), [-1]), tf.int32) + 1
        return {"y": tf.reshape(x, target, name="y")}
    pb, _ = freeze(build)
    path = tmp_path / "m.pb"
    path.write_bytes(pb)
    proc = toco("convert", "--graph_def_file", str(path), "--output_file", str(tmp_path / "m.tflite"),
                "--input_arrays", "x", "--output_arrays", "y")
    assert_one_line_error(proc, "'y'", "RESHAPE", "known at run time only")


@pytest.mark.parametrize("out_idx", [tf.int32, tf.int64])
def test_unique_of_an_int_input(tmp_path, out_idx):
    def build():
        y, idx = tf.raw_ops.Unique(x=v1.placeholder(tf.int32, (10,), name="i"), out_idx=out_idx)
        return {"y": tf.identity(y, name="y"), "idx": tf.identity(idx, name="idx")}
    feeds = {"i": RNG.integers(0, 4, 10).astype(np.int32)}
    assert convert_tf(build, feeds, tmp_path, "Unique") == ["UNIQUE"]


@pytest.mark.parametrize("dtype", [tf.int32, tf.float32])
def test_range_of_a_placeholder(tmp_path, dtype):
    """The limit is computed so that any input (the op-by-op check draws its own) is valid."""
    def build():
        limit = tf.abs(v1.placeholder(dtype, (), name="n")) + tf.constant(2, dtype)
        return {"y": tf.identity(tf.range(tf.constant(1, dtype), limit, tf.constant(2, dtype)), name="y")}
    feeds = {"n": np.array(9, dtype.as_numpy_dtype)}
    assert convert_tf(build, feeds, tmp_path, "Range") == ["ABS", "ADD", "RANGE"]


def test_size_of_a_run_time_size_is_shape_and_product(tmp_path):
    def build():
        x = _x(4, 3)
        return {"y": tf.size(tf.where(x > 0), name="y")}
    assert convert_tf(build, FEEDS_X, tmp_path, "Size") == ["GREATER", "WHERE", "SHAPE", "REDUCE_PROD"]


def test_broadcast_args_of_run_time_shapes(tmp_path):
    def build():
        x = _x(4, 3)
        shape = tf.shape(tf.where(x > 0), out_type=tf.int32)
        return {"y": tf.raw_ops.BroadcastArgs(s0=shape, s1=tf.constant([1, 2]), name="y")}
    assert convert_tf(build, FEEDS_X, tmp_path, "BroadcastArgs")[-1] == "BROADCAST_ARGS"


@pytest.mark.parametrize("op", ["Size", "BroadcastArgs"])
def test_a_value_of_static_shapes_folds_even_as_the_output(tmp_path, op):
    """TF's converter writes the constant and no op."""
    feeds = {"x": normal(2, 3, 4)} if op == "Size" else {"x": normal(2, 3, 4), "y": normal(3, 1)}

    def build():
        x = _x(2, 3, 4)
        value = (tf.raw_ops.Size(input=x) if op == "Size" else  # (tf.shape would be a Const)
                 tf.raw_ops.BroadcastArgs(s0=tf.raw_ops.Shape(input=x),
                                          s1=tf.raw_ops.Shape(input=_x(3, 1, name="y"))))
        return {"out": tf.identity(value, name="out")}
    assert convert_tf(build, feeds, tmp_path, op) == []


def test_broadcast_args_of_static_shapes_folds(tmp_path):
    def build():
        target = tf.raw_ops.BroadcastArgs(s0=tf.raw_ops.Shape(input=_x(1, 4)),
                                          s1=tf.raw_ops.Shape(input=_x(3, 1, name="y")))
        return {"z": tf.reshape(_x(12, name="z"), target, name="out")}
    feeds = {"x": normal(1, 4), "y": normal(3, 1), "z": normal(12)}
    assert convert_tf(build, feeds, tmp_path, "BroadcastArgs") == ["RESHAPE"]


# ---- int8 ----------------------------------------------------------------------------------

def _int8_models(tmp_path, build, inputs: dict):
    pb, names = freeze(build)
    outputs = list(names.values())
    samples = [{n: normal(*shape) for n, shape in inputs.items()} for _ in range(8)]
    path = tmp_path / "calibration.npz"
    np.savez(path, **{n: np.stack([s[n] for s in samples]) for n in inputs})
    ours = api.convert_bytes(pb, input_arrays=list(inputs), output_arrays=outputs,
                             quantize=QuantizeOptions("int8", calibration_data=str(path))).model
    (tmp_path / "m.pb").write_bytes(pb)
    conv = v1.lite.TFLiteConverter.from_frozen_graph(str(tmp_path / "m.pb"), list(inputs), outputs)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([s[n] for n in inputs] for s in samples)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return ours, conv.convert()


def _interpreter_matches_litert(model: bytes, feeds: dict) -> None:
    """Every integer tensor bit for bit, against LiteRT's builtin kernels: its reference int8
    SUM reads int8 as uint8 (tests/test_int8_pool_reduce.py)."""
    graph = read_graph(model)
    ours = Interpreter(graph).run(feeds, keep_all=True)
    interp = litert(model, delegates=False, preserve_all=True)
    for detail in interp.get_input_details():
        interp.set_tensor(detail["index"], feeds[detail["name"]])
    interp.invoke()
    for detail in interp.get_tensor_details():
        t = graph.tensors.get(detail["name"])
        if t is not None and not t.is_const and t.dtype != "float32":
            np.testing.assert_array_equal(ours[detail["name"]], interp.get_tensor(detail["index"]),
                                          err_msg=detail["name"])


def test_int8_where_gather_nd_sum_quantizes_as_tf(tmp_path):
    """GREATER, GATHER_ND and SUM in int8 around the integer WHERE, as TF's converter makes them;
    our interpreter runs the model as LiteRT's reference kernels do."""
    def build():
        x, c = _x(4, 3), _x(4, 3, name="c")
        return {"y": tf.reduce_sum(tf.gather_nd(x, tf.where(c > 0)), name="y")}
    ours, theirs = _int8_models(tmp_path, build, {"x": (4, 3), "c": (4, 3)})
    assert op_types(ours) == op_types(theirs)
    _interpreter_matches_litert(ours, {"x": normal(4, 3), "c": normal(4, 3)})


def test_int8_unique_runs_on_the_quantized_values_as_tf(tmp_path):
    def build():
        x = _x(8)
        return {"y": tf.multiply(tf.raw_ops.Unique(x=x * 2.0)[0], 1.5, name="y")}
    ours, theirs = _int8_models(tmp_path, build, {"x": (8,)})
    assert len(op_types(ours)) <= len(op_types(theirs))
    graph = read_graph(ours)
    (unique,) = [op for op in graph.ops if op.type == "UNIQUE"]
    assert graph.tensors[unique.inputs[0]].dtype == "int8"
    _interpreter_matches_litert(ours, {"x": normal(8)})


# ---- the tools -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def where_model(tmp_path_factory):
    def build():
        x = _x(4, 3)
        return {"y": tf.nn.relu(tf.gather_nd(x, tf.where(x > 0)), name="y")}
    pb, _ = freeze(build)
    path = tmp_path_factory.mktemp("where") / "where.tflite"
    path.write_bytes(api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"]).model)
    return path


def test_inspect_shows_run_time_sizes(where_model):
    proc = toco("inspect", str(where_model), "--json")
    assert proc.returncode == 0, proc.stderr
    (output,) = json.loads(proc.stdout)["outputs"]
    assert output["shape"] == [-1] and output["bytes"] is None
    assert "[?]" in toco("inspect", str(where_model)).stdout


def test_codegen_refuses_run_time_sizes(where_model, tmp_path):
    proc = toco("codegen", str(where_model), "-o", str(tmp_path / "bundle"))
    assert_one_line_error(proc, "WHERE", "known only at run time", "static shapes")


def test_validate_runs_run_time_sizes(where_model):
    proc = toco("validate", str(where_model), "--random", "--samples", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
