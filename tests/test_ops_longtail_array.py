"""Structural and array ops of issue 13 (TOPK_V2, ONE_HOT, CUMSUM, REVERSE_V2,
LOCAL_RESPONSE_NORMALIZATION, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, UNSORTED_SEGMENT_SUM): our numpy kernels
against LiteRT's reference kernels on one-op models, and the TF mappers end to end
(TensorFlow on the .pb, LiteRT on our .tflite, with no more ops than TF's converter makes)."""

import numpy as np
import pytest
import tensorflow as tf

from tests.support.kernel_check import compare_with_litert, one_op_graph
from tests.support.tf_compare import convert_tf
from toco_py.errors import ConversionError

v1 = tf.compat.v1
pytestmark = pytest.mark.usefixtures("repeatable_draws")  # conftest: RNG reseeded per test
RNG = np.random.default_rng(13)


def normal(*shape):
    return RNG.standard_normal(shape, np.float32)


def i32(*values):
    return np.array(values, np.int32)


# ---- one-op models against LiteRT's kernels ----------------------------------------------

@pytest.mark.parametrize("shape,k", [((7,), 3), ((2, 3, 9), 9), ((4, 5), 1), ((3, 6), 0)], ids=str)
def test_top_k_float(shape, k):
    compare_with_litert("TOPK_V2", [normal(*shape), i32(k)], n_outputs=2, const={1})


@pytest.mark.parametrize("dtype", ["int32", "int8", "uint8", "int64"])
def test_top_k_ties_keep_index_order(dtype):
    """Many equal values, and the type's lowest value, which negation would overflow."""
    x = RNG.integers(-2, 3, (3, 12)).astype(dtype)
    x[0, 5] = np.iinfo(dtype).min
    compare_with_litert("TOPK_V2", [x, i32(12)], n_outputs=2, const={1})


@pytest.mark.parametrize("attrs", [{}, {"exclusive": True}, {"reverse": True},
                                   {"exclusive": True, "reverse": True}], ids=str)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cumsum(attrs, axis):
    compare_with_litert("CUMSUM", [normal(4, 5, 6), i32(axis)], attrs, const={1}, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_cumsum_integers(dtype):
    x = RNG.integers(-50, 50, (3, 7)).astype(dtype)
    compare_with_litert("CUMSUM", [x, i32(1)], {"exclusive": True}, const={1})


@pytest.mark.parametrize("axis", [-1, 0, 1, 2])
@pytest.mark.parametrize("dtype", ["float32", "int32", "int64", "bool"])
def test_one_hot(axis, dtype):
    indices = RNG.integers(-1, 6, (3, 4)).astype(np.int32)  # -1 and 5 are out of range
    on, off = np.array(1, dtype) if dtype == "bool" else np.array(7, dtype), np.array(0, dtype)
    if dtype == "float32":
        on, off = np.float32(0.5), np.float32(-2)
    compare_with_litert("ONE_HOT", [indices, i32(5), on, off], {"axis": axis}, const={1, 2, 3})


@pytest.mark.parametrize("shape,axes", [((5,), [0]), ((3, 4, 5), [1]), ((3, 4, 5), [-1]),
                                        ((2, 3, 4, 5), [0]), ((2, 3, 4, 5), [1, 2])], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "int32", "int8", "bool"])
def test_reverse_v2(shape, axes, dtype):
    x = normal(*shape) if dtype == "float32" else RNG.integers(0, 2 if dtype == "bool" else 99, shape).astype(dtype)
    compare_with_litert("REVERSE_V2", [x, np.array(axes, np.int32)], const={1})


@pytest.mark.parametrize("attrs", [{"radius": 2, "bias": 1.0, "alpha": 0.5, "beta": 0.75},
                                   {"radius": 0, "bias": 2.0, "alpha": 1.0, "beta": 0.5},
                                   {"radius": 5, "bias": 1.0, "alpha": 1e-4, "beta": 0.75}], ids=str)
def test_local_response_normalization(attrs):
    """Against LiteRT's builtin kernel: its reference kernel sums channels [c - radius,
    c + radius) (measured: one channel short of TensorFlow's window and of the builtin
    kernel's, the one LiteRT runs by default)."""
    compare_with_litert("LOCAL_RESPONSE_NORMALIZATION", [normal(2, 3, 4, 9)], attrs, reference=False)


STB_CASES = [((1, 4, 4, 3), [2, 2], [[0, 0], [0, 0]]), ((2, 5, 3, 1), [2, 3], [[1, 0], [0, 0]]),
             ((1, 6, 6, 2), [3, 3], [[2, 1], [1, 2]]), ((3, 5, 2), [3], [[0, 1]])]


