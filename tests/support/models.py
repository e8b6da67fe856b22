"""Small tf.compat.v1 graphs used across tests, each returning {role: output tensor}."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1


def _var(rng, shape, name, scale=0.3):
    return tf.Variable(rng.normal(0, scale, shape).astype(np.float32), name=name)


def mlp(batch: int | None = 1):
    rng = np.random.default_rng(0)
    x = v1.placeholder(tf.float32, [batch, 16], name="x")
    h = tf.nn.relu(tf.matmul(x, _var(rng, (16, 32), "w1")) + _var(rng, (32,), "b1"), name="h1")
    h = tf.nn.relu6(tf.nn.bias_add(tf.matmul(h, _var(rng, (32, 24), "w2")), _var(rng, (24,), "b2")))
    h = tf.tanh(tf.matmul(h, _var(rng, (24, 12), "w3")))
    h = tf.sigmoid(tf.matmul(h, _var(rng, (12, 10), "w4")) - _var(rng, (10,), "b4"))
    logits = tf.matmul(h, _var(rng, (10, 10), "w5")) * 3.0 / 2.0
    return {"probs": tf.nn.softmax(logits, name="probs")}


def small_cnn(batch: int | None = 1):
    rng = np.random.default_rng(1)
    x = v1.placeholder(tf.float32, [batch, 20, 20, 3], name="image")
    c = tf.nn.conv2d(x, _var(rng, (3, 3, 3, 8), "k1"), [1, 1, 1, 1], "SAME")
    c = tf.nn.relu(tf.nn.bias_add(c, _var(rng, (8,), "kb1")))
    d = tf.nn.depthwise_conv2d(c, _var(rng, (3, 3, 8, 2), "dw"), [1, 2, 2, 1], "VALID")
    d = tf.nn.relu6(d + _var(rng, (16,), "db"))
    p = tf.nn.max_pool2d(d, 2, 2, "SAME")
    q = tf.nn.avg_pool2d(d, 3, 2, "SAME")
    cat = tf.concat([p, q], axis=3)
    padded = tf.pad(cat, [[0, 0], [1, 1], [2, 0], [0, 0]])
    e = tf.nn.conv2d(padded, _var(rng, (2, 2, 32, 6), "k2"), [1, 1, 1, 1], "VALID", dilations=[1, 1, 1, 1])
    t = tf.transpose(e, [0, 2, 1, 3])
    m = tf.reduce_mean(t, axis=[1, 2], keepdims=True)
    s = tf.squeeze(m, axis=[1, 2])
    r = tf.reshape(tf.expand_dims(s, 1), [-1, 6])
    out = tf.nn.softmax(tf.matmul(r, _var(rng, (6, 5), "fc")) / 2.0, name="scores")
    return {"scores": out}


def unsupported_ops_graph():
    """Ops TFLite has no builtin for (Erf twice, Cumprod, Digamma), for the error messages."""
    x = v1.placeholder(tf.float32, [1, 8], name="x")
    a = tf.math.erf(x, name="erf_a")
    b = tf.math.erf(a, name="erf_b")
    c = tf.math.cumprod(b, axis=1, name="running")
    d = tf.math.digamma(tf.nn.relu(c) + 1.0, name="dg")
    return {"out": tf.identity(d * 2.0, name="out")}
