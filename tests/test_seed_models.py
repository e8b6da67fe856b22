"""The seeds' models (issue 14, tests/support/seed_models.py), TF1 control flow and control
flow v2: converted with the toco-py command, LiteRT on our .tflite against TensorFlow on the
.pb on real inputs (floats under the tolerance policy, tokens exactly), our op count (all
subgraphs) against TF's converter's where that converts the graph; it refuses the TF1
TensorArrays of dynamic_rnn and of the greedy decoder (they need TF Select ops). Dropout off
folds to nothing; with the training flag an input it becomes an IF whose branch draws with
RANDOM_UNIFORM."""
from __future__ import annotations

import numpy as np
import pytest

from tests.support import seed_models
from tests.support.cli import toco
from tests.support.oracle import run_litert, tf_convert
from tests.support.policy import tensorflow_and_litert_failures
from toco_py.tflite.reader import read_model

FORMS = seed_models.FORMS
# TF's converter refuses TF1 TensorArrays (TensorArrayV3, ...: TF Select ops).
TF_REFUSES = {("lm", "tf1"), ("greedy", "tf1")}


def _ops(model: bytes) -> list[str]:
    return [op.type for g in read_model(model).graphs for op in g.ops]


def _convert(tmp_path, model: seed_models.SeedModel, *args: str) -> bytes:
    pb, out = tmp_path / f"{model.name}.pb", tmp_path / f"{model.name}.tflite"
    pb.write_bytes(model.pb)
    proc = toco("convert", "--graph_def_file", str(pb), "--output_file", str(out),
                "--output_arrays", ",".join(model.outputs), *args)
    assert proc.returncode == 0, proc.stderr
    return out.read_bytes()


def _theirs(tmp_path, model: seed_models.SeedModel, inputs: list[str]) -> bytes:
    return tf_convert(str(tmp_path / f"{model.name}.pb"), inputs, model.outputs)


def _loop_cases():
    for name in ("lm", "greedy", "beam"):
        for form in FORMS:
            yield pytest.param(name, form, id=f"{name}-{form}")


@pytest.mark.parametrize("name,form", _loop_cases())
def test_loop_models(tmp_path, name, form):
    model = seed_models.seed_model(name, form)
    ours = _convert(tmp_path, model)
    # (the language model's dynamic_rnn becomes the fused LSTM: passes/fuse_lstm_loop.py)
    assert ("UNIDIRECTIONAL_SEQUENCE_LSTM" if name == "lm" else "WHILE") in _ops(ours)
    for feeds in seed_models.feeds(name):
        failures = tensorflow_and_litert_failures(model.pb, ours, feeds, model.outputs)
        assert not failures, failures
    if (name, form) in TF_REFUSES:
        with pytest.raises(Exception, match="TF Select ops: .*TensorArray"):
            _theirs(tmp_path, model, model.inputs)
    else:
        assert len(_ops(ours)) <= len(_ops(_theirs(tmp_path, model, model.inputs)))


@pytest.mark.parametrize("form", FORMS)
def test_dropout_off_folds_to_nothing(tmp_path, form):
    """The flag keeps its default False: the cond and the draws fold away."""
    model = seed_models.seed_model("dropout", form)
    ours = _convert(tmp_path, model)
    assert _ops(ours) == ["FULLY_CONNECTED", "FULLY_CONNECTED"]
    for feeds in seed_models.feeds("dropout"):
        failures = tensorflow_and_litert_failures(model.pb, ours, feeds, model.outputs)
        assert not failures, failures
    assert len(_ops(ours)) <= len(_ops(_theirs(tmp_path, model, model.inputs)))


@pytest.mark.parametrize("form", FORMS)
def test_dropout_flag_as_input_becomes_if(tmp_path, form):
    """Off, LiteRT agrees with TensorFlow; on, each activation is dropped (0) or scaled by
    1 / (1 - rate), some of each (the op seed makes LiteRT's draws the same on every run)."""
    model = seed_models.seed_model("dropout", form)
    inputs = ["x", "training"]
    ours = _convert(tmp_path, model, "--input_arrays", ",".join(inputs))
    kinds = _ops(ours)
    assert kinds.count("IF") == 1 and kinds.count("RANDOM_UNIFORM") == 1
    for feeds in seed_models.feeds("dropout"):
        off = feeds | {"training": np.array(False)}
        failures = tensorflow_and_litert_failures(model.pb, ours, off, model.outputs)
        assert not failures, failures
        # Scaling by 1 / (1 - 0.5) = 2 is exact: LiteRT's kept activations are exactly twice
        # its activations with the flag off.
        h = run_litert(ours, off)["h"]
        dropped = run_litert(ours, feeds | {"training": np.array(True)})["h"]
        kept = dropped != 0
        np.testing.assert_array_equal(dropped[kept], h[kept] / (1 - seed_models.DROPOUT_RATE))
        assert kept.any() and (h[~kept] != 0).any()
    assert len(kinds) <= len(_ops(_theirs(tmp_path, model, inputs)))
