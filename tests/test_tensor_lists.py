"""TensorLists (control flow v2: a TF1 dynamic_rnn built with control_flow_v2, a TF2
tf.function writing a TensorArray in a while loop, tf.map_fn / tf.scan, Keras LSTM and GRU
layers) carried through a functional While as plain tensors [size, *element], a TensorArray
of dynamic size as [-1, *element]: LiteRT on our .tflite against TensorFlow on the .pb, our
op count (all subgraphs) against TF's converter's on the same .pb (or TF's converter refusing
the graph), and the one-line errors of lists whose shape cannot be static."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.support.cli import assert_one_line_error, toco
from tests.support.oracle import freeze, tf_convert
from tests.support.policy import tensorflow_and_litert_failures
from tests.test_tf2_graphs import freeze_tf2
from toco_py import api
from toco_py.frontend.graphdef import parse_graphdef
from toco_py.tflite.reader import read_model

v1 = tf.compat.v1
RNG = np.random.default_rng(0)


def _freeze_v2(build) -> tuple[bytes, dict]:
    """The TF1 graph `build` makes, with control flow v2 (functional While, TensorLists)
    whatever the global setting, which is restored."""
    before = v1.control_flow_v2_enabled()
    v1.enable_control_flow_v2()
    try:
        return freeze(build)
    finally:
        if not before:
            v1.disable_control_flow_v2()


def _op_count(model: bytes) -> int:
    return sum(len(g.ops) for g in read_model(model).graphs)


def _check(pb: bytes, model: bytes, feeds_list: list[dict], outputs: list[str], fused: bool = False) -> None:
    """fused: an LSTM loop, which becomes UNIDIRECTIONAL_SEQUENCE_LSTM (passes/fuse_lstm_loop.py)."""
    ops = {n.op for n in parse_graphdef(pb).node}
    assert ops & {"While", "StatelessWhile"} and any(op.startswith("TensorList") for op in ops)
    kinds = {op.type for g in read_model(model).graphs for op in g.ops}
    if fused:
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in kinds and "WHILE" not in kinds, kinds
    else:
        assert {"WHILE", "DYNAMIC_UPDATE_SLICE"} <= kinds
    for feeds in feeds_list:
        failures = tensorflow_and_litert_failures(pb, model, feeds, outputs)
        assert not failures, failures


def _rnn(cell, time_major: bool, batch=2):
    def build():
        shape = [None, batch, 3] if time_major else [batch, None, 3]
        x = v1.placeholder(tf.float32, shape, name="x")
        out, _ = v1.nn.dynamic_rnn(cell(), x, dtype=tf.float32, time_major=time_major)
        return {"y": tf.identity(out, name="y")}
    return build


RNNS = {
    "lstm": _rnn(lambda: v1.nn.rnn_cell.BasicLSTMCell(4), time_major=False),
    "gru_time_major": _rnn(lambda: v1.nn.rnn_cell.GRUCell(4), time_major=True),
    "lstm_2_layers_peepholes": _rnn(lambda: v1.nn.rnn_cell.MultiRNNCell(
        [v1.nn.rnn_cell.LSTMCell(4, use_peepholes=True) for _ in range(2)]), time_major=False),
}


@pytest.mark.parametrize("name", RNNS)
def test_dynamic_rnn_control_flow_v2(tmp_path, name):
    """The time steps are given with --input_shapes; the lists become the input read with
    GATHER and the output written with DYNAMIC_UPDATE_SLICE (and then, for the LSTMs, the
    loop one fused op per layer)."""
    pb, outputs = _freeze_v2(RNNS[name])
    shape = (5, 2, 3) if name.endswith("time_major") else (2, 5, 3)
    result = api.convert_bytes(pb, input_shapes=[shape])
    feeds = [{"x": RNG.standard_normal(shape).astype(np.float32)} for _ in range(3)]
    _check(pb, result.model, feeds, list(outputs.values()), fused=name.startswith("lstm"))
    path = tmp_path / "model.pb"
    path.write_bytes(pb)
    theirs = tf_convert(str(path), ["x"], list(outputs.values()), {"x": list(shape)})
    assert _op_count(result.model) <= _op_count(theirs)


def test_dynamic_rnn_unknown_batch_given_with_input_shapes(tmp_path):
    """Batch and time unknown: the output list's elements are recorded as [-1, 4], settled by
    what the body writes into it (a GRU: an LSTM's loop would become the fused op)."""
    pb, _ = _freeze_v2(_rnn(lambda: v1.nn.rnn_cell.GRUCell(4), time_major=False, batch=None))
    path, out = tmp_path / "open.pb", tmp_path / "open.tflite"
    path.write_bytes(pb)
    proc = toco("convert", "--graph_def_file", str(path), "--output_file", str(out),
                "--input_shapes", "3,4,3")
    assert proc.returncode == 0, proc.stderr
    feeds = [{"x": RNG.standard_normal((3, 4, 3)).astype(np.float32)} for _ in range(2)]
    _check(pb, out.read_bytes(), feeds, ["y"])


def _tensor_array_loop(x, n):
    """A TensorArray of unknown element shape (rank too) written in a while loop, the number
    of steps an input; unwritten elements stay zeros."""
    steps = tf.TensorArray(tf.float32, size=4)

    def body(i, a, v):
        v = tf.tanh(v * 1.5 + 0.25)
        return i + 1, a.write(i, v), v

    _, steps, _ = tf.while_loop(lambda i, a, v: i < tf.minimum(n[0], 4), body, [tf.constant(0), steps, x])
    return steps.stack()


def _unstack_scatter_gather(x, n):
    """TensorArray.unstack, read, scatter and gather: TensorListFromTensor, GetItem,
    ScatterIntoExistingList and Gather; and the list's length and element shape."""
    rows = tf.TensorArray(tf.float32, size=2).unstack(x)
    out = tf.TensorArray(tf.float32, size=rows.size() * 2, element_shape=[3]).scatter(
        [0, 1, 2, 3], tf.concat([x, x - 1.0], 0))

    def body(i, o):
        return i + 1, o.write(i, rows.read(i % 2) * 2.0 + tf.cast(i, tf.float32))

    _, out = tf.while_loop(lambda i, o: i < n[0], body, [tf.constant(0), out], maximum_iterations=4)
    length = tf.raw_ops.TensorListLength(input_handle=out.flow)
    element = tf.raw_ops.TensorListElementShape(input_handle=out.flow, shape_type=tf.int32)
    return out.gather([3, 0]) + out.stack()[1:3] + tf.cast(length * element[0], tf.float32)


def _nested_writes(x, n):
    """An inner loop writing the list the outer loop carries (a variant input of the outer
    body, which the inner While carries on)."""
    steps = tf.TensorArray(tf.float32, size=6, element_shape=[2, 3])

    def outer(i, a):
        def inner(j, b):
            return j + 1, b.write(i * 2 + j, x * tf.cast(i - j, tf.float32))

        _, a = tf.while_loop(lambda j, b: j < 2, inner, [tf.constant(0), a])
        return i + 1, a

    _, steps = tf.while_loop(lambda i, a: i < n[0], outer, [tf.constant(0), steps], maximum_iterations=3)
    return steps.stack()


@pytest.mark.parametrize("fn, tf_converts", [(_tensor_array_loop, True), (_unstack_scatter_gather, False),
                                             (_nested_writes, True)])
def test_tf2_while_writing_a_tensor_array(tmp_path, fn, tf_converts):
    """Our op count against TF's converter's, or TF's converter refusing the graph (it cannot
    lower TensorListScatterIntoExistingList without TF Select ops)."""
    gd, _, inputs, outputs = freeze_tf2(fn, tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([1], tf.int32))
    pb = gd.SerializeToString()
    result = api.convert_bytes(pb)
    feeds = [dict(zip(inputs, (RNG.standard_normal((2, 3)).astype(np.float32), np.int32([k])), strict=True))
             for k in (0, 2, 4, 6)]
    _check(pb, result.model, feeds, outputs)
    path = tmp_path / "model.pb"
    path.write_bytes(pb)
    if tf_converts:
        assert _op_count(result.model) <= _op_count(tf_convert(str(path), inputs, outputs))
    else:
        with pytest.raises(Exception, match="TensorListScatterIntoExistingList"):
            tf_convert(str(path), inputs, outputs)


@pytest.mark.parametrize("fn", [
    lambda x: tf.map_fn(lambda row: tf.tanh(row) * 2.0 + tf.reduce_sum(row), x),
    lambda x: tf.scan(lambda total, row: total * 0.5 + row, x),
], ids=["map_fn", "scan"])
def test_map_fn_and_scan(tmp_path, fn):
    """tf.map_fn and tf.scan: a loop reading one list (TensorListFromTensor) and writing another."""
    gd, _, inputs, outputs = freeze_tf2(fn, tf.TensorSpec([4, 3], tf.float32))
    pb = gd.SerializeToString()
    result = api.convert_bytes(pb)
    _check(pb, result.model, [{inputs[0]: RNG.standard_normal((4, 3)).astype(np.float32)} for _ in range(2)],
           outputs)
    path = tmp_path / "model.pb"
    path.write_bytes(pb)
    assert _op_count(result.model) <= _op_count(tf_convert(str(path), inputs, outputs))


def _keras(layer):
    seeded = {"kernel_initializer": tf.keras.initializers.GlorotUniform(seed=1),
              "recurrent_initializer": tf.keras.initializers.Orthogonal(seed=2),
              "bias_initializer": tf.keras.initializers.RandomNormal(seed=3)}
    return layer(4, return_sequences=True, **seeded)


@pytest.mark.parametrize("layer", [tf.keras.layers.LSTM, tf.keras.layers.GRU], ids=["lstm", "gru"])
def test_keras_recurrent_layer(tmp_path, layer):
    """A Keras LSTM / GRU layer (not unrolled) in a tf.function: the same TensorList loop (the
    LSTM's fused: fuse_lstm_loop reads Keras's cell)."""
    made = _keras(layer)
    gd, _, inputs, outputs = freeze_tf2(made, tf.TensorSpec([2, 5, 3], tf.float32))
    pb = gd.SerializeToString()
    result = api.convert_bytes(pb)
    feeds = [{inputs[0]: RNG.standard_normal((2, 5, 3)).astype(np.float32)} for _ in range(2)]
    _check(pb, result.model, feeds, outputs, fused=layer is tf.keras.layers.LSTM)
    path = tmp_path / "model.pb"
    path.write_bytes(pb)
    assert _op_count(result.model) <= _op_count(tf_convert(str(path), inputs, outputs))


def _convert_cli(gd, tmp_path):
    path, out = tmp_path / "bad.pb", tmp_path / "bad.tflite"
    path.write_bytes(gd.SerializeToString())
    return toco("convert", "--graph_def_file", str(path), "--output_file", str(out)), out


def _dynamic_size(x, n):
    grown = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
    _, grown = tf.while_loop(lambda i, a: i < n[0], lambda i, a: (i + 1, a.write(i, x * tf.cast(i, tf.float32))),
                             [tf.constant(0), grown])
    return grown.stack()


def _nested_dynamic_size(x, n):
    """The inner loop grows the list the outer one carries: both carry it as [-1, 2, 3]."""
    grown = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[2, 3])

    def outer(i, a):
        def inner(j, b):
            return j + 1, b.write(i * 2 + j, x * tf.cast(i + j, tf.float32))

        _, a = tf.while_loop(lambda j, b: j < 2, inner, [tf.constant(0), a])
        return i + 1, a

    _, grown = tf.while_loop(lambda i, a: i < n[0], outer, [tf.constant(0), grown], maximum_iterations=3)
    return grown.stack()


