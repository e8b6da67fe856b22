"""TF1 while loops (frames of Enter / Merge / Switch / NextIteration / Exit / LoopCond, and the
TensorArrays dynamic_rnn carries through them) -> one WHILE with cond and body subgraphs:
LiteRT on our .tflite against TensorFlow on the .pb, our op count (all subgraphs) against TF's
converter's where that converts the graph (it refuses dynamic_rnn: its TensorArray ops need
TF Select ops), and the one-line errors of frames that cannot become a WHILE."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.support.cli import assert_one_line_error, toco
from tests.support.oracle import freeze, tf_convert
from tests.support.policy import tensorflow_and_litert_failures
from toco_py import api
from toco_py.frontend.graphdef import parse_graphdef
from toco_py.tflite.reader import read_model

v1 = tf.compat.v1
RNG = np.random.default_rng(0)


def _freeze_tf1(build) -> tuple[bytes, dict]:
    v1.disable_control_flow_v2()  # frames, as frozen TF1 graphs have them
    try:
        return freeze(build)
    finally:
        v1.enable_control_flow_v2()


def _op_count(model: bytes) -> int:
    return sum(len(g.ops) for g in read_model(model).graphs)


def _convert_and_check(tmp_path, build, feeds_list, tf_converts: bool, fused: bool = False) -> bytes:
    """Converts; LiteRT against TensorFlow on every feed; the op count against TF's
    converter's (tf_converts), or TF's converter refusing the graph. fused: an LSTM loop,
    which becomes UNIDIRECTIONAL_SEQUENCE_LSTM instead of a WHILE (passes/fuse_lstm_loop.py)."""
    pb, outputs = _freeze_tf1(build)
    assert "NextIteration" in {n.op for n in parse_graphdef(pb).node}
    result = api.convert_bytes(pb)
    kinds = {op.type for g in result.graph.subgraphs or [result.graph] for op in g.ops}
    assert ("UNIDIRECTIONAL_SEQUENCE_LSTM" in kinds and "WHILE" not in kinds) if fused else "WHILE" in kinds, kinds
    names = list(outputs.values())
    for feeds in feeds_list:
        failures = tensorflow_and_litert_failures(pb, result.model, feeds, names)
        assert not failures, failures
    path = tmp_path / "model.pb"
    path.write_bytes(pb)
    if tf_converts:
        assert _op_count(result.model) <= _op_count(tf_convert(str(path), list(feeds_list[0]), names))
    else:
        with pytest.raises(Exception, match="TensorArray|Select TF ops|converter_error"):
            tf_convert(str(path), list(feeds_list[0]), names)
    return result.model


def _counted_loop():
    x = v1.placeholder(tf.float32, [2, 3], name="x")
    n = v1.placeholder(tf.int32, [], name="n")
    _, y = tf.while_loop(lambda i, v: i < n, lambda i, v: (i + 1, v * 1.5 + 1.0), [tf.constant(0), x])
    return {"y": tf.identity(y, name="y")}


def test_loop_bound_from_input(tmp_path):
    feeds = [{"x": RNG.standard_normal((2, 3)).astype(np.float32), "n": np.int32(k)} for k in (0, 1, 4)]
    _convert_and_check(tmp_path, _counted_loop, feeds, tf_converts=True)


def _nested_with_cond():
    """An inner loop and a cond on the counter inside the outer loop's body, a weight read
    inside (an invariant the WHILE would otherwise carry)."""
    x = v1.placeholder(tf.float32, [2, 4], name="x")
    n = v1.placeholder(tf.int32, [], name="n")
    w = tf.constant(RNG.normal(0, 0.5, (4, 4)).astype(np.float32))

    def body(i, v):
        _, v = tf.while_loop(lambda j, u: j < i, lambda j, u: (j + 1, tf.tanh(u @ w)), [0, v])
        v = tf.cond(tf.equal(i % 2, 0), lambda: v * 2.0, lambda: tf.nn.relu(v) - 0.5)
        return i + 1, v
    _, y = tf.while_loop(lambda i, v: i < n, body, [tf.constant(0), x])
    return {"y": tf.identity(y, name="y")}


def test_nested_loop_and_cond_in_the_body(tmp_path):
    feeds = [{"x": RNG.standard_normal((2, 4)).astype(np.float32), "n": np.int32(k)} for k in (0, 3, 5)]
    model = _convert_and_check(tmp_path, _nested_with_cond, feeds, tf_converts=True)
    kinds = [op.type for g in read_model(model).graphs for op in g.ops]
    assert kinds.count("WHILE") == 2 and kinds.count("IF") == 1


def _rnn(cell, time_major: bool, layers: int = 1, sequence_length: bool = False):
    def build():
        shape = [5, 2, 3] if time_major else [2, 5, 3]
        x = v1.placeholder(tf.float32, shape, name="x")
        made = v1.nn.rnn_cell.MultiRNNCell([cell() for _ in range(layers)]) if layers > 1 else cell()
        lengths = tf.constant([5, 3]) if sequence_length else None
        out, _ = v1.nn.dynamic_rnn(made, x, dtype=tf.float32, time_major=time_major,
                                   sequence_length=lengths)
        return {"y": tf.identity(out, name="y")}
    return build


RNNS = {
    "lstm": _rnn(lambda: v1.nn.rnn_cell.BasicLSTMCell(4), time_major=False),
    "gru_time_major": _rnn(lambda: v1.nn.rnn_cell.GRUCell(4), time_major=True),
    "lstm_2_layers_peepholes": _rnn(lambda: v1.nn.rnn_cell.LSTMCell(4, use_peepholes=True), False, 2),
    "lstm_sequence_length": _rnn(lambda: v1.nn.rnn_cell.BasicLSTMCell(4), False, sequence_length=True),
}


@pytest.mark.parametrize("name", RNNS)
def test_dynamic_rnn(tmp_path, name):
    """The TensorArrays become loop-carried tensors: the input read with GATHER, the output
    written with DYNAMIC_UPDATE_SLICE; an LSTM's loop then becomes one fused op per layer."""
    time_major = name.endswith("time_major")
    feeds = [{"x": RNG.standard_normal((5, 2, 3) if time_major else (2, 5, 3)).astype(np.float32)}
             for _ in range(3)]
    fused = name in ("lstm", "lstm_2_layers_peepholes")  # (sequence_length's masking stays a loop)
    model = _convert_and_check(tmp_path, RNNS[name], feeds, tf_converts=False, fused=fused)
    kinds = {op.type for g in read_model(model).graphs for op in g.ops}
    assert fused or {"GATHER", "DYNAMIC_UPDATE_SLICE"} <= kinds


