"""Reductions, ops that rearrange data, padding, casts and ops that make tensors: our kernels
and shape inference against LiteRT's reference kernels."""
import itertools

import numpy as np
import pytest

from tests.support.kernel_check import compare_with_litert, one_op_graph
from toco_py.errors import ConversionError

RNG = np.random.default_rng(7)


pytestmark = pytest.mark.usefixtures("repeatable_draws")  # conftest: RNG reseeded per test


X2345 = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)


def i32(*values):
    return np.array(values, np.int32)


def normal(*shape):
    return RNG.normal(size=shape).astype(np.float32)


# ---- reductions ---------------------------------------------------------------------------

REDUCERS = ["MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"]
AXES = [[0], [1], [3], [-1], [-3], [1, 2], [0, 3], [-1, 1], [0, 1, 2, 3], [2, -2], []]


@pytest.mark.parametrize("op_type", REDUCERS)
@pytest.mark.parametrize("axes", AXES, ids=str)
@pytest.mark.parametrize("keep_dims", [False, True])
def test_reduce_axes(op_type, axes, keep_dims):
    # Values near 1 so that products over many elements stay within float32's comfort.
    x = X2345 * 0.3 + 1 if op_type == "REDUCE_PROD" else X2345
    compare_with_litert(op_type, [x, i32(*axes)], {"keep_dims": keep_dims}, const={1})


@pytest.mark.parametrize("op_type", REDUCERS)
def test_reduce_scalar_axis(op_type):
    compare_with_litert(op_type, [X2345, np.int32(-2)], {"keep_dims": False}, const={1})


@pytest.mark.parametrize("op_type", ["SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"])
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_reduce_integers(op_type, dtype):
    x = RNG.integers(-4, 5, (3, 4, 2)).astype(dtype)
    compare_with_litert(op_type, [x, i32(0, 2)], {"keep_dims": False}, const={1})


def test_mean_int32_truncates():
    x = RNG.integers(-50, 50, (4, 6)).astype(np.int32)
    compare_with_litert("MEAN", [x, i32(1)], {"keep_dims": True}, const={1})


@pytest.mark.parametrize("op_type", ["REDUCE_ANY", "REDUCE_ALL"])
@pytest.mark.parametrize("axes", [[0], [1, 2], [-1]], ids=str)
def test_reduce_logical(op_type, axes):
    x = RNG.random((3, 4, 2)) < 0.7
    compare_with_litert(op_type, [x, i32(*axes)], {"keep_dims": False}, const={1})


@pytest.mark.parametrize("op_type", ["ARG_MAX", "ARG_MIN"])
@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -4])
@pytest.mark.parametrize("output_type", ["int32", "int64"])
def test_arg_max_min(op_type, axis, output_type):
    compare_with_litert(op_type, [X2345, i32(axis)], {"output_type": output_type}, const={1})


@pytest.mark.parametrize("op_type", ["ARG_MAX", "ARG_MIN"])
def test_arg_max_min_ties_pick_the_first(op_type):
    x = RNG.integers(0, 3, (5, 6)).astype(np.int32)
    compare_with_litert(op_type, [x, i32(1)], {"output_type": "int32"}, const={1})


# ---- concatenation, pack, unpack, split ------------------------------------------------------

@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -2, -4])
def test_concatenation(axis):
    parts = []
    for size in (1, 3, 2):
        shape = list(X2345.shape)
        shape[axis] = size
        parts.append(normal(*shape))
    compare_with_litert("CONCATENATION", parts, {"axis": axis})


def test_concatenation_rank5():
    compare_with_litert("CONCATENATION", [normal(2, 1, 3, 2, 2), normal(2, 2, 3, 2, 2)], {"axis": 1})


@pytest.mark.parametrize("activation", ["RELU", "RELU6"])
def test_concatenation_refuses_an_activation(activation):
    """LiteRT's CONCATENATION fails to prepare with a fused activation: we say so first."""
    attrs = {"axis": 1, "fused_activation_function": activation}
    with pytest.raises(ConversionError, match="fused activation"):
        one_op_graph("CONCATENATION", [normal(2, 3), normal(2, 3)], attrs)


