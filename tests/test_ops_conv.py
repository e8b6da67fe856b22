"""Convolution, pooling and matrix-product kernels and shape inference against LiteRT's
reference kernels, over the options each op has."""
import itertools

import numpy as np
import pytest

from tests.support.kernel_check import (
    compare_with_litert,
    float_disagreement,
    forward_size,
    one_op_graph,
    window,
)
from toco_py.errors import ConversionError

RNG = np.random.default_rng(11)


pytestmark = pytest.mark.usefixtures("repeatable_draws")  # conftest: RNG reseeded per test


# Every fused activation: LiteRT clamps to the RELU ranges and leaves TANH and SIGN_BIT
# without effect, and our kernels must do the same.
ACTIVATIONS = ["NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"]
# FULLY_CONNECTED refuses the last two (tested below).
FC_ACTIVATIONS = ACTIVATIONS[:4]


def sums(op_type, inputs, attrs=None, const=None) -> str:
    """float_disagreement for ops that sum many products. LiteRT accumulates in float32,
    so an output near zero that cancels terms of magnitude ~10 carries ~1e-6 of rounding
    noise: the absolute tolerance is 1e-5, a millionth of these outputs' range."""
    return float_disagreement(op_type, inputs, attrs, const=const, atol=1e-5)


def normal(*shape):
    return RNG.normal(size=shape).astype(np.float32)


# ---- CONV_2D ---------------------------------------------------------------------------

# (input NHWC, filter OHWI): odd sizes, 1x1 filters, filters larger than the stride; every
# filter, dilated, fits its input, so VALID always has an output.
CONV_SHAPES = [((1, 7, 9, 3), (4, 3, 3, 3)), ((2, 8, 6, 2), (3, 1, 1, 2)),
               ((1, 11, 10, 1), (2, 5, 4, 1)), ((3, 5, 5, 4), (5, 2, 3, 4))]
STRIDES = [(1, 1), (2, 2), (3, 3), (1, 2), (3, 1)]
DILATIONS = [(1, 1), (2, 2), (1, 2)]


@pytest.mark.parametrize("shapes", CONV_SHAPES, ids=str)
@pytest.mark.parametrize("stride", STRIDES, ids=str)
@pytest.mark.parametrize("dilation", DILATIONS, ids=str)
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_conv2d_geometry(shapes, stride, dilation, padding):
    x_shape, w_shape = shapes
    x, w, b = normal(*x_shape), normal(*w_shape), normal(w_shape[0])
    assert not sums("CONV_2D", [x, w, b], window(padding, stride, dilation), const={1, 2})


# No bias-less case: LiteRT's float CONV_2D refuses to prepare without a bias tensor
# (conv.cc: "has_bias was not true"), which is why a pass gives every conv a zero bias.
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_conv2d_activation(activation):
    inputs = [normal(2, 6, 5, 3) * 2, normal(4, 3, 3, 3), normal(4)]
    assert not sums("CONV_2D", inputs, window("SAME", (2, 1), (1, 1), activation), const={1, 2})


def test_conv2d_runtime_filter():
    """The filter as a runtime input, not a constant buffer."""
    assert not sums("CONV_2D", [normal(1, 5, 5, 2), normal(3, 2, 2, 2), normal(3)],
                    window("VALID", (1, 1), (1, 1)))


# ---- DEPTHWISE_CONV_2D -------------------------------------------------------------------

# (input NHWC, filter height, filter width), every dilated filter within its input
DEPTHWISE_SHAPES = [((1, 7, 9, 3), 3, 3), ((2, 6, 5, 2), 1, 1), ((1, 10, 11, 1), 4, 5),
                    ((2, 5, 6, 4), 2, 3)]


def depthwise(x_shape, kh, kw, multiplier, attrs, with_bias=True) -> str:
    channels = x_shape[3] * multiplier
    inputs = [normal(*x_shape), normal(1, kh, kw, channels)] + ([normal(channels)] if with_bias else [])
    attrs = attrs | {"depth_multiplier": multiplier}
    return sums("DEPTHWISE_CONV_2D", inputs, attrs, const={1, 2})


@pytest.mark.parametrize("shapes", DEPTHWISE_SHAPES, ids=str)
@pytest.mark.parametrize("stride", STRIDES, ids=str)
@pytest.mark.parametrize("dilation", DILATIONS, ids=str)
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("multiplier", [1, 2, 3])
def test_depthwise_geometry(shapes, stride, dilation, padding, multiplier):
    x_shape, kh, kw = shapes
    assert not depthwise(x_shape, kh, kw, multiplier, window(padding, stride, dilation))


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("with_bias", [True, False])
def test_depthwise_activation_and_bias(activation, with_bias):
    assert not depthwise((2, 6, 7, 3), 3, 3, 2, window("SAME", (1, 2), (1, 1), activation), with_bias)


# ---- FULLY_CONNECTED ---------------------------------------------------------------------

@pytest.mark.parametrize("x_shape", [(3, 8), (2, 3, 8), (2, 2, 3, 8), (1, 8)], ids=str)
@pytest.mark.parametrize("keep_num_dims", [False, True])
@pytest.mark.parametrize("with_bias", [True, False])
def test_fully_connected_shapes(x_shape, keep_num_dims, with_bias):
    w, b = normal(5, 8), normal(5) if with_bias else None
    assert not sums("FULLY_CONNECTED", [normal(*x_shape), w, b], {"keep_num_dims": keep_num_dims}, const={1, 2})


def test_fully_connected_flattens_a_rank4_input():
    """keep_num_dims false: every input element counts, the rows are total / in."""
    assert not sums("FULLY_CONNECTED", [normal(2, 3, 2, 4), normal(6, 8), normal(6)], {"keep_num_dims": False},
                    const={1, 2})


