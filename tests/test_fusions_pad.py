"""An explicit PAD that equals what SAME padding adds folds into the convolution or max pool
after it (fold_pad_into_conv), as TF's converter does, and stays where SAME means something
else: an average pool's SAME leaves the padding out of the count, a max pool's lets no padding
win."""
import numpy as np
import tensorflow as tf

from tests.support.fusions import convert_both

v1 = tf.compat.v1
RNG = np.random.default_rng(4)
X = {"x": RNG.normal(0, 1, (1, 8, 8, 4)).astype(np.float32)}
SAME_3X3_STRIDE_2 = [[0, 0], [0, 1], [0, 1], [0, 0]]  # TF's split for an even input


def placeholder():
    return v1.placeholder(tf.float32, (1, 8, 8, 4), name="x")


def depthwise(x, size):
    w = tf.constant(RNG.normal(0, 0.5, (size, size, 4, 1)).astype(np.float32))
    return tf.nn.depthwise_conv2d(x, w, [1, 2, 2, 1], "VALID")


def test_pad_read_by_two_convolutions(tmp_path):
    """NASNet's reduction cells: one PAD (two identical ones, deduplicated) before two
    depthwise convolutions."""
    def build():
        padded = tf.pad(tf.nn.relu(placeholder()), [[0, 0], [2, 3], [2, 3], [0, 0]])
        return tf.identity(depthwise(padded, 7) + depthwise(padded, 7) * 2.0, name="y")
    ours, theirs = convert_both(build, X, tmp_path)
    assert "PAD" not in ours and len(ours) <= len(theirs), (ours, theirs)


def max_pool(x):
    return tf.nn.max_pool2d(x, 3, 2, "VALID")


def test_max_pool_takes_a_pad_that_cannot_win(tmp_path):
    after_relu = lambda: tf.identity(max_pool(tf.pad(tf.nn.relu(placeholder()), SAME_3X3_STRIDE_2)), name="y")
    ours, theirs = convert_both(after_relu, X, tmp_path)
    assert ours == ["RELU", "MAX_POOL_2D"] and len(ours) <= len(theirs), (ours, theirs)

    lowest = lambda: tf.identity(max_pool(tf.pad(placeholder(), SAME_3X3_STRIDE_2, constant_values=-np.inf)),
                                 name="y")
    ours, _ = convert_both(lowest, X, tmp_path)
    assert ours == ["MAX_POOL_2D"]


def test_pad_kept_where_same_means_something_else(tmp_path):
    # Zeros win a max over negative inputs; SAME's padding never does.
    signed = lambda: tf.identity(max_pool(tf.pad(placeholder(), SAME_3X3_STRIDE_2)), name="y")
    ours, _ = convert_both(signed, X, tmp_path)
    assert ours == ["PAD", "MAX_POOL_2D"]

    # Zeros count in an average; SAME's padding does not.
    average = lambda: tf.identity(tf.nn.avg_pool2d(tf.pad(tf.nn.relu(placeholder()), SAME_3X3_STRIDE_2), 3, 2,
                                                   "VALID"), name="y")
    ours, _ = convert_both(average, X, tmp_path)
    assert ours == ["RELU", "PAD", "AVERAGE_POOL_2D"]

    # A nonzero pad value is not a convolution's SAME.
    ones = lambda: tf.identity(depthwise(tf.pad(placeholder(), SAME_3X3_STRIDE_2, constant_values=1.0), 3), name="y")
    ours, _ = convert_both(ones, X, tmp_path)
    assert ours == ["PADV2", "DEPTHWISE_CONV_2D"]
