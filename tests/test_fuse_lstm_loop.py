"""TF1 dynamic_rnn of LSTM cells, as frames (TF1's while loop) and in control flow v2 (a
functional While of TensorLists) -> one UNIDIRECTIONAL_SEQUENCE_LSTM per layer in place of the
WHILE (passes/fuse_lstm_loop.py), checked against TensorFlow running the .pb over several
invokes of one LiteRT interpreter; near misses stay a WHILE with a note and still compute
what TensorFlow does."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from tests.support.oracle import litert, run_tf  # noqa: E402
from tests.support.policy import policy_failures, tensorflow_and_litert_failures  # noqa: E402
from tests.test_fuse_lstm import BATCH, FEATURES, STEPS, TFLM_CELLS, UNITS, _cell, _check_against_tf  # noqa: E402
from tests.test_tf2_graphs import freeze_tf2  # noqa: E402
from toco_py import api  # noqa: E402
from toco_py.frontend.graphdef import parse_graphdef  # noqa: E402
from toco_py.tflite.reader import read_model  # noqa: E402

v1 = tf.compat.v1


def _dynamic_lstm(kind: str, layers: int, time_major: bool, v2: bool, output: str = "outputs",
                  sequence_length: bool = False, initial: float = 0.0, steps: int | None = STEPS,
                  batch: int | None = BATCH, bidirectional: bool = False) -> bytes:
    """dynamic_rnn over x; y is its outputs, or (output "h" / "c") the top layer's final state;
    (bidirectional) bidirectional_dynamic_rnn's outputs, concatenated. The weights depend on
    the cells alone (not on steps)."""
    def build():
        shape = [steps, batch, FEATURES] if time_major else [batch, steps, FEATURES]
        x = v1.placeholder(tf.float32, shape, "x")
        if bidirectional:
            outs, _ = v1.nn.bidirectional_dynamic_rnn(_cell(kind), _cell(kind), x, dtype=tf.float32,
                                                      time_major=time_major)
            tf.identity(tf.concat(outs, 2), "y")
            return
        cells = [_cell(kind) for _ in range(layers)]
        cell = cells[0] if layers == 1 else v1.nn.rnn_cell.MultiRNNCell(cells)
        start = None
        if initial:
            zero = cell.zero_state(BATCH, tf.float32)
            start = tf.nest.map_structure(lambda t: t + initial, zero)
        outs, state = v1.nn.dynamic_rnn(cell, x, dtype=tf.float32, time_major=time_major, initial_state=start,
                                        sequence_length=tf.constant([STEPS, 2]) if sequence_length else None)
        top = state if layers == 1 else state[-1]
        tf.identity({"outputs": outs, "h": top.h, "c": top.c}[output], "y")

    before = v1.control_flow_v2_enabled()
    (v1.enable_control_flow_v2 if v2 else v1.disable_control_flow_v2)()
    try:
        graph = tf.Graph()
        with graph.as_default():
            build()
            # Seeded values for every variable, so that each run has the same weights (TF's
            # initializers draw unseeded), and biases not zero (TF's are): each gate's is checked.
            rng = np.random.default_rng(3)
            weights = [var.assign(rng.uniform(-0.6, 0.6, var.shape).astype(np.float32))
                       for var in v1.global_variables()]
            with v1.Session(graph=graph) as sess:
                sess.run(weights)
                gd = v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), ["y"])
    finally:
        (v1.enable_control_flow_v2 if before else v1.disable_control_flow_v2)()
    return gd.SerializeToString()


def _whiles(graph) -> int:
    return sum(op.type == "WHILE" for sub in graph.subgraphs or [graph] for op in sub.ops)


def _convert(pb: bytes):
    """(our conversion, the number of WHILEs without LSTM fusion, the -v lines)."""
    assert {n.op for n in parse_graphdef(pb).node} & {"NextIteration", "While", "StatelessWhile"}
    lines = []
    result = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"], log=lines.append)
    unfused, _, _ = api.graph_from_graphdef(parse_graphdef(pb), ["x"], ["y"], fuse_rnn=False)
    return result, _whiles(unfused), lines


CASES = [  # kind, layers, time_major, control flow v2
    ("basic", 1, False, False),
    ("basic", 1, True, True),
    ("peephole_clip", 1, False, True),
    ("projection", 1, True, False),
    ("peephole_projection", 1, False, False),
    ("lstm", 2, False, False),
    ("peephole_clip", 2, True, True),
    ("basic", 2, False, True),
]


@pytest.mark.parametrize(("kind", "layers", "time_major", "v2"), CASES)
def test_dynamic_rnn_fuses_into_one_op_per_layer(kind, layers, time_major, v2):
    pb = _dynamic_lstm(kind, layers, time_major, v2)
    result, whiles, _ = _convert(pb)
    graph = result.graph
    types = [op.type for op in graph.ops]
    assert (whiles, _whiles(graph), graph.subgraphs) == (1, 0, []), types
    assert types.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == layers, types
    # Per layer: the op and the two FILLs that zero its state (dynamic_rnn's TRANSPOSEs folded
    # into time_major False).
    assert len(types) == 3 * layers, types
    assert {op.attrs["time_major"] for op in graph.ops if op.type == "UNIDIRECTIONAL_SEQUENCE_LSTM"} == {time_major}
    _check_against_tf(pb, result.model, time_major, tflm=kind in TFLM_CELLS)


@pytest.mark.parametrize(("layers", "time_major", "v2"), [(1, True, False), (2, False, True)])
def test_final_h_is_the_last_step_of_the_outputs(layers, time_major, v2):
    """dynamic_rnn's final state h, its outputs unread: the loop writes no outputs (prune_while
    drops them), and h is the last step of the fused op's."""
    pb = _dynamic_lstm("lstm", layers, time_major, v2, output="h")
    result, _, _ = _convert(pb)
    types = [op.type for op in result.graph.ops]
    assert _whiles(result.graph) == 0 and types.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == layers, types
    assert result.graph.producer("y").type == "GATHER"
    _check_against_tf(pb, result.model, time_major)


