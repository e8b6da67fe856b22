"""Keras LSTM layers in a TF1 graph (tf_keras, frozen with convert_variables_to_constants),
unrolled -> one UNIDIRECTIONAL_SEQUENCE_LSTM per layer (passes/fuse_lstm.py reading Keras's
cell: x @ W + h @ U + b, gates i, f, c, o), checked against TensorFlow running the .pb over
several invokes of one LiteRT interpreter."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from tests.support.oracle import op_types, tf_convert  # noqa: E402
from tests.support.rnn_check import check_against_tf, freeze_seeded  # noqa: E402
from toco_py import api  # noqa: E402

v1 = tf.compat.v1
BATCH, STEPS, FEATURES, UNITS = 2, 4, 3, 5
INVOKES = 3


def _keras_lstm(layers: int = 1, last_only: bool = False, unroll: bool = True, v2: bool = False,
                **options) -> bytes:
    def build():
        y = v1.placeholder(tf.float32, [BATCH, STEPS, FEATURES], "x")
        for k in range(layers):
            y = tf.keras.layers.LSTM(UNITS, unroll=unroll, return_sequences=k < layers - 1 or not last_only,
                                     **options)(y)
        tf.identity(y, "y")

    if unroll:
        return freeze_seeded(build)
    # The loop in TF1's control flow (frames) or control flow v2 (a functional While, whose
    # gradient accumulators frontend/dead_accumulators.py drops): a WHILE, which fuse_lstm_loop reads.
    before = v1.control_flow_v2_enabled()
    (v1.enable_control_flow_v2 if v2 else v1.disable_control_flow_v2)()
    try:
        return freeze_seeded(build)
    finally:
        (v1.enable_control_flow_v2 if before else v1.disable_control_flow_v2)()


def _inputs() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.uniform(-1.5, 1.5, (BATCH, STEPS, FEATURES)).astype(np.float32) for _ in range(INVOKES)]


def _convert(pb: bytes, log=None):
    return api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"], log=log)


CASES = [
    # (layers, last_only, options)
    (1, False, {}),
    (1, True, {"implementation": 1}),
    (2, True, {}),
    (2, False, {"implementation": 1, "use_bias": False}),
    (1, False, {"activation": "relu"}),
    (1, False, {"go_backwards": True}),
    (1, True, {"unit_forget_bias": False, "time_major": True}),
]


@pytest.mark.parametrize(("layers", "last_only", "options"), CASES)
def test_unrolled_keras_lstm_fuses_into_one_op_per_layer(layers, last_only, options):
    pb = _keras_lstm(layers, last_only, **options)
    result = _convert(pb)
    types = [op.type for op in result.graph.ops]
    assert types.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == layers, types
    assert not {"LOGISTIC", "TANH", "RELU", "FULLY_CONNECTED"} & set(types), types
    assert ("REVERSE_V2" in types) == bool(options.get("go_backwards")), types
    # (Keras's transposes to time-major and back fold into the op's time_major; not yet through
    # the REVERSE_V2 of go_backwards)
    if layers == 1 and not options.get("go_backwards"):
        assert "TRANSPOSE" not in types, types
    check_against_tf(pb, result.model, _inputs(), tflm="activation" not in options)


@pytest.mark.parametrize(("layers", "last_only", "v2", "options"), [
    (1, False, False, {}), (2, False, False, {"implementation": 1}),
    (1, False, True, {}), (2, False, True, {"implementation": 1})])
def test_keras_lstm_loop_fuses_into_one_op_per_layer(layers, last_only, v2, options):
    """unroll=False: Keras's loop, a WHILE (passes/fuse_lstm_loop.py reads Keras's cell too),
    in TF1's control flow and in control flow v2, TF2's default, whose loop also carries the
    unread lists its gradient would need. (With return_sequences=False, TensorFlow itself fails
    to run Keras's loop in TF1's control flow: it writes index 0 of a TensorArray at every step.)"""
    pb = _keras_lstm(layers, last_only, unroll=False, v2=v2, **options)
    result = _convert(pb)
    types = [op.type for op in result.graph.ops]
    assert types.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == layers and "WHILE" not in types, types
    check_against_tf(pb, result.model, _inputs(), tflm=True)


def test_keras_lstm_loop_returning_its_last_step_converts():
    """Control flow v2, return_sequences=False: the loop carries the last h out itself, which
    fuse_lstm_loop does not read yet; it stays a WHILE (the gradient lists dropped) and
    computes what TensorFlow does."""
    pb = _keras_lstm(1, True, unroll=False, v2=True)
    result = _convert(pb)
    assert "WHILE" in [op.type for op in result.graph.ops]
    check_against_tf(pb, result.model, _inputs(), tflm=False)


@pytest.mark.parametrize("activation", ["hard_sigmoid", "relu"])
def test_a_recurrent_activation_other_than_sigmoid_stays_unfused_with_a_note(activation):
    pb = _keras_lstm(recurrent_activation=activation)
    lines = []
    result = _convert(pb, lines.append)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in [op.type for op in result.graph.ops]
    assert any("fuse_lstm" in line and "unfused" in line for line in lines), lines
    check_against_tf(pb, result.model, _inputs())


def _keras_step(features: int) -> bytes:
    """One Keras LSTMCell step, its state (h_in, c_in) fed in and (h_out, c_out) given out."""
    def build():
        x = v1.placeholder(tf.float32, [1, features], "x")
        h, c = (v1.placeholder(tf.float32, [1, UNITS], name) for name in ("h_in", "c_in"))
        _, (h_out, c_out) = tf.keras.layers.LSTMCell(UNITS)(x, [h, c])
        tf.identity(h_out, "h_out")
        tf.identity(c_out, "y")

    return freeze_seeded(build, outputs=("h_out", "y"))


@pytest.mark.parametrize("features", [FEATURES, UNITS])
def test_a_keras_step_with_its_state_as_inputs(features):
    """A step whose state the app feeds back: one op of sequence length 1 with the same
    interface; with as many features as units, x and h_in are alike to the cell (x @ W and
    h @ U, both [1, units]), so it stays unfused with a note rather than guessing."""
    from tests.support.oracle import run_tf
    from tests.support.policy import policy_failures
    from toco_py.interpreter import Interpreter
    from toco_py.tflite.reader import read_model

    pb = _keras_step(features)
    names, outputs = ["x", "h_in", "c_in"], ["h_out", "y"]
    lines = []
    result = api.convert_bytes(pb, input_arrays=names, output_arrays=outputs, log=lines.append)
    types = [op.type for op in result.graph.ops]
    assert types.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == (features != UNITS), types
    if features == UNITS:
        assert any("either of" in line for line in lines), lines
    reference = read_model(result.model).main
    rng = np.random.default_rng(11)
    state = {"h_in": np.zeros((1, UNITS), np.float32), "c_in": np.zeros((1, UNITS), np.float32)}
    failures = []
    for k in range(INVOKES):
        feeds = {"x": rng.uniform(-1.5, 1.5, (1, features)).astype(np.float32), **state}
        expected = dict(zip(outputs, run_tf(pb, feeds, outputs)))
        candidates = {"TensorFlow": expected, "toco-py": Interpreter(reference).run(feeds),
                      "LiteRT": _run_litert(result.model, feeds)}
        failures += [f"step {k}: {f}" for f in policy_failures(reference, feeds, candidates)]
        state = {"h_in": expected["h_out"], "c_in": expected["y"]}
    assert not failures, failures


def _run_litert(model: bytes, feeds: dict) -> dict:
    from tests.support.oracle import litert

    interp = litert(model, delegates=False)
    by_name = {d["name"]: d["index"] for d in interp.get_input_details()}
    for name, value in feeds.items():
        interp.set_tensor(by_name[name], value)
    interp.invoke()
    return {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}


def test_fewer_ops_than_tensorflows_converter(tmp_path):
    """TF's converter leaves a Keras LSTM in a TF1 frozen graph as a dozen ops per step."""
    pb = _keras_lstm(2, True)
    path = tmp_path / "keras_lstm.pb"
    path.write_bytes(pb)
    ours = op_types(_convert(pb).model)
    theirs = op_types(tf_convert(str(path), ["x"], ["y"]))
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in theirs, theirs
    assert ours.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 2 and len(ours) * 5 < len(theirs), (ours, theirs)


