"""TRANSPOSE -> element-wise ops -> TRANSPOSE: the ops run on the untransposed data (constants
permuted instead), then one TRANSPOSE of both permutations, none when they cancel
(sink_transpose), as TF's converter does."""
import numpy as np
import tensorflow as tf

from tests.support.fusions import convert_both

v1 = tf.compat.v1
RNG = np.random.default_rng(2)
X = {"x": RNG.normal(0, 1, (2, 3, 4, 5)).astype(np.float32)}
NCHW, NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


def placeholder(name="x"):
    return v1.placeholder(tf.float32, (2, 3, 4, 5), name=name)


def const(*shape):
    return tf.constant(RNG.normal(0, 1, shape).astype(np.float32))


def test_unary_and_binary_with_constants_between_inverse_transposes(tmp_path):
    def build():
        t = tf.transpose(placeholder(), NCHW)  # [2, 5, 3, 4]
        t = tf.nn.relu(t * const(5, 1, 1) + 0.5) - const(4)
        return tf.identity(tf.transpose(tf.tanh(t), NHWC), name="y")
    ours, theirs = convert_both(build, X, tmp_path)
    assert "TRANSPOSE" not in ours and len(ours) <= len(theirs), (ours, theirs)


def test_two_transposed_operands(tmp_path):
    def build():
        a, b = tf.transpose(placeholder(), NCHW), tf.transpose(placeholder("x2"), NCHW)
        return tf.identity(tf.transpose(tf.maximum(a, b) * 2.0, NHWC), name="y")
    feeds = {**X, "x2": RNG.normal(0, 1, (2, 3, 4, 5)).astype(np.float32)}
    ours, theirs = convert_both(build, feeds, tmp_path)
    assert ours == ["MAXIMUM", "MUL"] and len(ours) <= len(theirs), (ours, theirs)


def test_two_rotations_the_same_way_merge(tmp_path):
    def build():
        rotated = tf.exp(tf.transpose(placeholder(), NHWC) + const(3))
        return tf.identity(tf.transpose(rotated, NHWC), name="y")
    ours, theirs = convert_both(build, X, tmp_path)
    assert ours == ["ADD", "EXP", "TRANSPOSE"] and len(ours) <= len(theirs), (ours, theirs)


def test_kept_when_read_elsewhere_or_not_elementwise(tmp_path):
    def first_read_elsewhere():  # merging would keep both TRANSPOSEs: no gain
        t = tf.transpose(placeholder(), NHWC)
        return tf.identity(tf.transpose(tf.exp(t), NHWC) + tf.reduce_sum(t), name="y")
    ours, _ = convert_both(first_read_elsewhere, X, tmp_path)
    assert ours.count("TRANSPOSE") == 2

    def read_elsewhere():
        e = tf.exp(tf.transpose(placeholder(), NCHW))
        return tf.identity(tf.transpose(e, NHWC) + tf.reduce_sum(e), name="y")
    ours, _ = convert_both(read_elsewhere, X, tmp_path)
    assert ours.count("TRANSPOSE") == 2

    # A softmax is not element-wise: it normalises along the last axis, which moves.
    softmax = lambda: tf.identity(tf.transpose(tf.nn.softmax(tf.transpose(placeholder(), NCHW)), NHWC), name="y")
    ours, _ = convert_both(softmax, X, tmp_path)
    assert ours.count("TRANSPOSE") == 2


def test_back_to_back_transposes_merge(tmp_path):
    """TRANSPOSE of a TRANSPOSE is one TRANSPOSE by the composed permutation (merge_transposes),
    none when they cancel, as TF's converter makes it; kept apart when the first is read
    elsewhere."""
    def composed():
        return tf.identity(tf.transpose(tf.transpose(placeholder(), NHWC), [1, 0, 3, 2]), name="y")
    ours, theirs = convert_both(composed, X, tmp_path)
    assert ours == theirs == ["TRANSPOSE"], (ours, theirs)

    def cancelling():
        return tf.identity(tf.nn.relu(tf.transpose(tf.transpose(placeholder(), NHWC), NCHW)), name="y")
    ours, theirs = convert_both(cancelling, X, tmp_path)
    assert ours == ["RELU"] and len(ours) <= len(theirs), (ours, theirs)

    def shared():
        first = tf.transpose(placeholder(), NHWC)
        return tf.identity(tf.transpose(first, NCHW) + tf.reduce_sum(first), name="y")
    ours, _ = convert_both(shared, X, tmp_path)
    assert ours.count("TRANSPOSE") == 2, ours