@pytest.mark.parametrize("activation", FC_ACTIVATIONS)
def test_fully_connected_activation(activation):
    assert not sums("FULLY_CONNECTED", [normal(4, 6) * 2, normal(3, 6), normal(3)],
                    {"fused_activation_function": activation}, const={1, 2})


@pytest.mark.parametrize("activation", ["TANH", "SIGN_BIT"])
def test_fully_connected_refuses_what_litert_rejects(activation):
    """LiteRT's FULLY_CONNECTED fails to prepare with these; we say so at conversion."""
    with pytest.raises(ConversionError, match=f"cannot fuse {activation}"):
        one_op_graph("FULLY_CONNECTED", [normal(4, 6), normal(3, 6), normal(3)],
                     {"fused_activation_function": activation}, const={1, 2})


def test_fully_connected_runtime_weights():
    assert not sums("FULLY_CONNECTED", [normal(4, 6), normal(3, 6), normal(3)])


# ---- BATCH_MATMUL ------------------------------------------------------------------------

# (lhs, rhs) shapes before adjoints: broadcasting batches of different ranks
MATMUL_SHAPES = [((3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)),
                 ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (1, 3, 4, 5)), ((1, 2, 3, 4), (2, 1, 4, 2)),
                 ((2, 1, 2, 3, 4), (3, 1, 4, 1))]


def adjoint(shape, flag):
    return shape[:-2] + (shape[-1], shape[-2]) if flag else shape


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("adj_x,adj_y", list(itertools.product([False, True], repeat=2)))
def test_batch_matmul(shapes, adj_x, adj_y):
    a, b = normal(*adjoint(shapes[0], adj_x)), normal(*adjoint(shapes[1], adj_y))
    assert not sums("BATCH_MATMUL", [a, b], {"adj_x": adj_x, "adj_y": adj_y})


def test_batch_matmul_constant_rhs():
    assert not sums("BATCH_MATMUL", [normal(2, 3, 4), normal(4, 6)], {}, const={1})


# ---- MAX_POOL_2D / AVERAGE_POOL_2D ---------------------------------------------------------

POOL_CASES = [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((3, 3), (1, 1)), ((2, 3), (3, 2)),
              ((1, 1), (2, 2)), ((5, 4), (1, 3)), ((4, 4), (4, 4))]


@pytest.mark.parametrize("op_type", ["MAX_POOL_2D", "AVERAGE_POOL_2D"])
@pytest.mark.parametrize("filt,stride", POOL_CASES, ids=str)
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("x_shape", [(1, 7, 9, 3), (2, 8, 5, 1)], ids=str)
def test_pool_geometry(op_type, filt, stride, padding, x_shape):
    attrs = {"filter_height": filt[0], "filter_width": filt[1], "stride_h": stride[0],
             "stride_w": stride[1], "padding": padding}
    compare_with_litert(op_type, [normal(*x_shape)], attrs)


@pytest.mark.parametrize("op_type", ["MAX_POOL_2D", "AVERAGE_POOL_2D"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_pool_activation(op_type, activation):
    attrs = {"filter_height": 3, "filter_width": 3, "stride_h": 2, "stride_w": 2,
             "padding": "SAME", "fused_activation_function": activation}
    compare_with_litert(op_type, [normal(1, 6, 7, 2) * 3], attrs)


def test_max_pool_all_negative_same_padding():
    """Padding must never win the maximum, even when every real value is negative."""
    attrs = {"filter_height": 3, "filter_width": 3, "stride_h": 2, "stride_w": 2, "padding": "SAME"}
    compare_with_litert("MAX_POOL_2D", [-np.abs(normal(1, 4, 4, 2)) - 1], attrs)


# ---- TRANSPOSE_CONV ------------------------------------------------------------------------

# (output NHWC, filter height, filter width, input channels): output sizes that the
# stride does not divide leave rows only the crop (or the zero canvas) covers.
TRANSPOSE_SHAPES = [((1, 8, 8, 3), 3, 3, 2), ((2, 7, 9, 2), 3, 2, 3), ((1, 5, 6, 4), 1, 1, 2),
                    ((1, 10, 9, 1), 4, 5, 3), ((2, 6, 6, 2), 2, 2, 1)]


def transpose_conv(out_shape, kh, kw, ci, stride, padding, activation="NONE", with_bias=True) -> str:
    n, oh, ow, oc = out_shape
    h, w = forward_size(oh, kh, stride[0], padding), forward_size(ow, kw, stride[1], padding)
    inputs = [np.array(out_shape, np.int32), normal(oc, kh, kw, ci), normal(n, h, w, ci)]
    inputs += [normal(oc)] if with_bias else []
    attrs = {"stride_h": stride[0], "stride_w": stride[1], "padding": padding,
             "fused_activation_function": activation}
    return sums("TRANSPOSE_CONV", inputs, attrs, const={0, 1, 3})


@pytest.mark.parametrize("shapes", TRANSPOSE_SHAPES, ids=str)
@pytest.mark.parametrize("stride", [(1, 1), (2, 2), (3, 3), (2, 1)], ids=str)
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_transpose_conv_geometry(shapes, stride, padding):
    out_shape, kh, kw, ci = shapes
    assert not transpose_conv(out_shape, kh, kw, ci, stride, padding)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("with_bias", [True, False])
def test_transpose_conv_activation_and_bias(activation, with_bias):
    assert not transpose_conv((2, 7, 8, 3), 3, 3, 2, (2, 2), "SAME", activation, with_bias)