def test_concatenation_integers_and_constants():
    a, b = i32(*range(6)).reshape(2, 3), i32(*range(4)).reshape(2, 2)
    compare_with_litert("CONCATENATION", [a, b, a], {"axis": -1}, const={1})


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
@pytest.mark.parametrize("count", [1, 3])
def test_pack(axis, count):
    xs = [normal(3, 4) for _ in range(count)]
    # LiteRT checks values_count against the number of inputs.
    compare_with_litert("PACK", xs, {"axis": axis, "values_count": count})


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -4])
def test_unpack(axis):
    num = X2345.shape[axis]
    compare_with_litert("UNPACK", [X2345], {"axis": axis, "num": num}, n_outputs=num)


@pytest.mark.parametrize("axis,num", [(0, 2), (1, 3), (2, 2), (2, 4), (-1, 5), (-3, 1)])
def test_split(axis, num):
    compare_with_litert("SPLIT", [i32(axis), X2345], {"num_splits": num}, n_outputs=num, const={0})


@pytest.mark.parametrize("axis,sizes", [(1, [1, 2]), (2, [2, -1, 1]), (-1, [0, 5]), (3, [1, 1, 3]),
                                        (0, [-1]), (-2, [3, 1])])
def test_split_v(axis, sizes):
    compare_with_litert("SPLIT_V", [X2345, i32(*sizes), i32(axis)], {"num_splits": len(sizes)},
                        n_outputs=len(sizes), const={1, 2})


# ---- reshape, squeeze, expand_dims, transpose ---------------------------------------------

@pytest.mark.parametrize("target", [[6, 20], [-1], [2, -1, 5], [120], [1, 2, 3, 4, 5, 1], [4, 30]],
                         ids=str)
def test_reshape_shape_input(target):
    compare_with_litert("RESHAPE", [X2345, i32(*target)], const={1})


def test_reshape_new_shape_attr():
    """The target as the options' new_shape alone, without a shape tensor."""
    compare_with_litert("RESHAPE", [X2345], {"new_shape": [4, -1, 3]})


@pytest.mark.parametrize("shape,dims", [((1, 3, 1, 4), [0]), ((1, 3, 1, 4), [2, 0]),
                                        ((1, 3, 1, 4), [-2]), ((1, 3, 1, 4), []),
                                        ((2, 1, 1), [-1, 1]), ((1,), [0])], ids=str)
def test_squeeze(shape, dims):
    compare_with_litert("SQUEEZE", [normal(*shape)], {"squeeze_dims": dims})


@pytest.mark.parametrize("axis", [0, 1, 4, -1, -2, -5])
@pytest.mark.parametrize("axis_type", ["int32", "int64"])
def test_expand_dims(axis, axis_type):
    compare_with_litert("EXPAND_DIMS", [X2345, np.array([axis], axis_type)], const={1})


