"""Graphs for the int8 tests: float fallback (an op without an int8 kernel mid-network) and
PADV2, frozen with TensorFlow. Each builder returns the GraphDef bytes of a graph with input
"x" and output "y"."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import tensorflow as tf

from tests.support.oracle import freeze
from toco_py.ops import REGISTRY

v1 = tf.compat.v1


def _weights(rng, *shape):
    return (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(np.float32)


def div_mlp():
    """Dense -> divide by a second dense branch (kept positive) -> dense."""
    rng = np.random.default_rng(0)

    def build():
        x = v1.placeholder(tf.float32, [1, 16], name="x")
        h = tf.nn.relu(tf.matmul(x, _weights(rng, 16, 32)) + 0.1)
        d = h / (tf.nn.relu(tf.matmul(x, _weights(rng, 16, 32))) + 1.0)
        return {"y": tf.identity(tf.matmul(d, _weights(rng, 32, 8)), name="y")}
    return freeze(build)[0]


def sin_mlp():
    """Dense -> SIN -> dense: LiteRT has no int8 SIN (elementwise.cc accepts float32 only), so
    both converters keep it in float."""
    rng = np.random.default_rng(2)

    def build():
        x = v1.placeholder(tf.float32, [1, 16], name="x")
        h = tf.sin(tf.matmul(x, _weights(rng, 16, 32)))
        return {"y": tf.identity(tf.matmul(h, _weights(rng, 32, 8)), name="y")}
    return freeze(build)[0]


# One op (or TF's spelling of it) between two dense layers, by TF op name: the graphs the
# fallback tests compare with TF's converter (positive inputs where the op needs them).
MIDDLE_OPS = {
    "Abs": tf.abs, "Neg": tf.negative, "Square": tf.square, "Exp": tf.exp, "Cos": tf.cos,
    "Floor": tf.floor, "Round": tf.round, "Sign": tf.sign, "Elu": tf.nn.elu,
    "Sqrt": lambda h: tf.sqrt(tf.nn.relu(h)),
    "Log": lambda h: tf.math.log(tf.nn.relu(h) + 0.1),
    "FloorMod": lambda h: tf.math.floormod(h, tf.constant(0.7)),
    "ResizeBilinear": lambda h: tf.reshape(
        v1.image.resize_bilinear(tf.reshape(h, [1, 4, 4, 2]), [6, 6], half_pixel_centers=True), [1, 72]),
    "Conv2DBackpropInput": lambda h: tf.reshape(tf.nn.conv2d_transpose(
        tf.reshape(h, [1, 4, 4, 2]), _weights(np.random.default_rng(4), 3, 3, 3, 2), [1, 8, 8, 3], 2), [1, 192]),
    "Prod": lambda h: tf.reduce_prod(tf.reshape(h, [1, 8, 4]), axis=2),
    "BatchMatMul": lambda h: tf.reshape(tf.matmul(tf.reshape(h, [1, 4, 8]), tf.reshape(h, [1, 8, 4])), [1, 16]),
}


def mlp_around(tf_op: str):
    """Dense -> MIDDLE_OPS[tf_op] -> dense."""
    rng = np.random.default_rng(3)

    def build():
        x = v1.placeholder(tf.float32, [1, 16], name="x")
        h = MIDDLE_OPS[tf_op](tf.matmul(x, _weights(rng, 16, 32)))
        return {"y": tf.identity(tf.matmul(h, _weights(rng, int(h.shape[-1]), 8)), name="y")}
    return freeze(build)[0]


def clipped_mlp():
    """x -> MAXIMUM -> dense -> MAXIMUM -> MINIMUM -> dense -> MINIMUM: the tests drop the int8
    kernels of MAXIMUM and MINIMUM (exact in float, so every difference is quantization's)."""
    rng = np.random.default_rng(1)

    def build():
        x = v1.placeholder(tf.float32, [1, 16], name="x")
        h = tf.matmul(tf.maximum(x, -0.5), _weights(rng, 16, 32))
        h = tf.minimum(tf.maximum(h, -0.25), 1.5)
        return {"y": tf.identity(tf.minimum(tf.matmul(h, _weights(rng, 32, 8)), 0.75), name="y")}
    return freeze(build)[0]


def padded_constant():
    """tanh (int8 output zero point 0) padded with a constant 0.5: a PADV2 whose fill value
    must take the output's params."""
    def build():
        x = v1.placeholder(tf.float32, [1, 4, 4, 3], name="x")
        y = tf.pad(tf.tanh(x), [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=0.5)
        return {"y": tf.identity(y, name="y")}
    return freeze(build)[0]


def drop_int8_kernels(monkeypatch, *types: str) -> None:
    """Drops the int8 kernels of the named ops for one test (as if they had none)."""
    for t in types:
        monkeypatch.setitem(REGISTRY, t, replace(REGISTRY[t], int8_kernel=None))