def _int_tensor_array_in_nested_loops():
    """An int32 TensorArray (its flow float32 in TensorFlow, the array int32 here) written in
    an inner loop: the inner Enter reads the flow from the outer body."""
    x = v1.placeholder(tf.int32, [2], name="x")

    def outer(i, ta):
        _, ta = tf.while_loop(lambda j, ta: j < 2, lambda j, ta: (j + 1, ta.write(i * 2 + j, x * (i + j))),
                              [tf.constant(0), ta])
        return i + 1, ta
    _, ta = tf.while_loop(lambda i, ta: i < 3, outer,
                          [tf.constant(0), tf.TensorArray(tf.int32, size=6, element_shape=[2])])
    return {"y": tf.identity(ta.stack(), name="y")}


def test_int32_tensor_array_written_in_an_inner_loop(tmp_path):
    feeds = [{"x": RNG.integers(-5, 5, 2).astype(np.int32)} for _ in range(2)]
    _convert_and_check(tmp_path, _int_tensor_array_in_nested_loops, feeds, tf_converts=False)


def _convert_cli(pb: bytes, tmp_path):
    path, out = tmp_path / "bad.pb", tmp_path / "bad.tflite"
    path.write_bytes(pb)
    return toco("convert", "--graph_def_file", str(path), "--output_file", str(out)), out