TRANSPOSES = [((4, 5), (1, 0)), ((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (0, 2, 1)),
              ((2, 3, 4, 5), (3, 0, 1, 2)), ((2, 3, 4, 5), (1, 2, 3, 0)), ((2, 3, 4, 5), (0, 3, 2, 1)),
              ((2, 3, 1, 2, 3), (4, 2, 0, 3, 1)), ((1, 2, 1, 3, 2, 2), (5, 4, 3, 2, 1, 0)), ((7,), (0,))]


@pytest.mark.parametrize("shape,perm", TRANSPOSES, ids=str)
def test_transpose(shape, perm):
    compare_with_litert("TRANSPOSE", [normal(*shape), i32(*perm)], const={1})


def test_transpose_integers():
    x = RNG.integers(-9, 9, (2, 3, 4)).astype(np.int8)
    compare_with_litert("TRANSPOSE", [x, i32(1, 2, 0)], const={1})


# ---- padding -------------------------------------------------------------------------------

PADDINGS = [[[0, 0], [1, 2], [2, 0], [0, 0]], [[1, 1], [0, 0], [0, 0], [2, 1]],
            [[0, 1], [2, 2], [1, 3], [0, 2]], [[0, 0]] * 4]


@pytest.mark.parametrize("paddings", PADDINGS, ids=str)
@pytest.mark.parametrize("pad_type", ["int32", "int64"])
def test_pad(paddings, pad_type):
    compare_with_litert("PAD", [X2345, np.array(paddings, pad_type)], const={1})


@pytest.mark.parametrize("paddings", PADDINGS[:3], ids=str)
def test_padv2(paddings):
    compare_with_litert("PADV2", [X2345, i32(*paddings), np.float32(-2.5)], const={1, 2})


def test_pad_low_rank_integers():
    compare_with_litert("PAD", [i32(1, 2, 3), i32([2, 1])], const={1})


@pytest.mark.parametrize("mode", ["REFLECT", "SYMMETRIC"])
@pytest.mark.parametrize("paddings", [[[0, 0], [1, 2], [2, 1], [0, 0]], [[1, 1], [2, 0], [0, 3], [4, 4]],
                                      [[0, 1], [0, 0], [3, 0], [1, 0]]], ids=str)
def test_mirror_pad(mode, paddings):
    # SYMMETRIC may pad by up to the axis size, REFLECT by one less.
    compare_with_litert("MIRROR_PAD", [X2345, i32(*paddings)], {"mode": mode}, const={1})


# ---- casts, shapes and generators -----------------------------------------------------------

CASTS = [("float32", "int32"), ("float32", "int64"), ("int32", "float32"), ("int64", "float32"),
         ("float32", "bool"), ("bool", "float32"), ("int32", "bool"), ("bool", "int32"),
         ("int32", "int64"), ("int64", "int32"), ("uint8", "float32"), ("int8", "int32"),
         ("float32", "float16"), ("float16", "float32"), ("int16", "int32")]


def cast_input(dtype):
    values = np.float32([-2.7, -1.5, -0.5, -0.0, 0.0, 0.3, 0.5, 1.0, 1.9, 2.5, 100.2, -77.7])
    if dtype == "bool":
        return values > 0
    if dtype == "uint8":
        return np.abs(values).astype(np.uint8)
    return values.astype(dtype)


@pytest.mark.parametrize("src,dst", CASTS)
def test_cast(src, dst):
    compare_with_litert("CAST", [cast_input(src).reshape(3, 4)],
                        {"in_data_type": src, "out_data_type": dst})


# Not of a scalar: its shape has no elements and LiteRT's Python binding cannot read back
# a zero-element output ("Invalid tensor size").
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (7,), (1, 1)], ids=str)
@pytest.mark.parametrize("out_type", ["int32", "int64"])
def test_shape(shape, out_type):
    compare_with_litert("SHAPE", [normal(*shape)], {"out_type": out_type})


RANGES = [(0, 10, 1), (3, 18, 4), (10, 2, -3), (-5, 5, 2), (4, 5, 7), (0.5, 3.2, 0.7),
          (2.0, -1.0, -0.25), (-1.5, 0.0, 0.5)]


@pytest.mark.parametrize("start,limit,delta", RANGES, ids=str)
def test_range(start, limit, delta):
    dtype = np.float32 if isinstance(start, float) else np.int32
    bounds = [np.array(v, dtype) for v in (start, limit, delta)]
    compare_with_litert("RANGE", bounds, const={0, 1, 2})


def test_range_int64():
    bounds = [np.array(v, np.int64) for v in (-7, 20, 3)]
    compare_with_litert("RANGE", bounds, const={0, 1, 2})


@pytest.mark.parametrize("dims,value", [([2, 3], np.float32(1.5)), ([4], np.int32(-3)),
                                        ([2, 1, 3], np.int64(9)), ([3, 2], np.bool_(True))], ids=str)
def test_fill(dims, value):
    compare_with_litert("FILL", [i32(*dims), value], const={0})


def test_fill_int64_dims():
    compare_with_litert("FILL", [np.array([2, 5], np.int64), np.float32(-0.25)], const={0})


@pytest.mark.parametrize("dtype", ["float32", "int32", "int64"])
def test_zeros_like(dtype):
    compare_with_litert("ZEROS_LIKE", [(X2345 * 10).astype(dtype)])


def test_every_axes_subset_of_a_rank3_mean():
    """MEAN over each subset of axes, the way TF graphs spell global and partial pooling."""
    x = normal(3, 4, 5)
    for size in range(1, 4):
        for axes in itertools.combinations(range(3), size):
            compare_with_litert("MEAN", [x, i32(*axes)], {"keep_dims": True}, const={1})
