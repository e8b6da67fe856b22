"""fold_dilated_conv: SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND as one dilated conv,
on TF's own spellings (converted, run by LiteRT against TensorFlow, no more ops than TF's
converter) and on IR graphs where it must keep the values or must not apply."""

import numpy as np
import pytest
import tensorflow as tf

from tests.support.irgraph import build, evaluate, run_passes, types
from tests.support.tf_compare import convert_tf
from toco_py.ir import Tensor
from toco_py.passes import fold_dilated_conv

v1 = tf.compat.v1
pytestmark = pytest.mark.usefixtures("repeatable_draws")  # conftest: RNG reseeded per test
RNG = np.random.default_rng(7)


def normal(*shape):
    return RNG.standard_normal(shape, np.float32)


# ---- TF's spellings end to end -------------------------------------------------------------

@pytest.mark.parametrize("size", [(16, 16), (15, 13)], ids=str)
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("rate", [2, 3])
def test_tf_atrous_conv2d(tmp_path, size, padding, rate):
    """With a bias and a ReLU after it, which then fuse into the conv as well."""
    x, w = normal(1, *size, 3), normal(3, 3, 3, 4)
    def build_tf():
        y = tf.nn.atrous_conv2d(v1.placeholder(tf.float32, x.shape, "x"), w, rate, padding)
        return {"y": tf.nn.relu(tf.nn.bias_add(y, normal(4)), name="y")}
    assert convert_tf(build_tf, {"x": x}, tmp_path, "SpaceToBatchND", float_math=True) == ["CONV_2D"]


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_tf_dilated_depthwise(tmp_path, padding):
    x, w = normal(2, 14, 11, 3), normal(3, 2, 3, 2)
    build_tf = lambda: {"y": tf.identity(v1.nn.depthwise_conv2d(
        v1.placeholder(tf.float32, x.shape, "x"), w, [1, 1, 1, 1], padding, rate=[2, 3]), "y")}
    assert convert_tf(build_tf, {"x": x}, tmp_path, "SpaceToBatchND", float_math=True) == ["DEPTHWISE_CONV_2D"]


def test_tf_shared_space_to_batch_stays(tmp_path):
    """The SpaceToBatchND result is read elsewhere too: nothing folds, the graph still converts."""
    x, w = normal(1, 8, 8, 2), normal(3, 3, 2, 2)
    def build_tf():
        x_in = v1.placeholder(tf.float32, x.shape, "x")
        blocks = tf.space_to_batch_nd(x_in, [2, 2], [[2, 2], [2, 2]])
        conv = tf.nn.conv2d(blocks, w, 1, "VALID")
        return {"y": tf.identity(tf.batch_to_space(conv, [2, 2], [[0, 0], [0, 0]]), "y"),
                "s": tf.identity(blocks, "s")}
    ours = convert_tf(build_tf, {"x": x}, tmp_path, "SpaceToBatchND", float_math=True)
    assert sorted(ours) == ["BATCH_TO_SPACE_ND", "CONV_2D", "SPACE_TO_BATCH_ND"]


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("length", [20, 17])
def test_tf_dilated_conv1d(tmp_path, padding, length):
    """tf.nn.convolution on NWC: SpaceToBatchND, ExpandDims, Conv2D, Squeeze, BatchToSpaceND."""
    x, w = normal(2, length, 3), normal(3, 3, 4)
    build_tf = lambda: {"y": tf.identity(tf.nn.convolution(
        v1.placeholder(tf.float32, x.shape, "x"), w, padding=padding, dilations=[2]), "y")}
    ours = convert_tf(build_tf, {"x": x}, tmp_path, "SpaceToBatchND", float_math=True)
    assert ours == ["RESHAPE", "CONV_2D", "RESHAPE"]


# ---- IR graphs -----------------------------------------------------------------------------

ZERO = [[0, 0], [0, 0]]


def pattern(pads=ZERO, crops=ZERO, block=(2, 2), kernel=(3, 3), conv="CONV_2D", outputs=("y",), x_shape=(1, 8, 8, 2),
            bts_block=None, conv_attrs=None):
    filt = normal(2, *kernel, 2) if conv == "CONV_2D" else normal(1, *kernel, 2)
    attrs = {"padding": "VALID", "stride_h": 1, "stride_w": 1} | (conv_attrs or {})
    if conv == "DEPTHWISE_CONV_2D":
        attrs["depth_multiplier"] = 1
    return build({"x": x_shape},
                 {"block": np.array(block, np.int32), "bts_block": np.array(bts_block or block, np.int32),
                  "pads": np.array(pads, np.int32), "crops": np.array(crops, np.int32), "w": filt},
                 [("SPACE_TO_BATCH_ND", ["x", "block", "pads"], ["s"]),
                  (conv, ["s", "w", ""], ["c"], attrs),
                  ("BATCH_TO_SPACE_ND", ["c", "bts_block", "crops"], ["y"])], list(outputs))


