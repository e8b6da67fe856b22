"""Builds the example graphs in examples/models/ (no downloads: scikit-learn ships the data).

    digits_cnn.pb   a small CNN trained on scikit-learn's 8x8 digits, frozen (input
                    'image' [1,8,8,1] in [0,1], output 'probs' [1,10])
    digits_mlp.pb   an MLP on the same data (input 'pixels' [1,64], output 'probs')
    digits_test.npz held-out digits ("image" [N,8,8,1], "label") for validation
    digits_calibration.npz  100 training digits ("image" and "pixels") for int8 calibration
    digits_one.npz  one held-out digit ("image") to validate with

Needs the [tf] extra. Run: python examples/make_models.py
"""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

v1 = tf.compat.v1
HERE = Path(__file__).parent / "models"


def digits():
    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def cnn(image):
    h = v1.layers.conv2d(image, 16, 3, padding="same", activation=tf.nn.relu, name="conv1")
    h = v1.layers.max_pooling2d(h, 2, 2, name="pool1")
    h = v1.layers.conv2d(h, 32, 3, padding="same", activation=tf.nn.relu6, name="conv2")
    h = tf.reduce_mean(h, axis=[1, 2], name="gap")
    return v1.layers.dense(h, 10, name="logits")


def mlp(pixels):
    h = v1.layers.dense(pixels, 64, activation=tf.nn.relu, name="fc1")
    h = v1.layers.dense(h, 32, activation=tf.nn.tanh, name="fc2")
    return v1.layers.dense(h, 10, name="logits")


def train_and_freeze(name, input_name, input_shape, body, x, y, epochs=40):
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(0)
        inp = v1.placeholder(tf.float32, [None] + input_shape, name=input_name)
        labels = v1.placeholder(tf.int64, [None])
        logits = body(inp)
        tf.nn.softmax(logits, name="probs")  # the output node the frozen graph keeps
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        step = v1.train.AdamOptimizer(0.01).minimize(loss)
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            rng = np.random.default_rng(0)
            for _ in range(epochs):
                for idx in np.array_split(rng.permutation(len(x)), len(x) // 64):
                    sess.run(step, {inp: x[idx].reshape([-1] + input_shape), labels: y[idx]})
            frozen = v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), ["probs"])
    (HERE / f"{name}.pb").write_bytes(frozen.SerializeToString())
    return frozen


def main():
    HERE.mkdir(exist_ok=True)
    (x, y), (xt, yt) = digits()
    train_and_freeze("digits_cnn", "image", [8, 8, 1], cnn, x, y)
    train_and_freeze("digits_mlp", "pixels", [64], mlp, x, y)
    np.savez_compressed(HERE / "digits_test.npz", image=xt.reshape(-1, 8, 8, 1), label=yt)
    np.savez_compressed(HERE / "digits_calibration.npz", image=x[:100].reshape(-1, 8, 8, 1),
                        pixels=x[:100].reshape(-1, 64))
    np.savez(HERE / "digits_one.npz", image=xt[:1].reshape(1, 8, 8, 1))
    print("wrote", *sorted(p.name for p in HERE.iterdir()))


if __name__ == "__main__":
    main()
