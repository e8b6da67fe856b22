"""GRU cells: LiteRT has no builtin GRU op (UNIDIRECTIONAL_SEQUENCE_GRU is a custom op its
op resolvers do not register; TFLM has none), so a GRU converts to its smallest exact op
sequence, the state update u * h + (1 - u) * c mixed as c + u * (h - c) (passes/fold_lerp.py):
11 ops per step after the first. Checked against TensorFlow running the .pb and against TF's
converter's op count, unrolled (static_rnn) and in a dynamic_rnn WHILE loop."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from tests import test_fuse_lstm as fuse  # noqa: E402
from tests.support.oracle import op_types, tf_convert  # noqa: E402
from toco_py import api  # noqa: E402
from toco_py.tflite.reader import read_model  # noqa: E402

v1 = tf.compat.v1
# Per step: the gates' CONCATENATION, FULLY_CONNECTED, LOGISTIC, SPLIT; the reset MUL; the
# candidate's CONCATENATION, FULLY_CONNECTED, TANH; the update's SUB, MUL, ADD.
OPS_PER_STEP = 11


def _gru(dynamic: bool, time_major: bool) -> bytes:
    def build():
        shape = [fuse.STEPS, fuse.BATCH, fuse.FEATURES] if time_major else [fuse.BATCH, fuse.STEPS, fuse.FEATURES]
        x = v1.placeholder(tf.float32, shape, "x")
        cell = v1.nn.rnn_cell.GRUCell(fuse.UNITS)
        if dynamic:
            outs, _ = v1.nn.dynamic_rnn(cell, x, dtype=tf.float32, time_major=time_major)
        else:
            steps, _ = v1.nn.static_rnn(cell, tf.unstack(x, axis=0 if time_major else 1), dtype=tf.float32)
            outs = tf.stack(steps, axis=0 if time_major else 1)
        tf.identity(outs, "y")

    v1.disable_control_flow_v2()
    try:
        return fuse.freeze(build)
    finally:
        v1.enable_control_flow_v2()


@pytest.mark.parametrize(("dynamic", "time_major"), [(False, False), (False, True), (True, False)])
def test_gru_is_its_smallest_op_sequence_and_matches_tensorflow(dynamic, time_major, tmp_path):
    pb = _gru(dynamic, time_major)
    path = tmp_path / "gru.pb"
    path.write_bytes(pb)
    lines = []
    model = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"], log=lines.append).model
    assert any("fold_lerp" in line for line in lines), lines
    graphs = read_model(model).graphs
    ours = sum(len(g.ops) for g in graphs)
    if not dynamic:
        # The first step's state is zero: its reset product and update terms fold away.
        assert ours <= OPS_PER_STEP * fuse.STEPS + 2, op_types(model)
        theirs = op_types(tf_convert(str(path), ["x"], ["y"]))
        assert ours + fuse.STEPS - 1 <= len(theirs), (ours, theirs)
    fuse._check_against_tf(pb, model, time_major)


def test_keras_gru_loop_in_control_flow_v2_converts():
    """A Keras GRU layer's loop in a TF1 graph with control flow v2 (TF2's default) carries the
    lists its gradient would need, pushed onto at every step and read by nothing: they are
    dropped at import (frontend/dead_accumulators.py), the rest converts and matches TF."""
    def build():
        x = v1.placeholder(tf.float32, [fuse.BATCH, fuse.STEPS, fuse.FEATURES], "x")
        tf.identity(tf.keras.layers.GRU(fuse.UNITS, return_sequences=True)(x), "y")

    v1.enable_control_flow_v2()
    pb = fuse.freeze(build)
    assert b"EmptyTensorList" in pb and b"TensorListPushBack" in pb
    model = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"]).model
    fuse._check_against_tf(pb, model, False)