def test_body_that_grows_a_loop_variable_is_a_one_line_error(tmp_path):
    def build():
        x = v1.placeholder(tf.float32, [1, 2], name="x")
        _, y = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, tf.concat([v, v], 1)),
                             [tf.constant(0), x],
                             shape_invariants=[tf.TensorShape([]), tf.TensorShape([1, None])])
        return {"y": tf.identity(y, name="y")}
    proc, out = _convert_cli(_freeze_tf1(build)[0], tmp_path)
    assert_one_line_error(proc, "loop variable", "[1, 2]", "[1, 4]")
    assert not out.exists()


def _mutated(build, mutate) -> bytes:
    gd = v1.GraphDef()
    gd.ParseFromString(_freeze_tf1(build)[0])
    mutate(gd)
    return gd.SerializeToString()


def test_frame_with_a_missing_exit_is_a_one_line_error(tmp_path):
    def drop_exit(gd):
        exits = [n for n in gd.node if n.op == "Exit"]
        gd.node.remove(exits[0])
    proc, out = _convert_cli(_mutated(_counted_loop, drop_exit), tmp_path)
    assert_one_line_error(proc, "Exit", "does not exist")
    assert not out.exists()


def test_read_from_outside_the_frame_without_enter_is_a_one_line_error(tmp_path):
    """The body's multiply reads the loop's input directly: no frame can hold that."""
    def bypass_enter(gd):
        mul = next(n for n in gd.node if n.op == "Mul" and "while" in n.name)
        mul.input[1] = "x"
    proc, out = _convert_cli(_mutated(_counted_loop, bypass_enter), tmp_path)
    assert_one_line_error(proc, "TF1 while loop", "without an Enter", "cannot become a WHILE")
    assert not out.exists()


def _growing_array(loop: bool):
    """A TensorArray of dynamic size written at a run-time bound of steps (a decoder's tokens
    until it stops), or at constant indices outside any loop."""
    def build():
        x = v1.placeholder(tf.float32, [3], name="x")
        ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[3])
        if loop:
            n = v1.placeholder(tf.int32, [], name="n")
            _, ta = tf.while_loop(lambda i, ta: i < n, lambda i, ta: (i + 1, ta.write(i, x * tf.cast(i, tf.float32))),
                                  [tf.constant(0), ta])
        else:
            ta = ta.write(0, x).write(2, x * 2.0)
        return {"y": tf.identity(ta.stack() + 1.0, name="y")}
    return build


@pytest.mark.parametrize("loop", [True, False])
def test_tensor_array_of_dynamic_size_grows_as_written(tmp_path, loop):
    """In a loop the WHILE carries it as [-1, 3] (LiteRT resizes it as the loop runs); each
    write pads it up to its index with PAD, then writes with DYNAMIC_UPDATE_SLICE."""
    pb, outputs = _freeze_tf1(_growing_array(loop))
    result = api.convert_bytes(pb)
    feeds_list = [{"x": RNG.standard_normal(3).astype(np.float32), "n": np.int32(n)} for n in (4, 1, 7)]
    for feeds in feeds_list if loop else [{"x": RNG.standard_normal(3).astype(np.float32)}]:
        failures = tensorflow_and_litert_failures(pb, result.model, feeds, ["y"])
        assert not failures, failures
    if loop:  # the stack of the whole grown array reads it as it is
        assert [op.type for op in result.graph.ops] == ["WHILE", "ADD"]
        path = tmp_path / "model.pb"
        path.write_bytes(pb)
        with pytest.raises(Exception, match="TensorArray|Select TF ops|converter_error"):
            tf_convert(str(path), ["x", "n"], ["y"])