@pytest.mark.parametrize("shape,block,pads", STB_CASES, ids=str)
def test_space_to_batch_nd(shape, block, pads):
    compare_with_litert("SPACE_TO_BATCH_ND", [normal(*shape), i32(*block), np.array(pads, np.int32)],
                        const={1, 2})


@pytest.mark.parametrize("shape,block,crops", [((4, 2, 2, 3), [2, 2], [[0, 0], [0, 0]]),
                                               ((6, 3, 1, 1), [2, 3], [[1, 0], [0, 2]]),
                                               ((9, 3, 3, 2), [3, 3], [[2, 1], [1, 2]]),
                                               ((6, 2, 2), [3], [[0, 1]])], ids=str)
def test_batch_to_space_nd(shape, block, crops):
    compare_with_litert("BATCH_TO_SPACE_ND", [normal(*shape), i32(*block), np.array(crops, np.int32)],
                        const={1, 2})


@pytest.mark.parametrize("data_shape,ids_shape", [((6,), (6,)), ((6, 3), (6,)), ((2, 3, 4), (2, 3))], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_unsorted_segment_sum(data_shape, ids_shape, dtype):
    """Unsorted ids, a segment no id names (zeros), and negative ids (skipped)."""
    data = normal(*data_shape) if dtype == "float32" else RNG.integers(-9, 9, data_shape).astype(dtype)
    ids = RNG.integers(-1, 4, ids_shape).astype(np.int32)
    compare_with_litert("UNSORTED_SEGMENT_SUM", [data, ids, i32(5)], const={2}, rtol=0, atol=0)


@pytest.mark.parametrize("op_type,inputs,message", [
    ("SPACE_TO_BATCH_ND", [normal(1, 5, 4, 1), i32(2, 2), np.zeros((2, 2), np.int32)], "not a multiple of 2"),
    ("BATCH_TO_SPACE_ND", [normal(3, 2, 2, 1), i32(2, 2), np.zeros((2, 2), np.int32)], "multiple of the block"),
    ("TOPK_V2", [normal(2, 3), i32(4)], "outside"),
    ("ONE_HOT", [i32(1, 2), i32(3), np.float32(1), np.int32(0)], "differ in type")])
def test_refusals(op_type, inputs, message):
    with pytest.raises(ConversionError, match=message):
        one_op_graph(op_type, inputs, n_outputs=2 if op_type == "TOPK_V2" else 1,
                     const=set(range(1, len(inputs))))


# ---- TF mappers end to end ---------------------------------------------------------------

def _x(shape, dtype=tf.float32, name="x"):
    return v1.placeholder(dtype, shape, name=name)


def test_tf_top_k(tmp_path):
    x = normal(3, 10)
    x[:, 4] = x[:, 7]  # a tie
    def build():
        values, indices = tf.math.top_k(_x(x.shape), k=4)
        return {"v": tf.identity(values, "v"), "i": tf.identity(indices, "i")}
    assert convert_tf(build, {"x": x}, tmp_path, "TopKV2") == ["TOPK_V2"]


@pytest.mark.parametrize("exclusive,reverse", [(False, False), (True, False), (False, True), (True, True)])
def test_tf_cumsum(tmp_path, exclusive, reverse):
    x = normal(4, 6, 5)
    build = lambda: {"y": tf.math.cumsum(_x(x.shape), axis=1, exclusive=exclusive, reverse=reverse, name="y")}
    assert convert_tf(build, {"x": x}, tmp_path, "Cumsum", float_math=True) == ["CUMSUM"]


def test_tf_cumsum_int64_axis(tmp_path):
    x = RNG.integers(-9, 9, (3, 4)).astype(np.int32)
    build = lambda: {"y": tf.math.cumsum(_x(x.shape, tf.int32), axis=tf.constant(-1, tf.int64), name="y")}
    assert convert_tf(build, {"x": x}, tmp_path, "Cumsum") == ["CUMSUM"]


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_tf_one_hot(tmp_path, axis):
    indices = RNG.integers(-1, 6, (2, 5)).astype(np.int32)
    build = lambda: {"y": tf.one_hot(_x(indices.shape, tf.int32, "i"), 5, on_value=2.5, off_value=-1.0,
                                     axis=axis, name="y")}
    assert convert_tf(build, {"i": indices}, tmp_path, "OneHot") == ["ONE_HOT"]


@pytest.mark.parametrize("axes", [[1], [-1], [1, 2]], ids=str)
def test_tf_reverse(tmp_path, axes):
    x = normal(2, 3, 4, 5)
    build = lambda: {"y": tf.reverse(_x(x.shape), axes, name="y")}
    assert convert_tf(build, {"x": x}, tmp_path, "ReverseV2") == ["REVERSE_V2"]


@pytest.mark.parametrize("axes, runs", [([1, 3], 2), ([0, 2, 3], 2), ([3, 0, 1], 2), ([0, 2], 2)], ids=str)
def test_tf_reverse_of_separate_axes_is_one_op_per_run(tmp_path, axes, runs):
    """LiteRT's kernel refuses axes that are not one contiguous run, and so fails on TF's
    converter's single REVERSE_V2."""
    x = normal(2, 3, 4, 5)
    build = lambda: {"y": tf.reverse(_x(x.shape), axes, name="y")}
    assert convert_tf(build, {"x": x}, tmp_path, "ReverseV2", tf_model_runs=False) == ["REVERSE_V2"] * runs


def test_tf_lrn(tmp_path):
    x = normal(1, 4, 4, 12)
    build = lambda: {"y": tf.nn.local_response_normalization(_x(x.shape), depth_radius=3, bias=1.5,
                                                             alpha=0.3, beta=0.75, name="y")}
    assert convert_tf(build, {"x": x}, tmp_path, "LRN", float_math=True) == ["LOCAL_RESPONSE_NORMALIZATION"]


def test_tf_space_batch_round_trip(tmp_path):
    """A lone SpaceToBatchND and BatchToSpaceND (int64 block and paddings, as Python builds them)."""
    x = normal(2, 5, 7, 3)
    def build():
        blocks = tf.space_to_batch_nd(_x(x.shape), tf.constant([2, 3], tf.int64),
                                      tf.constant([[1, 0], [1, 1]], tf.int64))
        return {"s": tf.identity(blocks, "s"),
                "y": tf.identity(tf.batch_to_space(blocks * 2.0, [2, 3], [[0, 1], [2, 0]]), "y")}
    ours = convert_tf(build, {"x": x}, tmp_path, "SpaceToBatchND")
    assert sorted(ours) == ["BATCH_TO_SPACE_ND", "MUL", "SPACE_TO_BATCH_ND"]


@pytest.mark.parametrize("ids_type", [tf.int32, tf.int64])
def test_tf_unsorted_segment_sum(tmp_path, ids_type):
    data = RNG.standard_normal((7, 3), np.float32)
    ids = np.array([3, 0, 3, 1, 0, 3, 2])
    build = lambda: {"y": tf.math.unsorted_segment_sum(_x(data.shape), tf.constant(ids, ids_type), 5, name="y")}
    assert convert_tf(build, {"x": data}, tmp_path, "UnsortedSegmentSum", float_math=True) == ["UNSORTED_SEGMENT_SUM"]


def conv3d_attrs(padding, strides=(1, 1, 1), dilations=(1, 1, 1), act="NONE") -> dict:
    return {"padding": padding, "fused_activation_function": act,
            **{f"stride_{a}": s for a, s in zip("dhw", strides)},
            **{f"dilation_{a}_factor": d for a, d in zip("dhw", dilations)}}


CONV3D_CASES = [  # (input NDHWC, filter DHWIO, attrs)
    ((1, 5, 6, 7, 2), (2, 3, 3, 2, 4), conv3d_attrs("VALID")),
    ((2, 5, 6, 7, 3), (3, 3, 2, 3, 2), conv3d_attrs("SAME", strides=(2, 1, 3))),
    ((1, 7, 7, 7, 1), (2, 2, 3, 1, 3), conv3d_attrs("SAME", dilations=(2, 3, 1), act="RELU6")),
]


@pytest.mark.parametrize("x_shape,w_shape,attrs", CONV3D_CASES, ids=str)
@pytest.mark.parametrize("bias", [False, True])
def test_conv3d(x_shape, w_shape, attrs, bias):
    b = normal(w_shape[4]) if bias else None
    compare_with_litert("CONV_3D", [normal(*x_shape), normal(*w_shape), b], attrs, const={1, 2})


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("strides,dilations", [((1, 1, 1), (1, 1, 1)), ((2, 1, 2), (1, 1, 1)),
                                               ((1, 1, 1), (2, 1, 2))], ids=str)
def test_tf_conv3d(tmp_path, padding, strides, dilations):
    """TF's converter fails on a dilated VALID Conv3D (measured: its shape inference gives
    1x2x6x1x4 where TensorFlow computes 1x2x5x3x4); ours converts it."""
    x, w = normal(1, 6, 7, 5, 2), normal(3, 2, 3, 2, 4)
    build = lambda: {"y": tf.nn.relu(tf.nn.conv3d(_x(x.shape), w, [1, *strides, 1], padding,
                                                  dilations=[1, *dilations, 1]), name="y")}
    tf_converts = padding == "SAME" or dilations == (1, 1, 1)
    assert convert_tf(build, {"x": x}, tmp_path, "Conv3D", float_math=True, tf_converts=tf_converts) == ["CONV_3D"]