@pytest.mark.parametrize("fn", [_dynamic_size, _nested_dynamic_size])
def test_tensor_array_of_dynamic_size_grows_as_written(tmp_path, fn):
    """TF2's TensorArray of dynamic size: a list of 0 elements whose writes grow it. The loop
    carries it as [-1, 2, 3], each write PADs it up to its index (LiteRT resizes it as the
    loop runs). No run of 0 steps: LiteRT's Python API cannot return an empty tensor. TF's
    converter refuses the graph (it cannot lower a list that grows)."""
    gd, _, inputs, outputs = freeze_tf2(fn, tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([1], tf.int32))
    pb = gd.SerializeToString()
    result = api.convert_bytes(pb)
    feeds = [dict(zip(inputs, (RNG.standard_normal((2, 3)).astype(np.float32), np.int32([k])), strict=True))
             for k in (1, 3, 6)]
    _check(pb, result.model, feeds, outputs)
    assert "PAD" in {op.type for g in result.graph.subgraphs for op in g.ops}
    path = tmp_path / "model.pb"
    path.write_bytes(pb)
    with pytest.raises(Exception, match="Lowering tensor list ops is failed"):
        tf_convert(str(path), inputs, outputs)


def _sized_by_input(x, n):
    sized = tf.TensorArray(tf.float32, size=n[0])
    _, sized = tf.while_loop(lambda i, a: i < n[0], lambda i, a: (i + 1, a.write(i, x)), [tf.constant(0), sized])
    return sized.stack()