def test_tensorflows_converter_refuses_the_kernel_ops(tmp_path):
    """TF's converter has neither a builtin nor a Flex kernel for BlockLSTM; we give one op."""
    path = tmp_path / "block_lstm.pb"
    path.write_bytes(_block_lstm("block"))
    with pytest.raises(Exception, match="BlockLSTM"):
        tf_convert(str(path), ["x"], ["y"])
    assert op_types(_convert(path.read_bytes()).model) == ["FILL", "FILL", "UNIDIRECTIONAL_SEQUENCE_LSTM"]


# ---- TensorFlow's LSTM kernel ops (tf.raw_ops; tf.contrib's LSTMBlockCell and LSTMBlockFusedCell
# built them) -------------------------------------------------------------------------------------

def _block_lstm(kind: str, initial: float = 0.0, seq_len_max: int = STEPS, **attrs) -> bytes:
    """kind "cell": LSTMBlockCell called on x[:, t] per step (batch-major), else BlockLSTM or
    BlockLSTMV2 over a time-major x; the state starts at `initial`."""
    def build():
        rng = np.random.default_rng(5)

        def const(*shape):
            return tf.constant(rng.uniform(-0.6, 0.6, shape).astype(np.float32))

        w, b = const(FEATURES + UNITS, 4 * UNITS), const(4 * UNITS)
        params = {"w": w, "wci": const(UNITS), "wcf": const(UNITS), "wco": const(UNITS), "b": b}
        state = tf.fill([BATCH, UNITS], initial)
        if kind == "cell":
            x = v1.placeholder(tf.float32, [BATCH, STEPS, FEATURES], "x")
            h, c, outs = state, state, []
            for t in range(STEPS):
                step = tf.raw_ops.LSTMBlockCell(x=x[:, t], cs_prev=c, h_prev=h, **params, **attrs)
                c, h = step.cs, step.h
                outs.append(h)
            tf.stack(outs, axis=1, name="y")
            return
        x = v1.placeholder(tf.float32, [STEPS, BATCH, FEATURES], "x")
        op = tf.raw_ops.BlockLSTM if kind == "block" else tf.raw_ops.BlockLSTMV2
        tf.identity(op(seq_len_max=tf.constant(seq_len_max, tf.int64), x=x, cs_prev=state, h_prev=state,
                       **params, **attrs).h, "y")

    return freeze_seeded(build)


