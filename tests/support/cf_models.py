"""TF's converter's models of several subgraphs, made from tf.function graphs: a tf.cond on
an input predicate (IF), a tf.while_loop with an input bound (WHILE), and a tf.Module whose
tf.Variable keeps state between invokes (CALL_ONCE, VAR_HANDLE, READ_VARIABLE,
ASSIGN_VARIABLE). Each comes with feeds for a few invokes."""
from __future__ import annotations

import numpy as np
import tensorflow as tf


def _convert(fn, *specs) -> bytes:
    concrete = fn.get_concrete_function(*specs)
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], fn).convert()


@tf.function
def _cond(x, p):
    return tf.cond(p[0] > 0, lambda: tf.nn.relu(x) * 2.0, lambda: tf.tanh(x) - 1.0)


@tf.function
def _loop(x, n):
    def body(i, x):
        return i + 1, x * 1.5 + 1.0
    _, y = tf.while_loop(lambda i, x: i < n[0], body, [tf.constant(0), x])
    return y


_FUNCTIONS = {"cond": (_cond, [tf.TensorSpec([1, 4], tf.float32), tf.TensorSpec([1], tf.float32)]),
              "while": (_loop, [tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([1], tf.int32)])}


def cond_model() -> bytes:
    return _convert(_FUNCTIONS["cond"][0], *_FUNCTIONS["cond"][1])


def while_model() -> bytes:
    return _convert(_FUNCTIONS["while"][0], *_FUNCTIONS["while"][1])


def int8_model(name: str) -> bytes:
    """"cond" or "while" full-integer through TF's converter (int8 float inputs and outputs),
    calibrated on feeds of other seeds."""
    fn, specs = _FUNCTIONS[name]
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function(*specs)], fn)
    converter.optimizations = {tf.lite.Optimize.DEFAULT}
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    calibration = [f for seed in range(1, 6) for f in feeds(name, seed=seed)]
    converter.representative_dataset = lambda: iter(calibration)
    return converter.convert()


class _Accumulator(tf.Module):
    def __init__(self):
        self.state = tf.Variable(tf.zeros([1, 4]))

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def __call__(self, x):
        new = self.state * 0.5 + x
        self.state.assign(new)
        return new


def state_model() -> bytes:
    module = _Accumulator()
    return tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module).convert()


def feeds(name: str, invokes: int = 4, seed: int = 0) -> list[list[np.ndarray]]:
    """Inputs in the model's input order, one list per invoke; both branches, several trip
    counts (zero included)."""
    rng = np.random.default_rng(seed)
    if name == "cond":
        return [[rng.normal(0, 1, (1, 4)).astype(np.float32), np.array([s], np.float32)]
                for s in (1.0, -1.0, 0.5, -2.0)[:invokes]]
    if name == "while":
        return [[rng.normal(0, 1, (2, 3)).astype(np.float32), np.array([n], np.int32)]
                for n in (3, 0, 1, 5)[:invokes]]
    return [[rng.normal(0, 1, (1, 4)).astype(np.float32)] for _ in range(invokes)]


MODELS = {"cond": cond_model, "while": while_model, "state": state_model}


def write_models(folder) -> dict:
    """name -> path of each model written as NAME.tflite into the pathlib folder."""
    paths = {}
    for name, make in MODELS.items():
        paths[name] = folder / f"{name}.tflite"
        paths[name].write_bytes(make())
    return paths