def _pushed(x, n):
    empty = tf.raw_ops.EmptyTensorList(element_shape=tf.constant([2, 3]), max_num_elements=-1,
                                       element_dtype=tf.float32)
    _, pushed = tf.while_loop(lambda i, a: i < n[0],
                              lambda i, a: (i + 1, tf.raw_ops.TensorListPushBack(input_handle=a, tensor=x)),
                              [tf.constant(0), empty])
    return tf.raw_ops.TensorListStack(input_handle=pushed, element_shape=tf.constant([2, 3]),
                                      element_dtype=tf.float32)


def _pushed_onto_reserved(x, n):
    reserved = tf.raw_ops.TensorListReserve(element_shape=[2, 3], num_elements=2, element_dtype=tf.float32)
    _, pushed = tf.while_loop(lambda i, a: i < n[0],
                              lambda i, a: (i + 1, tf.raw_ops.TensorListPushBack(input_handle=a, tensor=x)),
                              [tf.constant(0), reserved])
    return tf.raw_ops.TensorListStack(input_handle=pushed, element_shape=[2, 3], element_dtype=tf.float32)


def _nested_open_element(x, n):
    """The inner loop writes the list the outer one carries, its element shape never given:
    the probe of the outer body cannot import the inner loop."""
    steps = tf.TensorArray(tf.float32, size=4)

    def outer(i, a):
        _, a = tf.while_loop(lambda j, b: j < 2, lambda j, b: (j + 1, b.write(i * 2 + j, x)), [tf.constant(0), a])
        return i + 1, a

    _, steps = tf.while_loop(lambda i, a: i < n[0], outer, [tf.constant(0), steps], maximum_iterations=2)
    return steps.stack()


@pytest.mark.parametrize("fn, node, fragments", [
    (_nested_open_element, "TensorListReserve", ("element shape the graph leaves open", "element_shape")),
    (_sized_by_input, "TensorListReserve", ("size", "not a constant")),
    (_pushed, "EmptyTensorList", ("size changes", "fixed size")),
    (_pushed_onto_reserved, "TensorListPushBack", ("size changes", "fixed size")),
])
def test_a_list_without_a_static_shape_is_a_one_line_error(tmp_path, fn, node, fragments):
    gd, _, _, _ = freeze_tf2(fn, tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([1], tf.int32))
    named = [n.name for f in gd.library.function for n in f.node_def if n.op == node]
    named += [n.name for n in gd.node if n.op == node]
    proc, out = _convert_cli(gd, tmp_path)
    assert_one_line_error(proc, named[0], *fragments)
    assert not out.exists()
