"""merge_constants: constants of the same type, shape and bytes become one tensor, in the IR
and through a TensorFlow graph that LiteRT then runs as TensorFlow does; constants that only
look alike (equal numbers in other bytes, types or shapes), graph outputs, quantized and
string constants are left alone."""
import numpy as np
import pytest
import tensorflow as tf

from tests.support.irgraph import build, evaluate, run_passes
from tests.support.oracle import convert_and_compare, litert, v1
from toco_py.ir import Op, QuantParams, Tensor
from toco_py.passes import merge_constants

F32 = np.float32
X = np.array([1, -2, 3], F32)


def test_identical_constants_become_one_tensor():
    g = build({"x": (3,)}, {"a": np.array([1, 2, 3], F32), "b": np.array([1, 2, 3], F32),
                            "c": np.array([1, 2, 3], F32)},
              [("ADD", ["x", "a"], ["y1"]), ("MUL", ["x", "b"], ["y2"]), ("ADD", ["c", "x"], ["y3"])],
              ["y1", "y2", "y3"])
    want = evaluate(g, {"x": X})
    assert run_passes(g, merge_constants.PASS) == 2
    assert [op.inputs for op in g.ops] == [["x", "a"], ["x", "a"], ["a", "x"]]
    assert "b" not in g.tensors and "c" not in g.tensors  # (dropped as dead)
    got = evaluate(g, {"x": X})
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])
    assert run_passes(g, merge_constants.PASS) == 0  # merged inputs count as no change: a fixpoint


def test_one_op_reading_two_identical_constants_reads_one():
    g = build({}, {"a": np.ones(3, F32), "b": np.ones(3, F32)}, [("ADD", ["a", "b"], ["y"])], ["y"])
    assert run_passes(g, merge_constants.PASS) == 1
    assert g.ops[0].inputs == ["a", "a"]


LOOKALIKES = {
    "other values": (np.array([1, 2, 3], F32), np.array([1, 2, 4], F32)),
    "equal numbers, other bytes": (np.array([0.0], F32), np.array([-0.0], F32)),
    "same bytes, other type": (np.zeros(3, F32), np.zeros(3, np.int32)),
    "same bytes, other shape": (np.arange(4, dtype=F32), np.arange(4, dtype=F32).reshape(2, 2)),
}


@pytest.mark.parametrize("a, b", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_constants_that_only_look_alike_stay_apart(a, b):
    g = build({}, {"a": a, "b": b}, [("Identity", ["a"], ["y1"]), ("Identity", ["b"], ["y2"])], ["y1", "y2"])
    assert run_passes(g, merge_constants.PASS) == 0
    assert [op.inputs for op in g.ops] == [["a"], ["b"]]


def _quantized(g):
    g.tensors["b"].quant = QuantParams(np.array([0.5], F32), np.array([0]))


def _graph_output(g):
    g.outputs.append("b")


@pytest.mark.parametrize("mark", [_quantized, _graph_output])
def test_quantized_constants_and_graph_outputs_are_not_merged(mark):
    g = build({}, {"a": np.ones(3, F32), "b": np.ones(3, F32)},
              [("Identity", ["a"], ["y1"]), ("Identity", ["b"], ["y2"])], ["y1", "y2"])
    mark(g)
    assert run_passes(g, merge_constants.PASS) == 0
    assert g.ops[1].inputs == ["b"]


def test_string_constants_are_not_compared():
    words = np.array([b"ab", b"cd"], dtype=object)
    g = build({}, {"a": words, "b": words.copy()},
              [("Identity", ["a"], ["y1"]), ("Identity", ["b"], ["y2"])], ["y1", "y2"])
    assert run_passes(g, merge_constants.PASS) == 0


def test_a_constant_whose_contents_changed_is_no_longer_a_target():
    """The pass remembers the constants it saw on the graph, across runs; a constant another
    rewrite has since given new contents must not take the readers of its old contents."""
    g = build({"x": (3,)}, {"a": np.ones(3, F32)}, [("ADD", ["x", "a"], ["y1"])], ["y1"])
    assert run_passes(g, merge_constants.PASS) == 0
    g.tensors["a"].data = np.full(3, 2, F32)  # (as a fold that writes a tensor anew would)
    g.add_const("b", np.ones(3, F32))
    g.add_tensor(Tensor("y2", (3,)))
    g.add_op(Op("MUL", ["x", "b"], ["y2"]))
    g.outputs.append("y2")
    assert run_passes(g, merge_constants.PASS) == 0
    assert g.ops[1].inputs == ["x", "b"]


def _op_inputs(model: bytes) -> list[list[int]]:
    """The tensor indices each op of the .tflite reads, as LiteRT loads it."""
    return [list(d["inputs"]) for d in litert(model, delegates=False)._get_ops_details()]


def test_tensorflow_graph_with_a_repeated_constant_stores_it_once():
    def build_graph():
        x = v1.placeholder(tf.float32, (3,), "x")
        return [tf.add(x, tf.constant([1, 2, 3.0]), name="y1"),
                tf.multiply(x, tf.constant([1, 2, 3.0]), name="y2")]
    result = convert_and_compare(build_graph, {"x": X}, ["y1", "y2"], "Const")
    assert result.pass_counts["finalize/merge_constants"] == 1
    add, mul = _op_inputs(result.model)
    assert add[1] == mul[1]


def test_tensorflow_zeros_of_either_sign_stay_two_constants():
    """0.0 and -0.0 are equal numbers, but dividing by them gives inf and -inf: merged, one
    of the two outputs would differ from TensorFlow's."""
    def build_graph():
        x = v1.placeholder(tf.float32, (3,), "x")
        return [tf.divide(x, tf.constant([1, 2, 0.0]), name="y1"),
                tf.divide(x, tf.constant([1, 2, -0.0]), name="y2")]
    result = convert_and_compare(build_graph, {"x": X}, ["y1", "y2"], "Const")
    assert "finalize/merge_constants" not in result.pass_counts
    first, second = _op_inputs(result.model)
    assert first[1] != second[1]
