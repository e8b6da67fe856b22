"""TF2-exported frozen graphs: tf.functions frozen with their calls kept (PartitionedCall,
StatefulPartitionedCall, StatelessIf, Case and the function library), converted without
naming any array, and LiteRT on our .tflite checked against TensorFlow on the .pb under the
tolerance policy. Also: the errors of a broken function library, and TF1 graphs whose
batch norms sit in a tf.cond on a constant training flag (default outputs)."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
from tensorflow.python.ops import gen_functional_ops

from tests.support.cli import assert_one_line_error, toco
from tests.support.oracle import op_types, run_litert
from tests.support.policy import tensorflow_and_litert_failures
from toco_py import api

v1 = tf.compat.v1
# A tf.function that stays a call in the frozen graph (TensorFlow would inline it otherwise).
kept_call = tf.function(experimental_attributes={"_noinline": True})


def freeze_tf2(fn, *specs):
    """(GraphDef, its ops, input names, output names) of `fn` frozen the way TF2 exports
    keep their functions: calls and functional control flow stay, with a function library."""
    concrete = tf.function(fn).get_concrete_function(*specs)
    frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=False,
                                               aggressive_inlining=False)
    gd = frozen.graph.as_graph_def()
    return (gd, {n.op for n in gd.node}, [t.name.split(":")[0] for t in frozen.inputs],
            [t.name.split(":")[0] for t in frozen.outputs])


def convert_and_check(gd, inputs, outputs, feeds) -> api.ConversionResult:
    """Converts with no array named: the inferred inputs and outputs are the function's, and
    LiteRT agrees with TensorFlow."""
    pb = gd.SerializeToString()
    result = api.convert_bytes(pb)
    assert result.graph.inputs == inputs and result.graph.outputs == outputs
    failures = tensorflow_and_litert_failures(pb, result.model, feeds, outputs)
    assert not failures, failures
    return result


def _x(shape=(2, 8), seed=0):
    return np.random.default_rng(seed).normal(0, 1, shape).astype(np.float32)


def test_function_calls_nested_and_twice():
    w = tf.Variable(np.random.default_rng(1).normal(0, 1, (8, 8)).astype(np.float32))

    @kept_call
    def dense(x):
        return tf.nn.relu(tf.matmul(x, w))

    @kept_call
    def block(x):  # calls dense: a call inside a called function
        return dense(x) * 0.5 + x

    gd, ops, inputs, outputs = freeze_tf2(lambda x: dense(block(x)) + dense(x * 2.0),
                                          tf.TensorSpec([2, 8], tf.float32))
    assert "StatefulPartitionedCall" in ops and len(gd.library.function) == 2
    assert any(n.op in _CALLS for f in gd.library.function for n in f.node_def)
    result = convert_and_check(gd, inputs, outputs, {inputs[0]: _x()})
    assert op_types(result.model).count("FULLY_CONNECTED") == 3  # dense, called three times


@pytest.mark.parametrize("flag", [False, True])
def test_if_on_a_constant_predicate_takes_its_branch(flag):
    def model(x):
        training = tf.constant(flag)
        y = tf.cond(training, lambda: tf.nn.dropout(x, 0.5) * 3.0, lambda: x - 1.0)
        # A branch that returns a constant only, and an assert guarded by an If.
        bias = tf.cond(training, lambda: tf.constant(1.0), lambda: tf.constant(2.0))
        checked = tf.cond(tf.constant(True), lambda: tf.debugging.assert_all_finite(y, "y"),
                          lambda: tf.identity(y))
        return checked + bias

    gd, ops, inputs, outputs = freeze_tf2(model, tf.TensorSpec([2, 8], tf.float32))
    assert "StatelessIf" in ops or "If" in ops
    if flag:  # dropout's draws become RANDOM_UNIFORM: each value dropped, or scaled by 2
        result = api.convert_bytes(gd.SerializeToString())
        assert "RANDOM_UNIFORM" in op_types(result.model)
        x = _x()
        y = run_litert(result.model, {inputs[0]: x})[outputs[0]]
        kept = y != 1.0
        np.testing.assert_allclose(y[kept], x[kept] * 2.0 * 3.0 + 1.0, rtol=1e-6)
        assert kept.any() and not kept.all()
        return
    result = convert_and_check(gd, inputs, outputs, {inputs[0]: _x()})
    assert set(op_types(result.model)) <= {"SUB", "ADD"}


def test_assert_guards_on_inputs_are_dropped():
    """tf.debugging asserts in a tf.function guard their Assert with an If on the checked
    condition (not constant): it returns nothing and only control edges read it."""
    def model(x):
        tf.debugging.assert_greater(x, -100.0, message="x too small")
        tf.debugging.assert_all_finite(x, "x not finite")
        return x * 2.0

    gd, ops, inputs, outputs = freeze_tf2(model, tf.TensorSpec([2, 8], tf.float32))
    assert "If" in ops or "StatelessIf" in ops
    result = convert_and_check(gd, inputs, outputs, {inputs[0]: _x()})
    assert op_types(result.model) == ["MUL"]


def test_if_on_an_input_becomes_an_if_op(tmp_path):
    """Inlined to Switch/Merge, then cut back out as IF with two subgraphs (cond_to_if)."""
    gd, ops, inputs, outputs = freeze_tf2(lambda x, p: tf.cond(p, lambda: x * 2.0, lambda: x - 1.0),
                                          tf.TensorSpec([2, 8], tf.float32), tf.TensorSpec([], tf.bool))
    assert "StatelessIf" in ops or "If" in ops
    for p in (True, False):
        result = convert_and_check(gd, inputs, outputs, {inputs[0]: _x(), inputs[1]: np.array(p)})
        assert op_types(result.model) == ["IF"]


@pytest.mark.parametrize("index,expected", [(1, ["ADD"]), (0, ["MUL"]), (7, ["NEG"])])
def test_case_on_a_constant_index(index, expected):
    """An index out of range takes the last branch, as TensorFlow's Case does. (Built from
    the raw op: tf.switch_case marks its Case to be lowered to Switch/Merge when frozen.)"""
    spec = tf.TensorSpec([2, 8], tf.float32)
    branches = [tf.function(f).get_concrete_function(spec)
                for f in (lambda x: x * 2.0, lambda x: x + 3.0, lambda x: -x)]

    def model(x):
        return gen_functional_ops.case(tf.constant(index), [x], [tf.float32], branches)[0]

    gd, ops, inputs, outputs = freeze_tf2(model, spec)
    assert "Case" in ops
    result = convert_and_check(gd, inputs, outputs, {inputs[0]: _x()})
    assert op_types(result.model) == expected


def _boxes(count: int, seed: int):
    rng = np.random.default_rng(seed)
    centre = rng.uniform(0, 1, (count, 2)).astype(np.float32)
    size = rng.uniform(0.1, 0.4, (count, 2)).astype(np.float32)
    # Corners in either order: TFLite and TensorFlow both take [y1, x1, y2, x2] unordered.
    boxes = np.concatenate([centre - size / 2, centre + size / 2], 1)
    boxes[::3] = boxes[::3][:, [2, 3, 0, 1]]
    return boxes, rng.permutation(count).astype(np.float32) / count  # distinct scores


@pytest.mark.parametrize("seed", range(3))
def test_non_max_suppression_v4_v5_in_a_function(seed):
    @kept_call
    def soft_nms(boxes, scores):
        return tf.raw_ops.NonMaxSuppressionV5(
            boxes=boxes, scores=scores, max_output_size=6, iou_threshold=0.5,
            score_threshold=0.2, soft_nms_sigma=0.5, pad_to_max_output_size=True)

    def model(boxes, scores):
        indices, soft_scores, count = soft_nms(boxes, scores)
        hard, hard_count = tf.raw_ops.NonMaxSuppressionV4(
            boxes=boxes, scores=scores, max_output_size=8, iou_threshold=0.3,
            score_threshold=0.1, pad_to_max_output_size=True)
        return indices, soft_scores, count, hard, hard_count

    gd, ops, inputs, outputs = freeze_tf2(model, tf.TensorSpec([20, 4], tf.float32),
                                          tf.TensorSpec([20], tf.float32))
    assert {"PartitionedCall", "NonMaxSuppressionV4"} <= ops
    boxes, scores = _boxes(20, seed)
    result = convert_and_check(gd, inputs, outputs, dict(zip(inputs, (boxes, scores))))
    assert sorted(op_types(result.model)) == ["NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5"]


# ---- a broken function library: one-line errors naming the function -------------------------

def _library_graph():
    @kept_call
    def inner(x):
        return x * 2.0

    @kept_call
    def outer(x):
        return inner(x) + 1.0

    gd, _, _, _ = freeze_tf2(lambda x: outer(x), tf.TensorSpec([2, 8], tf.float32))
    assert len(gd.library.function) == 2
    calls = {f.signature.name: any(n.op in _CALLS for n in f.node_def) for f in gd.library.function}
    inner_fn, outer_fn = sorted(gd.library.function, key=lambda f: calls[f.signature.name])
    return gd, inner_fn, outer_fn


_CALLS = ("PartitionedCall", "StatefulPartitionedCall")


def _cycle(gd, inner, outer):
    node = inner.node_def.add(name="again", op="PartitionedCall", input=[inner.signature.input_arg[0].name])
    node.attr["f"].func.name = outer.signature.name
    return outer.signature.name


def _missing(gd, inner, outer):
    name = inner.signature.name
    gd.library.function.remove(inner)
    return name


def _arity(gd, inner, outer):
    call = next(n for n in outer.node_def if n.op in _CALLS)
    call.input.append(call.input[0])
    return inner.signature.name


@pytest.mark.parametrize("break_it,fragment", [
    (_cycle, "calls itself"), (_missing, "does not define"), (_arity, "with 2 inputs; it takes 1")])
def test_broken_library_is_a_one_line_error(tmp_path, break_it, fragment):
    gd, inner, outer = _library_graph()
    function = break_it(gd, inner, outer)
    path = tmp_path / "broken.pb"
    path.write_bytes(gd.SerializeToString())
    assert_one_line_error(toco("convert", "--graph_def_file", str(path), "--output_file",
                               str(tmp_path / "m.tflite")), fragment, repr(function))


def _chain_library(depth: int, calls_each: int) -> bytes:
    """f0 .. f{depth}: each calls the next `calls_each` (1 or 2) times and adds the results."""
    from toco_py.frontend.proto import GraphDef

    gd = GraphDef()
    gd.node.add(name="x", op="Placeholder").attr["dtype"].type = 1
    call = gd.node.add(name="call", op="PartitionedCall", input=["x"])
    call.attr["f"].func.name = "f0"
    for level in range(depth + 1):
        function = gd.library.function.add()
        function.signature.name = f"f{level}"
        function.signature.input_arg.add(name="a", type=1)
        function.signature.output_arg.add(name="out", type=1)
        if level == depth:
            function.ret["out"] = "a"
            continue
        for i in range(calls_each):
            node = function.node_def.add(name=f"c{i}", op="PartitionedCall", input=["a"])
            node.attr["f"].func.name = f"f{level + 1}"
        total = function.node_def.add(name="sum", op=("Identity", "AddV2")[calls_each - 1],
                                      input=[f"c{i}:output:0" for i in range(calls_each)])
        total.attr["T"].type = 1
        function.ret["out"] = "sum:z:0"
    return gd.SerializeToString()


@pytest.mark.parametrize("depth,calls_each,fragment", [
    (40, 2, "too many times over"), (150, 1, "more than 100 deep")])
def test_library_too_big_to_inline_is_a_one_line_error(tmp_path, depth, calls_each, fragment):
    path = tmp_path / "chain.pb"
    path.write_bytes(_chain_library(depth, calls_each))
    assert_one_line_error(toco("convert", "--graph_def_file", str(path), "--output_file",
                               str(tmp_path / "m.tflite")), fragment, "'f0'")


def test_a_chain_of_calls_converts():
    data = _chain_library(5, 2)  # 32 copies of x added up
    result = api.convert_bytes(data, input_shapes=[(2, 3)])
    x = _x((2, 3))
    (out,) = result.graph.outputs
    np.testing.assert_allclose(run_litert(result.model, {"x": x})[out], 32 * x, rtol=1e-6)


# ---- TF1: batch norms in a tf.cond on a constant training flag ---------------------------------

def test_default_outputs_skip_dead_cond_branches():
    """TF1 control flow (Switch/Merge) on a constant training flag: the conds' switch_t /
    switch_f and the nodes of their branches are never chosen as outputs."""
    graph = tf.Graph()
    v1.disable_control_flow_v2()
    try:
        with graph.as_default():
            x = v1.placeholder(tf.float32, [1, 8, 8, 3], name="image")
            training = v1.placeholder_with_default(False, [], name="is_training")
            y = v1.layers.conv2d(x, 4, 3, name="conv")
            y = v1.layers.batch_normalization(y, training=training, fused=True, name="bn")
            y = tf.nn.relu(y)
            y = v1.layers.batch_normalization(y, training=training, fused=False, name="bn2")
            y = v1.layers.dropout(y, rate=0.5, training=training)
            tf.identity(tf.reduce_mean(y, axis=[1, 2]), name="features")
            with v1.Session(graph=graph) as sess:
                sess.run(v1.global_variables_initializer())
                gd = v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), ["features"])
    finally:
        v1.enable_control_flow_v2()
    assert any(n.name.endswith("cond/switch_t") for n in gd.node)
    pb = gd.SerializeToString()
    result = api.convert_bytes(pb)
    assert result.graph.inputs == ["image"] and result.graph.outputs == ["features"]
    failures = tensorflow_and_litert_failures(pb, result.model, {"image": _x((1, 8, 8, 3))},
                                              ["features"])
    assert not failures, failures
