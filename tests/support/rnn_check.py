"""Recurrent test graphs frozen with seeded weights, and the check of a converted recurrent
model against TensorFlow over several invokes of one interpreter (a fused op's state lives in
variable tensors, which LiteRT keeps between invokes)."""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from tflite_micro import runtime

from tests.support.oracle import litert, run_tf
from tests.support.policy import policy_failures
from toco_py.interpreter import Interpreter
from toco_py.tflite.reader import read_model

v1 = tf.compat.v1


def freeze_seeded(build, seed: int = 3, outputs: tuple[str, ...] = ("y",)) -> bytes:
    """The frozen graph of `build()` (its outputs named `outputs`), every variable drawn from
    a seeded uniform (TF's initializers draw unseeded, and zero its biases: each gate's bias
    is then checked)."""
    graph = tf.Graph()
    with graph.as_default():
        build()
        rng = np.random.default_rng(seed)
        weights = [var.assign(rng.uniform(-0.6, 0.6, var.shape).astype(np.float32))
                   for var in v1.global_variables()]
        with v1.Session(graph=graph) as sess:
            sess.run(weights)
            gd = v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), list(outputs))
    return gd.SerializeToString()


def check_against_tf(pb: bytes, model: bytes, inputs: list[np.ndarray], tflm: bool = False) -> None:
    """TensorFlow's run of the .pb "x" -> "y" (which starts every run from a zero state), and
    each invoke of one LiteRT interpreter, one of ours and (tflm) one TFLM interpreter,
    within the float policy of the model."""
    reference = read_model(model).main
    interp = litert(model, delegates=False)
    micro = runtime.Interpreter.from_bytes(model) if tflm else None
    (inp,), (out,) = interp.get_input_details(), interp.get_output_details()
    ours = Interpreter(reference)
    failures = []
    for k, x in enumerate(inputs):
        feeds = {"x": x}
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        candidates = {"TensorFlow": {"y": run_tf(pb, feeds, ["y"])[0]},
                      "LiteRT": {"y": interp.get_tensor(out["index"])}, "toco-py": ours.run(feeds)}
        if micro is not None:
            micro.set_input(x, 0)
            micro.invoke()
            candidates["TFLM"] = {"y": micro.get_output(0)}
        failures += [f"invoke {k}: {f}" for f in policy_failures(reference, feeds, candidates)]
    assert not failures, failures