@pytest.mark.parametrize("v2", [False, True], ids=["frames", "v2"])
def test_bidirectional_dynamic_rnn_fuses_into_a_pair(v2):
    """Two loops, the backward one over the reversed sequence: two fused ops, the backward one
    between REVERSE_V2s, joined by one CONCATENATION."""
    pb = _dynamic_lstm("lstm", 1, False, v2, bidirectional=True)
    result, whiles, _ = _convert(pb)
    types = [op.type for op in result.graph.ops]
    assert whiles == 2 and _whiles(result.graph) == 0, types
    assert sorted(types) == sorted(["FILL"] * 4 + ["UNIDIRECTIONAL_SEQUENCE_LSTM"] * 2 + ["REVERSE_V2"] * 2
                                   + ["CONCATENATION"]), types
    _check_against_tf(pb, result.model, False, tflm=True)


def test_open_shapes_given_with_input_shapes_fuse():
    """Batch and time unknown in the graph (control flow v2's TensorLists of open element
    shape): once --input_shapes gives them, the loop fuses."""
    pb = _dynamic_lstm("basic", 1, False, True, steps=None, batch=None)
    result = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"], input_shapes=[(BATCH, STEPS, FEATURES)])
    types = [op.type for op in result.graph.ops]
    assert _whiles(result.graph) == 0 and types.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1, types
    _check_against_tf(pb, result.model, False)


def _tf_function_lstm(x, bound: int = STEPS):
    """An LSTM written out in a tf.function: a tf.while_loop of `bound` steps reading the
    steps from a TensorArray, writing h to another; its outputs and its final h."""
    rng = np.random.default_rng(4)
    weights = tf.constant(rng.uniform(-0.6, 0.6, (FEATURES + UNITS, 4 * UNITS)).astype(np.float32))
    bias = tf.constant(rng.uniform(-0.6, 0.6, 4 * UNITS).astype(np.float32))
    steps = tf.TensorArray(tf.float32, size=STEPS).unstack(tf.transpose(x, [1, 0, 2]))

    def step(t, h, c, out):
        i, j, f, o = tf.split(tf.matmul(tf.concat([steps.read(t), h], 1), weights) + bias, 4, 1)
        c = tf.sigmoid(f + 1.0) * c + tf.sigmoid(i) * tf.tanh(j)
        h = tf.sigmoid(o) * tf.tanh(c)
        return t + 1, h, c, out.write(t, h)

    zeros = tf.zeros([BATCH, UNITS])
    _, h, _, out = tf.while_loop(lambda t, *_: t < bound, step,
                                 [tf.constant(0), zeros, zeros, tf.TensorArray(tf.float32, size=STEPS)])
    return tf.transpose(out.stack(), [1, 0, 2]), h


@pytest.mark.parametrize("bound", [STEPS, STEPS - 1])
def test_tf_function_while_fuses_over_the_whole_sequence(bound):
    """A loop over fewer steps than the sequence has (the last output stays zero) stays a WHILE."""
    spec = tf.TensorSpec([BATCH, STEPS, FEATURES], tf.float32)
    gd, ops, inputs, outputs = freeze_tf2(lambda x: _tf_function_lstm(x, bound), spec)
    assert {"While", "StatelessWhile"} & ops
    pb = gd.SerializeToString()
    lines = []
    result = api.convert_bytes(pb, log=lines.append)
    types = [op.type for op in result.graph.ops]
    if bound == STEPS:
        assert _whiles(result.graph) == 0 and types.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1, types
    else:
        assert _whiles(result.graph) == 1, types
        assert any("fuse_lstm_loop" in line and "not the whole time axis" in line for line in lines), lines
    rng = np.random.default_rng(8)
    for _ in range(2):
        feeds = {inputs[0]: rng.uniform(-1.5, 1.5, (BATCH, STEPS, FEATURES)).astype(np.float32)}
        failures = tensorflow_and_litert_failures(pb, result.model, feeds, outputs)
        assert not failures, failures


