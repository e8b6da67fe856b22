"""Image ops (resizing, depth <-> space) against LiteRT's reference kernels, and the TF image
mappers end to end: TensorFlow runs the frozen .pb, LiteRT our .tflite."""

import numpy as np
import pytest
import tensorflow as tf

from tests.support import oracle
from tests.support.kernel_check import compare_with_litert, forward_size, one_op_graph
from tests.support.oracle import freeze
from toco_py import api
from toco_py.errors import ConversionError

v1 = tf.compat.v1
RNG = np.random.default_rng(13)


pytestmark = pytest.mark.usefixtures("repeatable_draws")  # conftest: RNG reseeded per test


def normal(*shape):
    return RNG.normal(size=shape).astype(np.float32)


def i32(*values):
    return np.array(values, np.int32)


# ---- RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR --------------------------------------------

# (input NHWC, output height, output width): up, down, mixed, to and from a single pixel,
# and ratios whose float32 source coordinates land next to pixel boundaries.
RESIZES = [((1, 4, 4, 3), 8, 8), ((2, 5, 7, 2), 3, 4), ((1, 3, 3, 1), 9, 9), ((1, 6, 4, 2), 2, 9),
           ((1, 1, 1, 2), 3, 2), ((1, 5, 5, 1), 1, 1), ((1, 3, 5, 2), 7, 11), ((1, 14, 8, 1), 23, 47)]
FLAGS = [{}, {"align_corners": True}, {"half_pixel_centers": True}]


@pytest.mark.parametrize("op_type", ["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"])
@pytest.mark.parametrize("x_shape,oh,ow", RESIZES, ids=str)
@pytest.mark.parametrize("flags", FLAGS, ids=str)
def test_resize_float(op_type, x_shape, oh, ow, flags):
    compare_with_litert(op_type, [normal(*x_shape), i32(oh, ow)], flags, const={1})


@pytest.mark.parametrize("op_type", ["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"])
@pytest.mark.parametrize("flags", FLAGS, ids=str)
def test_resize_uint8(op_type, flags):
    """Raw uint8 pixels: bilinear rounds each blend to the nearest integer, as LiteRT does."""
    x = RNG.integers(0, 256, (1, 5, 6, 3)).astype(np.uint8)
    compare_with_litert(op_type, [x, i32(9, 4)], flags, const={1})


def test_resize_nearest_neighbor_int32():
    x = RNG.integers(-99, 99, (2, 3, 4, 2)).astype(np.int32)
    compare_with_litert("RESIZE_NEAREST_NEIGHBOR", [x, i32(7, 5)], {"half_pixel_centers": True},
                        const={1})


@pytest.mark.parametrize("op_type", ["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"])
def test_resize_refuses_both_flags(op_type):
    """TensorFlow rejects the pair, and LiteRT's RESIZE_BILINEAR fails to prepare with it."""
    with pytest.raises(ConversionError, match="cannot both be set"):
        one_op_graph(op_type, [normal(1, 2, 2, 1), i32(4, 4)],
                     {"align_corners": True, "half_pixel_centers": True}, const={1})


# ---- DEPTH_TO_SPACE / SPACE_TO_DEPTH --------------------------------------------------------

@pytest.mark.parametrize("x_shape,block", [((1, 2, 3, 4), 2), ((2, 3, 2, 18), 3), ((1, 1, 1, 16), 4),
                                           ((1, 2, 2, 5), 1)], ids=str)
def test_depth_to_space(x_shape, block):
    compare_with_litert("DEPTH_TO_SPACE", [normal(*x_shape)], {"block_size": block})


@pytest.mark.parametrize("x_shape,block", [((1, 4, 6, 1), 2), ((2, 6, 3, 2), 3), ((1, 4, 4, 3), 4),
                                           ((1, 2, 2, 5), 1)], ids=str)
def test_space_to_depth(x_shape, block):
    compare_with_litert("SPACE_TO_DEPTH", [normal(*x_shape)], {"block_size": block})


@pytest.mark.parametrize("op_type,dtype", [("DEPTH_TO_SPACE", "int32"), ("SPACE_TO_DEPTH", "int8"),
                                           ("SPACE_TO_DEPTH", "int64")])
def test_depth_space_integers(op_type, dtype):
    x = RNG.integers(-50, 50, (1, 4, 4, 4)).astype(dtype)
    compare_with_litert(op_type, [x], {"block_size": 2})


@pytest.mark.parametrize("op_type,x_shape,message", [
    ("DEPTH_TO_SPACE", (1, 2, 2, 6), "channel axis of size 6 is not a multiple of 4"),
    ("SPACE_TO_DEPTH", (1, 4, 5, 1), "width of size 5 is not a multiple of 2"),
    ("SPACE_TO_DEPTH", (4, 4, 1), "4-D NHWC")])