FOLDS = [  # (pads, crops, block, kernel, conv): P - C is VALID's or SAME's padding
    ([[0, 0], [0, 0]], [[0, 0], [0, 0]], (2, 2), (3, 3), "CONV_2D"),
    ([[2, 2], [2, 2]], [[0, 0], [0, 0]], (2, 2), (3, 3), "CONV_2D"),
    ([[2, 4], [3, 4]], [[0, 2], [0, 1]], (2, 3), (3, 3), "CONV_2D"),
    ([[1, 1], [0, 0]], [[1, 1], [0, 0]], (2, 2), (3, 3), "DEPTHWISE_CONV_2D"),
    ([[1, 3], [3, 4]], [[0, 2], [0, 1]], (2, 3), (2, 3), "DEPTHWISE_CONV_2D"),
]


@pytest.mark.parametrize("pads,crops,block,kernel,conv", FOLDS, ids=str)
def test_fold_keeps_values(pads, crops, block, kernel, conv):
    g = pattern(pads, crops, block, kernel, conv)
    feeds = {"x": normal(1, 8, 8, 2)}
    before = evaluate(g, feeds)["y"]
    assert run_passes(g, fold_dilated_conv.PASS)
    assert types(g) == [conv]
    assert (g.ops[0].attrs["dilation_h_factor"], g.ops[0].attrs["dilation_w_factor"]) == block
    np.testing.assert_allclose(evaluate(g, feeds)["y"], before, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", [
    {"pads": [[1, 1], [1, 1]]},  # P - C is neither VALID's nor SAME's padding
    {"pads": [[2, 2], [0, 0]]},  # SAME on one axis, VALID on the other
    {"bts_block": (2, 1)},  # the blocks differ
    {"outputs": ("y", "s")},  # the SPACE_TO_BATCH_ND result is read elsewhere
    {"outputs": ("y", "c")},  # the conv result is read elsewhere
    {"conv_attrs": {"stride_h": 2}},
    {"conv_attrs": {"fused_activation_function": "RELU"}},
], ids=str)
def test_no_fold(case):
    g = pattern(**case)
    assert not run_passes(g, fold_dilated_conv.PASS)
    assert types(g) == ["SPACE_TO_BATCH_ND", "CONV_2D", "BATCH_TO_SPACE_ND"]


def test_no_fold_for_a_computed_block_shape():
    g = pattern()
    g.add_tensor(Tensor("block_in", (2,), "int32"))
    g.inputs.append("block_in")
    g.set_input(g.ops[0], 1, "block_in")
    assert not run_passes(g, fold_dilated_conv.PASS)


def pattern_1d(expand_to, squeeze_to, pads=((2, 2),), crops=((0, 0),)):
    """SPACE_TO_BATCH_ND (3-D) -> RESHAPE -> CONV_2D with a 1x3 filter -> RESHAPE -> BATCH_TO_SPACE_ND."""
    return build({"x": (1, 8, 2)},
                 {"block": np.array([2], np.int32), "pads": np.array(pads, np.int32),
                  "crops": np.array(crops, np.int32), "w": normal(3, 1, 3, 2),
                  "e": np.array(expand_to, np.int32), "q": np.array(squeeze_to, np.int32)},
                 [("SPACE_TO_BATCH_ND", ["x", "block", "pads"], ["s"]),
                  ("RESHAPE", ["s", "e"], ["se"]),
                  ("CONV_2D", ["se", "w", ""], ["c"], {"padding": "VALID", "stride_h": 1, "stride_w": 1}),
                  ("RESHAPE", ["c", "q"], ["cq"]),
                  ("BATCH_TO_SPACE_ND", ["cq", "block", "crops"], ["y"])], ["y"])


def test_fold_1d_keeps_values():
    g = pattern_1d([2, 1, 6, 2], [2, 4, 3])
    feeds = {"x": normal(1, 8, 2)}
    before = evaluate(g, feeds)["y"]
    assert run_passes(g, fold_dilated_conv.PASS)
    assert types(g) == ["RESHAPE", "CONV_2D", "RESHAPE"]
    assert (g.ops[1].attrs["dilation_h_factor"], g.ops[1].attrs["dilation_w_factor"]) == (1, 2)
    np.testing.assert_allclose(evaluate(g, feeds)["y"], before, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("squeeze_to,outputs", [
    ([2, 3, 4], ("y",)),  # a reshape that does not just drop the unit axis
    ([2, 4, 3], ("y", "se")),  # the expanded tensor is read elsewhere
], ids=str)
def test_no_fold_1d(squeeze_to, outputs):
    g = pattern_1d([2, 1, 6, 2], squeeze_to)
    g.outputs = list(outputs)
    assert not run_passes(g, fold_dilated_conv.PASS)
    assert "SPACE_TO_BATCH_ND" in types(g)