NEAR_MISSES = {  # what the loop has that the fused op does not compute -> what the note says
    "sequence_length": ({"sequence_length": True}, "does not give its new state back"),
    "softsign": ({"kind": "softsign"}, "activation is none of LiteRT's"),
    "final_c": ({"output": "c"}, "final cell state c"),
    "initial_state": ({"initial": 0.5}, "does not start at zero"),
}


@pytest.mark.parametrize("name", NEAR_MISSES)
@pytest.mark.parametrize("v2", [False, True], ids=["frames", "v2"])
def test_near_miss_stays_a_while_with_a_note(name, v2):
    options, note = NEAR_MISSES[name]
    pb = _dynamic_lstm(**{"kind": "basic", "layers": 1, "time_major": False, "v2": v2} | options)
    result, _, lines = _convert(pb)
    assert _whiles(result.graph) == 1
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in [op.type for sub in result.graph.subgraphs for op in sub.ops]
    assert any("fuse_lstm_loop" in line and note in line for line in lines), [ln for ln in lines if "note" in ln]
    _check_against_tf(pb, result.model, False)


@pytest.mark.parametrize(("time_major", "v2"), [(False, False), (True, True)])
def test_stateful_rnn_carries_the_state_over_invokes(time_major, v2):
    """--stateful_rnn: nothing zeroes the fused op's state, so two invokes on two halves of a
    sequence compute what dynamic_rnn computes over the whole sequence."""
    pb = _dynamic_lstm("lstm", 2, time_major, v2)
    result = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"], stateful_rnn=True)
    types = [op.type for op in result.graph.ops]
    assert types == ["UNIDIRECTIONAL_SEQUENCE_LSTM"] * 2, types
    assert not any("--stateful_rnn" in note for note in result.notes), result.notes
    whole_pb = _dynamic_lstm("lstm", 2, time_major, v2, steps=2 * STEPS)
    axis = 0 if time_major else 1
    whole = np.random.default_rng(9).uniform(-1.5, 1.5, (2 * STEPS, BATCH, FEATURES) if time_major
                                              else (BATCH, 2 * STEPS, FEATURES)).astype(np.float32)
    interp = litert(result.model, delegates=False)
    (inp,), (out,) = interp.get_input_details(), interp.get_output_details()
    halves = []
    for half in np.split(whole, 2, axis=axis):
        interp.set_tensor(inp["index"], np.ascontiguousarray(half))
        interp.invoke()
        halves.append(interp.get_tensor(out["index"]))
    reference = api.convert_bytes(whole_pb, input_arrays=["x"], output_arrays=["y"]).graph
    failures = policy_failures(reference, {"x": whole}, {
        "TensorFlow": {"y": run_tf(whole_pb, {"x": whole}, ["y"])[0]},
        "LiteRT, two invokes": {"y": np.concatenate(halves, axis=axis)}})
    assert not failures, failures


def test_int8_dynamic_rnn_is_one_integer_op(tmp_path):
    """--quantize int8 fuses the loop too (TFLite's 8x8_16 LSTM): our interpreter bit-exact with
    LiteRT's reference kernels, within int8_control_flow's measured error of TensorFlow's float
    outputs (TF's converter refuses the TF1 loop, and crashes calibrating the v2 one)."""
    from tests import test_int8_control_flow as int8_cf
    from toco_py.interpreter import Interpreter

    pb, outputs, model, checks = int8_cf._convert_int8("lstm", tmp_path, fuse_rnn=True)
    graph = read_model(model).main
    lstm = [op for op in graph.ops if op.type == "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    assert len(lstm) == 1 and not graph.subgraphs and graph.tensors[lstm[0].inputs[0]].dtype == "int8"
    interp = Interpreter(graph)
    step = int8_cf._step(model, outputs[0])
    for feeds in checks:
        ours = interp.run(feeds)
        np.testing.assert_array_equal(ours[outputs[0]], int8_cf._litert_reference(model, feeds)[outputs[0]])
        error = np.abs(ours[outputs[0]] - run_tf(pb, feeds, outputs)[0]).mean() / step
        assert error <= int8_cf.MEAN_ERROR_STEPS, error