def test_depth_space_refusals(op_type, x_shape, message):
    with pytest.raises(ConversionError, match=message):
        one_op_graph(op_type, [normal(*x_shape)], {"block_size": 2})


# ---- TF mappers end to end -------------------------------------------------------------

def convert_and_compare(build, feeds: dict, tf_op: str, survivor: str, rtol: float = 0.0,
                        atol: float = 0.0):
    """build() returns the output tensor "y" on placeholders: oracle.convert_and_compare."""
    return oracle.convert_and_compare(lambda: [build()], feeds, ["y"], tf_op, survivor, rtol, atol)


def _x(shape, dtype=tf.float32):
    return v1.placeholder(dtype, shape, name="x")


@pytest.mark.parametrize("flags", FLAGS, ids=str)
@pytest.mark.parametrize("size", [(9, 7), (2, 3)], ids=str)
def test_tf_resize_bilinear(flags, size):
    x = normal(1, 5, 6, 2)
    # TF blends as top + (bottom - top) * weight, LiteRT as a weighted sum: a few float32
    # roundings apart on values of magnitude ~1.
    convert_and_compare(lambda: v1.image.resize_bilinear(_x(x.shape), size, name="y", **flags),
                        {"x": x}, "ResizeBilinear", "RESIZE_BILINEAR", rtol=1e-5, atol=1e-5)


def test_tf_resize_bilinear_of_integers_returns_float():
    """TF resizes any input type to float32; the converted model casts first."""
    x = RNG.integers(0, 256, (1, 4, 5, 3)).astype(np.uint8)
    convert_and_compare(lambda: v1.image.resize_bilinear(_x(x.shape, tf.uint8), (7, 3), name="y"),
                        {"x": x}, "ResizeBilinear", "RESIZE_BILINEAR", rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("flags", FLAGS, ids=str)
@pytest.mark.parametrize("size", [(10, 7), (3, 2), (15, 18)], ids=str)
def test_tf_resize_nearest_neighbor(flags, size):
    x = normal(2, 5, 6, 2)
    convert_and_compare(lambda: v1.image.resize_nearest_neighbor(_x(x.shape), size, name="y", **flags),
                        {"x": x}, "ResizeNearestNeighbor", "RESIZE_NEAREST_NEIGHBOR")


def test_tf_depth_to_space():
    x = normal(2, 3, 2, 12)
    convert_and_compare(lambda: tf.nn.depth_to_space(_x(x.shape), 2, name="y"), {"x": x},
                        "DepthToSpace", "DEPTH_TO_SPACE")


def test_tf_space_to_depth():
    x = normal(2, 6, 9, 2)
    convert_and_compare(lambda: tf.nn.space_to_depth(_x(x.shape), 3, name="y"), {"x": x},
                        "SpaceToDepth", "SPACE_TO_DEPTH")


# (output NHWC, filter HWOI, strides, padding)
DECONVS = [((1, 8, 8, 3), (3, 3, 3, 2), (2, 2), "SAME"), ((2, 7, 9, 2), (3, 2, 2, 3), (2, 3), "SAME"),
           ((1, 9, 9, 4), (3, 3, 4, 2), (2, 2), "VALID"), ((1, 6, 5, 2), (1, 1, 2, 3), (1, 1), "VALID"),
           ((1, 10, 10, 1), (4, 4, 1, 2), (3, 3), "VALID"),
           ((1, 5, 5, 2), (2, 2, 2, 1), (1, 1), "SAME")]


@pytest.mark.parametrize("out_shape,filter_shape,strides,padding", DECONVS, ids=str)
def test_tf_conv2d_transpose(out_shape, filter_shape, strides, padding):
    kh, kw, _, ci = filter_shape
    h, w = (forward_size(out_shape[1 + i], (kh, kw)[i], strides[i], padding) for i in range(2))
    x, filt = normal(out_shape[0], h, w, ci), normal(*filter_shape)

    def build():
        return tf.nn.conv2d_transpose(_x(x.shape), tf.constant(filt), out_shape, strides, padding,
                                      name="y")
    result = convert_and_compare(build, {"x": x}, "Conv2DBackpropInput", "TRANSPOSE_CONV",
                                 rtol=1e-4, atol=1e-5)
    # The filter transpose is folded into an OHWI constant, not left for the runtime.
    assert [op.type for op in result.graph.ops] == ["TRANSPOSE_CONV"]


def test_tf_conv2d_transpose_explicit_padding_is_refused():
    def build():
        return tf.nn.conv2d_transpose(_x((1, 4, 4, 2)), tf.constant(normal(3, 3, 1, 2)), (1, 6, 6, 1),
                                      1, [[0, 0], [1, 1], [1, 1], [0, 0]], name="y")
    pb, _ = freeze(lambda: {"y": build()}, ["y"])
    with pytest.raises(ConversionError, match="no EXPLICIT padding"):
        api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"])
