"""TF1 LSTM cells unrolled by static_rnn -> one UNIDIRECTIONAL_SEQUENCE_LSTM per layer
(passes/fuse_lstm.py), checked against TensorFlow running the .pb, over several invokes of one
LiteRT interpreter (the op's state lives in variable tensors, which LiteRT keeps between
invokes)."""
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


def _cell(kind: str):
    if kind == "basic":
        return v1.nn.rnn_cell.BasicLSTMCell(UNITS, forget_bias=0.7)
    if kind == "lstm":
        return v1.nn.rnn_cell.LSTMCell(UNITS)
    if kind == "peephole_clip":
        return v1.nn.rnn_cell.LSTMCell(UNITS, use_peepholes=True, cell_clip=0.9)
    if kind == "projection":
        return v1.nn.rnn_cell.LSTMCell(UNITS, num_proj=3, proj_clip=0.4)
    if kind == "peephole_projection":
        return v1.nn.rnn_cell.LSTMCell(UNITS, use_peepholes=True, num_proj=3)
    if kind == "relu":  # LiteRT's kernel has RELU for TANH too
        return v1.nn.rnn_cell.LSTMCell(UNITS, activation=tf.nn.relu)
    if kind == "softsign":  # a near miss: another activation than LiteRT's TANH
        return v1.nn.rnn_cell.LSTMCell(UNITS, activation=tf.math.softsign)
    raise ValueError(kind)


def _python_loop(cell, x, time_major: bool):
    """The cell called once per step on x[t] or x[:, t] (strided slices), sharing its weights."""
    state = cell.zero_state(BATCH, tf.float32)
    outs = []
    with v1.variable_scope("loop") as scope:
        for t in range(STEPS):
            if t:
                scope.reuse_variables()
            out, state = cell(x[t] if time_major else x[:, t], state)
            outs.append(out)
    return outs


def _static_lstm(kind: str, layers: int, time_major: bool, last_only: bool, loop: bool = False):
    def build():
        shape = [STEPS, BATCH, FEATURES] if time_major else [BATCH, STEPS, FEATURES]
        x = v1.placeholder(tf.float32, shape, "x")
        cells = [_cell(kind) for _ in range(layers)]
        cell = cells[0] if layers == 1 else v1.nn.rnn_cell.MultiRNNCell(cells)
        if loop:
            outs = _python_loop(cell, x, time_major)
        else:
            outs, _ = v1.nn.static_rnn(cell, tf.unstack(x, axis=0 if time_major else 1), dtype=tf.float32)
        tf.identity(outs[-1] if last_only else tf.stack(outs, axis=0 if time_major else 1), "y")

    return freeze(build)


freeze = freeze_seeded  # (the name the other recurrent tests use)


def _inputs(time_major: bool) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    shape = (STEPS, BATCH, FEATURES) if time_major else (BATCH, STEPS, FEATURES)
    return [rng.uniform(-1.5, 1.5, shape).astype(np.float32) for _ in range(INVOKES)]


# The cells TFLM's LSTM computes (measured with tflite_micro): it refuses peepholes and a
# projection (lstm_eval.cc: "internal_tensors_[i] == nullptr") and applies tanh whatever the
# op's activation (a RELU cell is 0.4-0.5 off).
TFLM_CELLS = ("basic", "lstm")


def _check_against_tf(pb: bytes, model: bytes, time_major: bool, tflm: bool = False) -> None:
    check_against_tf(pb, model, _inputs(time_major), tflm)


CASES = [
    ("basic", 1, False, False, False),
    ("lstm", 1, True, False, False),
    ("peephole_clip", 1, False, False, False),
    ("projection", 1, False, True, False),
    ("basic", 2, True, False, False),
    ("lstm", 2, False, True, False),
    ("lstm", 1, False, True, True),
    ("peephole_clip", 2, True, False, True),
    ("relu", 1, False, False, False),
    ("peephole_projection", 1, True, True, False),
]


@pytest.mark.parametrize(("kind", "layers", "time_major", "last_only", "loop"), CASES)
def test_static_rnn_fuses_into_one_op_per_layer(kind, layers, time_major, last_only, loop):
    pb = _static_lstm(kind, layers, time_major, last_only, loop)
    result = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"])
    types = [op.type for op in result.graph.ops]
    assert types.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == layers, types
    # Per layer: the op and the two FILLs that zero its state; the last step alone is taken
    # by an UNPACK, a middle layer's outputs reach the next through one.
    assert len(types) <= 3 * layers + (layers - 1) + (1 if last_only else 0), types
    lstm = next(op for op in result.graph.ops if op.type == "UNIDIRECTIONAL_SEQUENCE_LSTM")
    assert lstm.attrs["time_major"] == time_major
    _check_against_tf(pb, result.model, time_major, tflm=kind in TFLM_CELLS)


def test_near_miss_stays_unfused_with_a_note():
    pb = _static_lstm("softsign", 1, False, False)
    lines = []
    result = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"], log=lines.append)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in [op.type for op in result.graph.ops]
    assert any("fuse_lstm" in line and "unfused" in line for line in lines), lines
    _check_against_tf(pb, result.model, False)


def test_fewer_ops_than_tensorflows_converter(tmp_path):
    """TF's converter keeps a TF1 static_rnn cell as a dozen ops per step."""
    pb = _static_lstm("lstm", 2, False, False)
    path = tmp_path / "lstm.pb"
    path.write_bytes(pb)
    ours = op_types(api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"]).model)
    theirs = op_types(tf_convert(str(path), ["x"], ["y"]))
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in theirs
    assert len(ours) * 5 < len(theirs), (ours, theirs)


@pytest.mark.parametrize("kind,gap", [("lstm", None), ("peephole_clip", "peepholes"),
                                      ("projection", "a projection"), ("relu", "a RELU activation")])
def test_check_for_tflm_names_the_lstm_variants_its_kernel_lacks(tmp_path, kind, gap):
    """`check --target tflite-micro` says what TFLM's LSTM does not compute, which TFLM
    itself refuses (peepholes, a projection) or computes wrongly (tanh for RELU)."""
    from tests.support.cli import toco

    pb = tmp_path / f"{kind}.pb"
    pb.write_bytes(_static_lstm(kind, 1, False, False))
    proc = toco("check", str(pb), "--target", "tflite-micro")
    assert proc.returncode == (0 if gap is None else 1), proc.stdout + proc.stderr
    if gap is not None:
        assert f"UNIDIRECTIONAL_SEQUENCE_LSTM (with {gap}" in proc.stdout, proc.stdout
