"""A bidirectional pair of TF1 LSTM cells (static_bidirectional_rnn, bidirectional_dynamic_rnn)
-> two UNIDIRECTIONAL_SEQUENCE_LSTMs, the backward one on the REVERSE_V2 of the sequence, the
two output sequences joined by one CONCATENATION (fuse_lstm, hoist_concat_out_of_pack,
fold_pack_of_unpack). Not BIDIRECTIONAL_SEQUENCE_LSTM: LiteRT's kernel for it has float and
hybrid paths only (no full-integer 8x8_16 one) and TFLM has none, while the pair runs
everywhere the unidirectional op does, in float and int8, and costs the same work."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from tests import test_fuse_lstm as fuse  # noqa: E402
from tests.support.codegen_check import TEST_OPT  # noqa: E402
from tests.support.oracle import op_types, tf_convert  # noqa: E402
from toco_py import api  # noqa: E402
from toco_py.codegen.bundle import generate_bundle  # noqa: E402
from toco_py.codegen.verify import verify_steps  # noqa: E402
from toco_py.tflite.reader import read_model  # noqa: E402

v1 = tf.compat.v1


def _bidirectional(kind: str, layers: int, time_major: bool, dynamic: bool = False) -> bytes:
    """static_bidirectional_rnn, or bidirectional_dynamic_rnn (TF1 loops: fuse_lstm_loop)."""
    def build():
        shape = [fuse.STEPS, fuse.BATCH, fuse.FEATURES] if time_major else [fuse.BATCH, fuse.STEPS, fuse.FEATURES]
        x = v1.placeholder(tf.float32, shape, "x")
        axis = 0 if time_major else 1
        steps = x if dynamic else tf.unstack(x, axis=axis)
        for k in range(layers):
            with v1.variable_scope(f"layer{k}"):
                if dynamic:
                    both, _ = v1.nn.bidirectional_dynamic_rnn(fuse._cell(kind), fuse._cell(kind), steps,
                                                              dtype=tf.float32, time_major=time_major)
                    steps = tf.concat(both, 2)
                else:
                    steps, _, _ = v1.nn.static_bidirectional_rnn(fuse._cell(kind), fuse._cell(kind), steps,
                                                                 dtype=tf.float32)
        tf.identity(steps if dynamic else tf.stack(steps, axis=axis), "y")

    v1.disable_control_flow_v2()
    try:
        return fuse.freeze(build)
    finally:
        v1.enable_control_flow_v2()


@pytest.mark.parametrize(("kind", "layers", "time_major", "dynamic"), [
    ("lstm", 1, False, False), ("peephole_clip", 1, True, False), ("basic", 2, False, False),
    ("lstm", 1, False, True), ("projection", 1, True, True)])
def test_bidirectional_pair_fuses_into_two_ops_and_a_reverse(kind, layers, time_major, dynamic):
    pb = _bidirectional(kind, layers, time_major, dynamic)
    model = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"]).model
    types = op_types(model)
    assert types.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 2 * layers, types
    # Per layer: two LSTMs, their four FILLs, the reversed input and output, one join; a
    # layer after the first reads the join, and the backward one its own join of the
    # reversed sequences (one op more).
    assert sorted(set(types)) == ["CONCATENATION", "FILL", "REVERSE_V2", "UNIDIRECTIONAL_SEQUENCE_LSTM"], types
    assert len(types) == 9 * layers + (layers - 1), types
    fuse._check_against_tf(pb, model, time_major)


def test_fewer_ops_than_tensorflows_converter_and_the_bundle_verifies(tmp_path):
    pb = _bidirectional("lstm", 1, False)
    path = tmp_path / "bidi.pb"
    path.write_bytes(pb)
    model = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"]).model
    theirs = op_types(tf_convert(str(path), ["x"], ["y"]))
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in theirs and "BIDIRECTIONAL_SEQUENCE_LSTM" not in theirs
    assert len(op_types(model)) * 5 < len(theirs), (op_types(model), theirs)
    graph = read_model(model).main
    steps = [{"x": x} for x in fuse._inputs(False)]
    bundle = generate_bundle(graph, str(tmp_path / "b"), "bidi")
    report = verify_steps(graph, str(tmp_path / "b"), "bidi", bundle.plan.arena_size, len(steps),
                          opt=TEST_OPT, feeds=steps)
    assert report.passed, "\n".join(f"{c.name}: {c.max_abs} {c.note}" for c in report.checks if not c.passed)
    assert np.isfinite(report.checks[0].max_abs)
