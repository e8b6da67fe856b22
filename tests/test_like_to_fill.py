"""Graph outputs whose value the converter knows. like_to_fill: an OnesLike that constant
folding left alone (a graph output bigger than a FILL) becomes a FILL of its static shape, in
the IR and through a TensorFlow graph that LiteRT then runs as TensorFlow does; it leaves alone
an OnesLike of unknown shape and any other op. Shape, Rank and a scalar OnesLike fold to
constants instead, as TF's converter folds them."""
import numpy as np
import pytest
import tensorflow as tf

from tests.support.irgraph import build, evaluate, run_passes, types
from tests.support.oracle import convert_and_compare, v1
from toco_py.passes import like_to_fill
from toco_py.passes.propagate_shapes import propagate_shapes


def ones_like_graph(shape, dtype="float32"):
    g = build({"x": shape}, {}, [("OnesLike", ["x"], ["y"])], ["y"])
    g.tensors["x"].dtype = dtype
    propagate_shapes(g)
    return g


@pytest.mark.parametrize("shape, dtype", [((2, 3), "float32"), ((4,), "int32"), ((), "float32")])
def test_ones_like_of_a_static_shape_becomes_fill(shape, dtype):
    g = ones_like_graph(shape, dtype)
    feeds = {"x": np.full(shape, 7, dtype)}
    want = evaluate(g, feeds)["y"]
    assert run_passes(g, like_to_fill.PASS) == 1
    assert types(g) == ["FILL"] and g.outputs == ["y"]
    dims, value = (g.tensors[n].data for n in g.ops[0].inputs)
    assert dims.dtype == np.int32 and list(dims) == list(shape)
    assert value.dtype == np.dtype(dtype) and value == 1
    got = evaluate(g, feeds)["y"]
    assert got.dtype == want.dtype and got.shape == shape
    np.testing.assert_array_equal(got, want)


def test_ones_like_of_an_unknown_size_is_left_alone():
    g = ones_like_graph((-1, 3))
    assert run_passes(g, like_to_fill.PASS) == 0
    assert types(g) == ["OnesLike"]


def test_other_ops_are_left_alone():
    g = build({"x": (2, 3)}, {}, [("ZEROS_LIKE", ["x"], ["y"])], ["y"])
    assert run_passes(g, like_to_fill.PASS) == 0
    assert types(g) == ["ZEROS_LIKE"]


@pytest.mark.parametrize("shape, dtype", [((2, 3), np.int32), ((5,), np.float32)])
def test_tensorflow_ones_like_as_an_output_runs_as_fill(shape, dtype):
    """(test_ops_slicing covers a float (3, 4, 5) one)"""
    tf_dtype = tf.as_dtype(dtype)
    result = convert_and_compare(lambda: [tf.raw_ops.OnesLike(x=v1.placeholder(tf_dtype, shape, "x"), name="y")],
                                 {"x": np.full(shape, 5, dtype)}, ["y"], "OnesLike", survivor="FILL")
    assert result.pass_counts["legalize/like_to_fill"] == 1


def test_tensorflow_scalar_ones_like_as_an_output_becomes_a_constant():
    """A FILL of a scalar reads constants as big as its result: the constant is smaller."""
    result = convert_and_compare(lambda: [tf.raw_ops.OnesLike(x=v1.placeholder(tf.float32, (), "x"), name="y")],
                                 {"x": np.float32(5)}, ["y"], "OnesLike")
    assert types(result.graph) == [] and result.graph.tensors["y"].is_const


@pytest.mark.parametrize("tf_op, make", [
    ("Shape", lambda x: tf.raw_ops.Shape(input=x, name="y")),
    ("Rank", lambda x: tf.raw_ops.Rank(input=x, name="y")),
])
def test_shape_of_a_static_tensor_as_an_output_is_a_constant(tf_op, make):
    """As TF's converter does: no op computes what the converter already knows."""
    result = convert_and_compare(lambda: [make(v1.placeholder(tf.float32, (2, 3, 4), "x"))],
                                 {"x": np.ones((2, 3, 4), np.float32)}, ["y"], tf_op)
    assert types(result.graph) == [] and result.graph.tensors["y"].is_const


def test_tensorflow_ones_like_read_inside_the_graph_folds_instead():
    """Its shape is static, so folding makes it a constant first: no FILL is left to run."""
    def build_graph():
        x = v1.placeholder(tf.float32, (2, 3), "x")
        return [tf.add(x, tf.raw_ops.OnesLike(x=x), name="y")]
    result = convert_and_compare(build_graph, {"x": np.arange(6, dtype=np.float32).reshape(2, 3)},
                                 ["y"], "OnesLike", survivor="ADD")
    assert "legalize/like_to_fill" not in result.pass_counts
    assert types(result.graph) == ["ADD"]
