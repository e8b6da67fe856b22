"""CONV_3D_TRANSPOSE (issue 13): our numpy kernel against LiteRT's reference kernel on one-op
models, and Conv3DBackpropInputV2 end to end (TensorFlow on the .pb, LiteRT on our .tflite
within the tolerance policy, no more ops than TF's converter makes)."""

import numpy as np
import pytest
import tensorflow as tf

from tests.support.kernel_check import compare_with_litert, one_op_graph
from tests.support.tf_compare import convert_tf
from tests.test_ops_longtail_array import conv3d_attrs
from toco_py.errors import ConversionError

v1 = tf.compat.v1
pytestmark = pytest.mark.usefixtures("repeatable_draws")  # conftest: RNG reseeded per test
RNG = np.random.default_rng(31)


def normal(*shape):
    return RNG.standard_normal(shape, np.float32)


CASES = [  # (input NDHWC, filter DHW out in, output NDHWC, attrs)
    ((1, 4, 5, 3, 2), (2, 3, 2, 4, 2), (1, 5, 7, 4, 4), conv3d_attrs("VALID")),
    ((2, 3, 4, 2, 3), (3, 3, 2, 2, 3), (2, 6, 4, 5, 2), conv3d_attrs("SAME", strides=(2, 1, 3))),
    ((1, 3, 3, 3, 1), (3, 2, 3, 3, 1), (1, 5, 6, 7, 3), conv3d_attrs("VALID", strides=(1, 2, 2))),
    ((1, 4, 3, 5, 2), (2, 2, 3, 1, 2), (1, 7, 5, 11, 1),
     conv3d_attrs("VALID", dilations=(3, 2, 3), act="RELU6")),
]


@pytest.mark.parametrize("x_shape,w_shape,out_shape,attrs", CASES, ids=str)
@pytest.mark.parametrize("bias", [False, True])
def test_conv3d_transpose(x_shape, w_shape, out_shape, attrs, bias):
    b = normal(w_shape[3]) if bias else None
    compare_with_litert("CONV_3D_TRANSPOSE", [np.array(out_shape, np.int32), normal(*w_shape),
                                              normal(*x_shape), b], attrs, const={0, 1, 3})


def test_sizes_that_are_no_gradient_are_refused():
    """An output that does not convolve back to the input's size: LiteRT's Prepare refuses
    it, shape inference names it."""
    with pytest.raises(ConversionError, match="does not convolve back"):
        one_op_graph("CONV_3D_TRANSPOSE", [np.array([1, 9, 7, 4, 4], np.int32), normal(2, 3, 2, 4, 2),
                                           normal(1, 4, 5, 3, 2)], conv3d_attrs("VALID"), 1, {0, 1})


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("strides", [(1, 1, 1), (2, 1, 2)], ids=str)
@pytest.mark.parametrize("sizes_type", [tf.int32, tf.int64])
def test_tf_conv3d_backprop_input(tmp_path, padding, strides, sizes_type):
    w = normal(2, 3, 3, 3, 4)  # DHW, output channels, input channels
    x = normal(1, 3, 4, 3, 4)
    # The largest output whose convolution has the input's size.
    spatial = [(i - 1) * s + (k if padding == "VALID" else 1) for i, k, s in zip(x.shape[1:4], w.shape[:3], strides)]
    out = [1, *spatial, 3]

    def build():
        y = tf.raw_ops.Conv3DBackpropInputV2(input_sizes=tf.constant(out, sizes_type), filter=w,
                                             out_backprop=v1.placeholder(tf.float32, x.shape, name="x"),
                                             strides=[1, *strides, 1], padding=padding)
        return {"y": tf.identity(y, name="y")}
    assert convert_tf(build, {"x": x}, tmp_path, "Conv3DBackpropInputV2", float_math=True) == ["CONV_3D_TRANSPOSE"]
