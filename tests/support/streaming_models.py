"""A streaming keyword spotter as microWakeWord builds one: each invoke takes one frame of
features, and every convolution keeps the frames its kernel still needs in a tf.Variable ring
buffer (concatenate the state with the new frames, convolve without padding, keep the
newest frames as the next state). TF's converter exports the variables as VAR_HANDLE /
READ_VARIABLE / ASSIGN_VARIABLE ops with a CALL_ONCE initializer subgraph, float or int8
(with its variable quantization, as microWakeWord converts them)."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

FEATURES = 40  # mel bins per frame
STEPS = 6      # invokes the tests run, more than any kernel's length so state wraps around
# (kernel length in frames, output channels) of each streamed convolution
LAYERS = ((3, 8), (5, 8))


class StreamingSpotter(tf.Module):
    """Frames [1, 1, FEATURES] in, a keyword probability [1, 1] out."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.kernels, self.biases, self.states = [], [], []
        channels = FEATURES
        for length, out in LAYERS:
            self.kernels.append(tf.constant(
                rng.normal(0, 1 / np.sqrt(length * channels), (length, 1, channels, out)),
                tf.float32))
            self.biases.append(tf.constant(rng.normal(0, 0.1, out), tf.float32))
            # The frames the kernel sees besides the newest one, zero before the first invoke.
            self.states.append(tf.Variable(tf.zeros([1, length - 1, 1, channels])))
            channels = out
        self.dense = tf.constant(rng.normal(0, 1 / np.sqrt(channels), (channels, 1)), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, 1, FEATURES], tf.float32)])
    def __call__(self, frame):
        x = tf.reshape(frame, [1, 1, 1, FEATURES])
        for kernel, bias, state in zip(self.kernels, self.biases, self.states):
            window = tf.concat([state, x], axis=1)
            state.assign(window[:, 1:])
            x = tf.nn.relu(tf.nn.conv2d(window, kernel, 1, "VALID") + bias)
        return tf.sigmoid(tf.reshape(x, [1, -1]) @ self.dense)


def frames(steps: int = STEPS, seed: int = 0) -> np.ndarray:
    """[steps, 1, 1, FEATURES] feature frames, the log-mel-like range microWakeWord feeds."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 26, (steps, 1, 1, FEATURES)).astype(np.float32)


def reference_outputs(steps: int = STEPS, seed: int = 0) -> np.ndarray:
    """TensorFlow's outputs for frames(steps, seed), one invoke per frame on a fresh model."""
    model = StreamingSpotter()
    return np.stack([model(frame).numpy() for frame in frames(steps, seed)])


def float_model() -> bytes:
    model = StreamingSpotter()
    return tf.lite.TFLiteConverter.from_concrete_functions(
        [model.__call__.get_concrete_function()], model).convert()


def int8_model(calibration_steps: int = 40) -> bytes:
    """Full-integer with int8 input and output, the variables quantized too."""
    model = StreamingSpotter()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [model.__call__.get_concrete_function()], model)
    converter.optimizations = {tf.lite.Optimize.DEFAULT}
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    converter._experimental_variable_quantization = True
    calibration = frames(calibration_steps, seed=1)
    converter.representative_dataset = lambda: ([frame] for frame in calibration)
    return converter.convert()