def test_tensor_array_of_dynamic_size_grown_by_an_inner_loop(tmp_path):
    """The inner loop writes the array the outer one carries: both carry it as [-1, 3]."""
    def build():
        x = v1.placeholder(tf.float32, [3], name="x")
        n = v1.placeholder(tf.int32, [], name="n")
        ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[3])

        def outer(i, a):
            _, a = tf.while_loop(lambda j, b: j < 2,
                                 lambda j, b: (j + 1, b.write(i * 2 + j, x * tf.cast(i + j, tf.float32))), [0, a])
            return i + 1, a
        _, ta = tf.while_loop(lambda i, a: i < n, outer, [tf.constant(0), ta])
        return {"y": tf.identity(ta.stack(), name="y")}
    pb, _ = _freeze_tf1(build)
    result = api.convert_bytes(pb)
    for n in (1, 3):
        feeds = {"x": RNG.standard_normal(3).astype(np.float32), "n": np.int32(n)}
        failures = tensorflow_and_litert_failures(pb, result.model, feeds, ["y"])
        assert not failures, failures


def _raw_rnn():
    """tf.compat.v1.nn.raw_rnn as its documentation uses it: an LSTM over time-major inputs,
    run to the longest sequence, its outputs in a TensorArray of dynamic size."""
    x = v1.placeholder(tf.float32, [6, 2, 3], name="x")
    lengths = v1.placeholder(tf.int32, [2], name="lengths")
    inputs_ta = tf.TensorArray(tf.float32, size=6).unstack(x)
    cell = v1.nn.rnn_cell.LSTMCell(4)

    def loop_fn(time, cell_output, cell_state, loop_state):
        emit = cell_output
        state = cell.zero_state(2, tf.float32) if cell_output is None else cell_state
        finished = time >= lengths
        next_input = tf.cond(tf.reduce_all(finished), lambda: tf.zeros([2, 3]), lambda: inputs_ta.read(time))
        return finished, next_input, state, emit, None
    outputs_ta, final_state, _ = v1.nn.raw_rnn(cell, loop_fn)
    return {"y": tf.identity(outputs_ta.stack(), name="y"), "h": tf.identity(final_state.h, name="h")}


def test_raw_rnn(tmp_path):
    """raw_rnn runs max(lengths) steps: its output is as long, known at run time only."""
    pb, _ = _freeze_tf1(_raw_rnn)
    result = api.convert_bytes(pb, output_arrays=["y", "h"])
    for lengths in ([6, 3], [2, 1], [4, 5]):
        feeds = {"x": RNG.standard_normal((6, 2, 3)).astype(np.float32), "lengths": np.array(lengths, np.int32)}
        failures = tensorflow_and_litert_failures(pb, result.model, feeds, ["y", "h"])
        assert not failures, failures
    path = tmp_path / "raw_rnn.pb"
    path.write_bytes(pb)
    with pytest.raises(Exception, match="TensorArray|Select TF ops|converter_error"):
        tf_convert(str(path), ["x", "lengths"], ["y", "h"])


def test_tensor_array_of_open_element_shape_takes_the_written_shape(tmp_path):
    """dynamic_rnn on an unknown batch size records its output TensorArray's elements as
    [-1, units]; the body's writes settle them once the input's shape is given."""
    def build():
        x = v1.placeholder(tf.float32, [None, None, 3], name="x")
        out, _ = v1.nn.dynamic_rnn(v1.nn.rnn_cell.GRUCell(4), x, dtype=tf.float32)
        return {"y": tf.identity(out, name="y")}
    pb = _freeze_tf1(build)[0]
    path, out = tmp_path / "open.pb", tmp_path / "open.tflite"
    path.write_bytes(pb)
    proc = toco("convert", "--graph_def_file", str(path), "--output_file", str(out), "--input_shapes", "2,5,3")
    assert proc.returncode == 0, proc.stderr
    for _ in range(2):
        feeds = {"x": RNG.standard_normal((2, 5, 3)).astype(np.float32)}
        failures = tensorflow_and_litert_failures(pb, out.read_bytes(), feeds, ["y"])
        assert not failures, failures
