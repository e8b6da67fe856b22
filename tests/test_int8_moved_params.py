"""int8: a data-moving op (RESHAPE) after a shared-params op (SELECT_V2) keeps the params the
SELECT_V2 ends with once its inputs' ranges are unified, not the ones its own range gave it
first; otherwise LiteRT reads the moved int8 values at the wrong scale (Lgamma's composition
met this: its reflection SELECT_V2 feeds a RESHAPE)."""
import numpy as np
import tensorflow as tf

from tests.support.oracle import freeze, run_litert, run_tf
from toco_py import api
from toco_py.quantize.driver import QuantizeOptions

v1 = tf.compat.v1


def test_reshape_after_select_keeps_the_unified_params(tmp_path):
    def build():
        x = v1.placeholder(tf.float32, (1, 16), name="x")
        # The branches' ranges ([-1, 1] and [-8, 8]) are wider than the output's ([-8, 1]):
        # unified, the output's params widen from a step of 9/255 to 16/255.
        picked = tf.where(x > 0, x, x * 8.0)
        return {"y": tf.reshape(picked, (4, 4), name="y")}
    pb, _ = freeze(build)
    rng = np.random.default_rng(0)
    samples = rng.uniform(-1, 1, (32, 1, 16)).astype(np.float32)
    np.save(tmp_path / "calibration.npy", samples)
    ours = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"],
                             quantize=QuantizeOptions("int8", calibration_data=str(tmp_path / "calibration.npy")))
    graph = ours.graph
    select = next(op for op in graph.ops if op.type == "SELECT_V2")
    reshape = next(op for op in graph.ops if op.type == "RESHAPE")
    assert reshape.inputs[0] == select.outputs[0]
    moved, selected = (graph.tensors[op.outputs[0]].quant for op in (reshape, select))
    assert (moved.scale, moved.zero_point) == (selected.scale, selected.zero_point)
    # LiteRT on the int8 model is off TensorFlow's float result by the output's rounding
    # (half a step), the input's (a step of 2/255, times 8 in the x * 8 branch: half a step)
    # and the branches' requantization (half a step each): 2 steps.
    step = float(graph.tensors[select.outputs[0]].quant.scale[0])
    for seed in range(4):
        x = np.random.default_rng(10 + seed).uniform(-1, 1, (1, 16)).astype(np.float32)
        want = run_tf(pb, {"x": x}, ["y"])[0]
        got = run_litert(ours.model, {"x": x})["y"]
        assert np.max(np.abs(got - want)) <= 2 * step
