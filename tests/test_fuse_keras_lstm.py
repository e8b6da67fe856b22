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


def _keras_lstm(layers: int = 1, last_only: bool = False, **options) -> bytes:
    def build():
        y = v1.placeholder(tf.float32, [BATCH, STEPS, FEATURES], "x")
        for k in range(layers):
            y = tf.keras.layers.LSTM(UNITS, unroll=True, return_sequences=k < layers - 1 or not last_only,
                                     **options)(y)
        tf.identity(y, "y")

    return freeze_seeded(build)


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
    check_against_tf(pb, result.model, _inputs(), tflm="activation" not in options)


@pytest.mark.parametrize("activation", ["hard_sigmoid", "relu"])
def test_a_recurrent_activation_other_than_sigmoid_stays_unfused_with_a_note(activation):
    pb = _keras_lstm(recurrent_activation=activation)
    lines = []
    result = _convert(pb, lines.append)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in [op.type for op in result.graph.ops]
    assert any("fuse_lstm" in line and "unfused" in line for line in lines), lines
    check_against_tf(pb, result.model, _inputs())


def test_fewer_ops_than_tensorflows_converter(tmp_path):
    """TF's converter leaves a Keras LSTM in a TF1 frozen graph as a dozen ops per step."""
    pb = _keras_lstm(2, True)
    path = tmp_path / "keras_lstm.pb"
    path.write_bytes(pb)
    ours = op_types(_convert(pb).model)
    theirs = op_types(tf_convert(str(path), ["x"], ["y"]))
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in theirs, theirs
    assert ours.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 2 and len(ours) * 5 < len(theirs), (ours, theirs)
