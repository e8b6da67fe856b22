"""TF2 functional while loops (While / StatelessWhile, cond and body in the function library)
-> one WHILE op with a cond and a body subgraph: LiteRT on our .tflite against TensorFlow on
the .pb, our op count (over all subgraphs) against TF's converter's on the same .pb, and the
one-line error of a body that changes a loop variable's shape."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.support.cli import assert_one_line_error, toco
from tests.support.oracle import tf_convert
from tests.support.policy import tensorflow_and_litert_failures
from tests.test_tf2_graphs import freeze_tf2
from toco_py import api
from toco_py.errors import TocoError
from toco_py.tflite.reader import read_model


def _op_count(model: bytes) -> int:
    return sum(len(g.ops) for g in read_model(model).graphs)


def convert_and_check(tmp_path, fn, specs, feeds_list, against_tf_converter=True, contains_while=True):
    """Converts, checks LiteRT against TensorFlow on every feed, and our op count (all
    subgraphs) against TF's converter's on the same .pb (against_tf_converter: when that
    converts it). contains_while: the loop is a node of the graph (not inside a function)."""
    gd, ops, inputs, outputs = freeze_tf2(fn, *specs)
    assert bool({"While", "StatelessWhile"} & ops) == contains_while
    pb = gd.SerializeToString()
    result = api.convert_bytes(pb)
    ops = {op.type for g in result.graph.subgraphs for op in g.ops}
    assert "WHILE" in ops
    for feeds in feeds_list:
        feeds = dict(zip(inputs, feeds, strict=True))
        failures = tensorflow_and_litert_failures(pb, result.model, feeds, outputs)
        assert not failures, failures
    if not against_tf_converter:
        return result
    path = tmp_path / "model.pb"
    path.write_bytes(pb)
    theirs = tf_convert(str(path), inputs, outputs)
    assert _op_count(result.model) <= _op_count(theirs)
    return result


def _x(shape=(2, 3), seed=0):
    return np.random.default_rng(seed).normal(0, 1, shape).astype(np.float32)


def _bounded(x, n):
    i = tf.constant(0)
    _, y = tf.while_loop(lambda i, x: i < n[0], lambda i, x: (i + 1, x * 1.5 + 1.0), [i, x])
    return y


def test_loop_bound_from_input(tmp_path):
    specs = [tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([1], tf.int32)]
    convert_and_check(tmp_path, _bounded, specs,
                      [(_x(), np.array([k], np.int32)) for k in (0, 1, 5)])


def _two_carried(x, n):
    scale = tf.constant(0.5)

    def body(i, a, b, s):
        return i + 1, a * s + b, tf.tanh(b) - a, s

    _, a, b, _ = tf.while_loop(lambda i, a, b, s: i < n[0], body, [tf.constant(0), x, x + 1.0, scale])
    return a + b


def test_two_carried_tensors_and_a_constant(tmp_path):
    specs = [tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([1], tf.int32)]
    convert_and_check(tmp_path, _two_carried, specs,
                      [(_x(), np.array([k], np.int32)) for k in (0, 1, 4)])


def _cond_in_body(x, n):
    def body(i, x):
        return i + 1, tf.cond(tf.reduce_sum(x) > 0.0, lambda: x * 0.5, lambda: x + 2.0)

    _, y = tf.while_loop(lambda i, x: i < n[0], body, [tf.constant(0), x])
    return y


def test_cond_inside_the_body(tmp_path):
    specs = [tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([1], tf.int32)]
    convert_and_check(tmp_path, _cond_in_body, specs,
                      [(_x(seed=s), np.array([k], np.int32)) for s, k in ((0, 0), (1, 1), (2, 6))])


def _capped(x, n):
    _, y = tf.while_loop(lambda i, x: i < n[0], lambda i, x: (i + 1, x * 2.0 - 0.5),
                         [tf.constant(0), x], maximum_iterations=3)
    return y


def test_maximum_iterations(tmp_path):
    specs = [tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([1], tf.int32)]
    convert_and_check(tmp_path, _capped, specs,
                      [(_x(), np.array([k], np.int32)) for k in (0, 2, 10)])


def _nested(x, n):
    def body(i, x):
        _, y = tf.while_loop(lambda j, y: j < 2, lambda j, y: (j + 1, y * 0.5 + 1.0), [tf.constant(0), x])
        return i + 1, y - x

    _, y = tf.while_loop(lambda i, x: i < n[0], body, [tf.constant(0), x])
    return y


def test_a_loop_inside_the_body(tmp_path):
    specs = [tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([1], tf.int32)]
    result = convert_and_check(tmp_path, _nested, specs,
                               [(_x(seed=k), np.array([k], np.int32)) for k in (0, 1, 3)])
    assert len(result.graph.subgraphs) == 5


def _loop_in_cond(x, n):
    def looped():
        _, y = tf.while_loop(lambda i, y: i < n[0], lambda i, y: (i + 1, y * 1.5), [tf.constant(0), x])
        return y

    return tf.cond(tf.reduce_sum(x) > 0.0, looped, lambda: x - 1.0)


def test_a_loop_inside_a_cond_branch(tmp_path):
    specs = [tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([1], tf.int32)]
    convert_and_check(tmp_path, _loop_in_cond, specs,
                      [(_x(seed=k), np.array([k], np.int32)) for k in (0, 1, 2, 3)], contains_while=False)


@tf.function(experimental_attributes={"_noinline": True})
def _shifted_relu(v):
    return tf.nn.relu(v) - 0.25


def _calling(x, n):
    _, y = tf.while_loop(lambda i, x: i < n[0], lambda i, x: (i + 1, _shifted_relu(x) * 2.0),
                         [tf.constant(0), x])
    return y


def test_a_function_called_in_the_body(tmp_path):
    # TF's converter leaves the call in the body a custom op (PartitionedCall): no op count
    # to compare with.
    specs = [tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([1], tf.int32)]
    convert_and_check(tmp_path, _calling, specs,
                      [(_x(seed=k), np.array([k], np.int32)) for k in (0, 1, 3)], against_tf_converter=False)


def _computed_size(x, n):
    start = tf.zeros(tf.stack([tf.shape(x)[0] * 2, 3]))  # a size only folding constants finds
    _, y = tf.while_loop(lambda i, a: i < n[0], lambda i, a: (i + 1, a + tf.reduce_sum(x)),
                         [tf.constant(0), start])
    return y


def test_a_loop_variable_sized_by_constant_folding(tmp_path):
    specs = [tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([1], tf.int32)]
    convert_and_check(tmp_path, _computed_size, specs,
                      [(_x(seed=k), np.array([k], np.int32)) for k in (0, 2)])


def _growing(x, n):
    _, y = tf.while_loop(lambda i, x: i < n[0], lambda i, x: (i + 1, tf.concat([x, x], 0)),
                         [tf.constant(0), x],
                         shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, 3])])
    return y


def _growing_by_folding(x, n):
    # The new size is a constant only folding finds: the import cannot see the change.
    _, y = tf.while_loop(lambda i, x: i < n[0],
                         lambda i, x: (i + 1, tf.zeros(tf.stack([tf.shape(x)[0] * 2, 3]))),
                         [tf.constant(0), x],
                         shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, 3])])
    return y


@pytest.mark.parametrize("fn", [_growing, _growing_by_folding])
def test_a_body_changing_a_shape_is_one_line_error(tmp_path, fn):
    gd, _, _, _ = freeze_tf2(fn, tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([1], tf.int32))
    path = tmp_path / "growing.pb"
    path.write_bytes(gd.SerializeToString())
    while_node = next(n.name for n in gd.node if n.op in ("While", "StatelessWhile"))
    proc = toco("convert", "--graph_def_file", str(path), "--output_file", str(tmp_path / "out.tflite"))
    assert_one_line_error(proc, while_node, "[2, 3] float32 into [4, 3] float32", "never settle")


def _unmapped_list(x, n):
    # A TensorList made by an op toco-py does not map (TensorLists it maps: test_tensor_lists).
    listed = tf.raw_ops.TensorListScatterV2(tensor=tf.stack([x, x]), indices=[0, 1], element_shape=[2, 3],
                                            num_elements=2)
    _, listed = tf.while_loop(lambda i, a: i < n[0], lambda i, a: (i + 1, a), [tf.constant(0), listed])
    return tf.raw_ops.TensorListStack(input_handle=listed, element_shape=[2, 3], element_dtype=tf.float32)


def test_a_list_the_import_cannot_make_a_tensor_is_refused_by_name(tmp_path):
    gd, _, _, _ = freeze_tf2(_unmapped_list, tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([1], tf.int32))
    path = tmp_path / "array.pb"
    path.write_bytes(gd.SerializeToString())
    proc = toco("convert", "--graph_def_file", str(path), "--output_file", str(tmp_path / "out.tflite"))
    assert_one_line_error(proc, "loop variable", "variant", "TensorList")


def test_a_while_calling_a_missing_function_is_refused():
    gd, _, _, _ = freeze_tf2(_bounded, tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([1], tf.int32))
    loop = next(n for n in gd.node if n.op in ("While", "StatelessWhile"))
    body = loop.attr["body"].func.name
    kept = [f for f in gd.library.function if f.signature.name != body]
    del gd.library.function[:]
    gd.library.function.extend(kept)
    with pytest.raises(TocoError, match=f"calls function '{body}', which the GraphDef's function library"):
        api.convert_bytes(gd.SerializeToString())
