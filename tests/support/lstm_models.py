"""Keras LSTMs converted by TF's converter, which fuses each layer into one
UNIDIRECTIONAL_SEQUENCE_LSTM (its state in variable tensors), float or full-integer int8
(TFLite's 8x8_16 LSTM: int16 cell state, intermediate tensors with the gates' scales)."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

STEPS, FEATURES, UNITS = 5, 3, 4
# name -> (layers, return_sequences of the last layer)
VARIANTS = {"sequences": (1, True), "last": (1, False), "two_layers": (2, True)}


def keras_lstm(variant: str, seed: int = 0) -> tf.keras.Model:
    """A batch-1 Keras model of LSTM layers over [1, STEPS, FEATURES]; its weights drawn so
    that the gates are far from saturation."""
    layers, last_sequences = VARIANTS[variant]
    tf.keras.utils.set_random_seed(seed)
    inputs = tf.keras.Input(batch_size=1, shape=(STEPS, FEATURES))
    x = inputs
    for k in range(layers):
        x = tf.keras.layers.LSTM(UNITS, return_sequences=last_sequences or k < layers - 1)(x)
    model = tf.keras.Model(inputs, x)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def sequences(count: int, seed: int) -> np.ndarray:
    """count inputs [1, STEPS, FEATURES]."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.5, 1.5, (count, 1, STEPS, FEATURES)).astype(np.float32)


def _converter(model: tf.keras.Model) -> tf.lite.TFLiteConverter:
    run = tf.function(lambda x: model(x))
    concrete = run.get_concrete_function(tf.TensorSpec([1, STEPS, FEATURES], tf.float32))
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)


def float_model(variant: str) -> bytes:
    return _converter(keras_lstm(variant)).convert()


def int8_model(variant: str, calibration: int = 32) -> bytes:
    """Full integer with int8 input and output, calibrated on `calibration` sequences."""
    converter = _converter(keras_lstm(variant))
    converter.optimizations = {tf.lite.Optimize.DEFAULT}
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    samples = sequences(calibration, seed=1)
    converter.representative_dataset = lambda: ([s] for s in samples)
    return converter.convert()
