"""A RESHAPE after a reduction to the shape keep_dims the other way would give folds into
the reduction (fold_reshape_into_reduction), as TF's converter does."""
import numpy as np
import tensorflow as tf

from tests.support.fusions import convert_both

v1 = tf.compat.v1
X = {"x": np.random.default_rng(0).normal(0, 1, (1, 6, 6, 8)).astype(np.float32)}


def squeeze_excite(x, pooled, extra=0.0):
    weights = tf.constant(np.random.default_rng(1).normal(0, 0.3, (1, 1, 8, 8)).astype(np.float32))
    gate = tf.sigmoid(tf.nn.conv2d(pooled, weights, [1, 1, 1, 1], "VALID"))
    return tf.identity(x * gate + extra, name="y")


def placeholder():
    return v1.placeholder(tf.float32, (1, 6, 6, 8), name="x")


def test_mean_then_reshape_to_keep_dims_shape(tmp_path):
    def build():
        x = placeholder()
        return squeeze_excite(x, tf.reshape(tf.reduce_mean(x, [1, 2]), [1, 1, 1, 8]))
    ours, theirs = convert_both(build, X, tmp_path)
    assert "RESHAPE" not in ours and len(ours) <= len(theirs), (ours, theirs)


def test_keep_dims_reduction_then_squeeze(tmp_path):
    def build():
        x = placeholder()
        return tf.identity(tf.squeeze(tf.reduce_max(x, [1, 2], keepdims=True), [1, 2]), name="y")
    ours, theirs = convert_both(build, X, tmp_path)
    assert ours == ["REDUCE_MAX"] and len(ours) <= len(theirs), (ours, theirs)


def test_no_fold_when_shared_or_another_shape(tmp_path):
    def shared():
        x = placeholder()
        mean = tf.reduce_mean(x, [1, 2])
        return squeeze_excite(x, tf.reshape(mean, [1, 1, 1, 8]), tf.reduce_sum(mean * 2.0))
    ours, _ = convert_both(shared, X, tmp_path)
    assert "RESHAPE" in ours

    other = lambda: tf.identity(tf.reshape(tf.reduce_mean(placeholder(), [1, 2]), [1, 8, 1, 1]), name="y")
    ours, _ = convert_both(other, X, tmp_path)
    assert ours == ["MEAN", "RESHAPE"]
