"""Float conversions checked against the real thing: TensorFlow runs the .pb, LiteRT runs
our .tflite, and TensorFlow's own converter sets the bar for the operator count."""
import numpy as np
import pytest

from tests.support import models
from tests.support.oracle import freeze, op_types, tf_convert
from tests.support.policy import tensorflow_and_litert_failures
from toco_py import api

CASES = [
    ("mlp", models.mlp, {"x": (16,)}, ["probs"]),
    ("small_cnn", models.small_cnn, {"image": (20, 20, 3)}, ["scores"]),
]


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("name,build,inputs,outputs", CASES, ids=[c[0] for c in CASES])
def test_matches_tensorflow(tmp_path, name, build, inputs, outputs, batch):
    pb, _ = freeze(lambda: build(batch))
    pb_path = tmp_path / "model.pb"
    pb_path.write_bytes(pb)
    result = api.convert(str(pb_path), str(tmp_path / "model.tflite"),
                         input_arrays=list(inputs), output_arrays=outputs)
    rng = np.random.default_rng(7)
    feeds = {k: rng.normal(0, 1, (batch,) + s).astype(np.float32) for k, s in inputs.items()}
    failures = tensorflow_and_litert_failures(pb, (tmp_path / "model.tflite").read_bytes(), feeds, outputs)
    assert not failures, failures

    ours = op_types(result.model)
    theirs = op_types(tf_convert(str(pb_path), list(inputs), outputs))
    assert len(ours) <= len(theirs), (ours, theirs)


def test_inferred_arrays_and_batch_default(tmp_path):
    pb, _ = freeze(lambda: models.mlp(None))
    pb_path = tmp_path / "m.pb"
    pb_path.write_bytes(pb)
    result = api.convert(str(pb_path))
    assert result.graph.inputs == ["x"] and result.graph.outputs == ["probs"]
    assert any("inferred" in n for n in result.notes)
    assert any("batch size set to 1" in n for n in result.notes)
    assert result.graph.tensors["x"].shape == (1, 16)


def test_weights_transposed_once(tmp_path):
    """MatMul weights arrive in FULLY_CONNECTED's [out, in] layout, with no TRANSPOSE left."""
    pb, _ = freeze(models.mlp)
    result = api.convert_bytes(pb)
    types = [op.type for op in result.graph.ops]
    assert "TRANSPOSE" not in types
    assert types.count("FULLY_CONNECTED") == 5
    fc = result.graph.ops[0]
    assert result.graph.tensors[fc.inputs[1]].shape == (32, 16)
    assert fc.attrs["fused_activation_function"] == "RELU"
    assert fc.inputs[2], "bias add fused into the FC"