def _block_inputs(kind: str) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    shape = (BATCH, STEPS, FEATURES) if kind == "cell" else (STEPS, BATCH, FEATURES)
    return [rng.uniform(-1.5, 1.5, shape).astype(np.float32) for _ in range(INVOKES)]


BLOCK_CASES = [
    ("cell", {"forget_bias": 0.7}),  # (TF's default cell_clip 3)
    ("cell", {"use_peephole": True, "cell_clip": 0.5}),
    ("block", {"forget_bias": 0.7, "cell_clip": 0.0}),
    ("block", {"use_peephole": True, "cell_clip": 0.4}),
    ("block_v2", {}),  # (gates i, f, c, o; no forget bias)
    ("block_v2", {"use_peephole": True, "cell_clip": 0.5}),
]


@pytest.mark.parametrize(("kind", "attrs"), BLOCK_CASES)
def test_tensorflows_lstm_kernel_ops_fuse_into_one_op(kind, attrs):
    pb = _block_lstm(kind, **attrs)
    result = _convert(pb)
    types = [op.type for op in result.graph.ops]
    assert types.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1 and len(types) == 3, types
    lstm = next(op for op in result.graph.ops if op.type == "UNIDIRECTIONAL_SEQUENCE_LSTM")
    assert lstm.attrs["time_major"] == (kind != "cell")
    assert lstm.attrs["cell_clip"] == pytest.approx(attrs.get("cell_clip", 3.0 if kind != "block_v2" else 0.0))
    check_against_tf(pb, result.model, _block_inputs(kind), tflm=not attrs.get("use_peephole"))


@pytest.mark.parametrize("kind", ["cell", "block"])
def test_a_kernel_op_from_a_non_zero_state_stays_unfused_with_a_note(kind):
    """The fused op would start from zero: the element-wise cells stay, as TensorFlow computes."""
    pb = _block_lstm(kind, initial=0.25)
    lines = []
    result = _convert(pb, lines.append)
    types = [op.type for op in result.graph.ops]
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in types and "LOGISTIC" in types, types
    assert any("fuse_lstm" in line and "unfused" in line for line in lines), lines
    check_against_tf(pb, result.model, _block_inputs(kind))


def test_a_block_lstm_stopping_early_is_refused_with_a_note():
    """seq_len_max < T: TensorFlow stops early and writes zeros; no chain of steps does that."""
    from toco_py.errors import ConversionError

    lines = []
    with pytest.raises(ConversionError, match="BlockLSTM"):
        _convert(_block_lstm("block", seq_len_max=STEPS - 1), lines.append)
    assert any("seq_len_max" in line for line in lines), lines


def test_block_lstm_kernel_folds_as_tensorflow_computes():
    """ops/lstm_block.py's kernels, run by constant folding on a constant input."""
    from tests.support.oracle import run_litert, run_tf

    x = np.random.default_rng(9).uniform(-1.5, 1.5, (STEPS, BATCH, FEATURES)).astype(np.float32)
    for kind, attrs in BLOCK_CASES[2:]:
        pb = _block_lstm(kind, initial=0.25, **attrs)
        gd = v1.GraphDef()
        gd.ParseFromString(pb)
        # (the placeholder becomes a constant, then everything folds)
        node = next(n for n in gd.node if n.name == "x")
        node.op = "Const"
        node.attr.clear()
        node.attr["dtype"].type = tf.float32.as_datatype_enum
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(x))
        folded = api.convert_bytes(gd.SerializeToString(), output_arrays=["y"])
        assert [op.type for op in folded.graph.ops] == [], folded.graph.ops
        expected = run_tf(pb, {"x": x}, ["y"])[0]
        # (measured: at most 6e-8 off on outputs under 0.4, float32 rounding in another order;
        # a wrong gate order is off by more than 0.01)
        np.testing.assert_allclose(run_litert(folded.model, {})["y"], expected, rtol=0, atol=1e-6)
