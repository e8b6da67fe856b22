"""Keras LSTMs converted by TF's converter, which fuses each layer into one
UNIDIRECTIONAL_SEQUENCE_LSTM (its state in variable tensors), float or full-integer int8
(TFLite's 8x8_16 LSTM: int16 cell state, intermediate tensors with the gates' scales)."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

STEPS, FEATURES, UNITS = 5, 3, 4
# name -> (layers, return_sequences of the last layer, time_major)
VARIANTS = {"sequences": (1, True, False), "last": (1, False, False),
            "two_layers_time_major": (2, True, True)}


def input_shape(variant: str) -> tuple[int, int, int]:
    return (STEPS, 1, FEATURES) if VARIANTS[variant][2] else (1, STEPS, FEATURES)


def keras_lstm(variant: str, seed: int = 0) -> tf.keras.Model:
    """A batch-1 Keras model of LSTM layers over input_shape(variant); its weights drawn so
    that the gates are far from saturation."""
    layers, last_sequences, time_major = VARIANTS[variant]
    tf.keras.utils.set_random_seed(seed)
    shape = input_shape(variant)
    inputs = tf.keras.Input(batch_size=shape[0], shape=shape[1:])
    x = inputs
    for k in range(layers):
        x = tf.keras.layers.LSTM(UNITS, return_sequences=last_sequences or k < layers - 1,
                                 time_major=time_major)(x)
    model = tf.keras.Model(inputs, x)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def sequences(count: int, seed: int, variant: str = "sequences") -> np.ndarray:
    """count inputs of input_shape(variant)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.5, 1.5, (count, *input_shape(variant))).astype(np.float32)


def _converter(variant: str) -> tf.lite.TFLiteConverter:
    model = keras_lstm(variant)
    run = tf.function(lambda x: model(x))
    concrete = run.get_concrete_function(tf.TensorSpec(input_shape(variant), tf.float32))
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)


def float_model(variant: str) -> bytes:
    return _converter(variant).convert()


def int8_model(variant: str, calibration: int = 32) -> bytes:
    """Full integer with int8 input and output, calibrated on `calibration` sequences."""
    converter = _converter(variant)
    converter.optimizations = {tf.lite.Optimize.DEFAULT}
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    samples = sequences(calibration, 1, variant)
    converter.representative_dataset = lambda: ([s] for s in samples)
    return converter.convert()
