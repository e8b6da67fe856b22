"""Slicing, gathering, tiling and selection: our kernels and shape inference against LiteRT's
reference kernels, and each TF mapper end to end (TensorFlow runs the .pb, LiteRT our .tflite)."""
import numpy as np
import pytest
import tensorflow as tf

from tests.support.kernel_check import compare_with_litert, float_disagreement, one_op_graph
from tests.support.oracle import convert_and_compare
from toco_py.errors import ConversionError
from toco_py.ir import Op, Tensor
from toco_py.ops import REGISTRY

v1 = tf.compat.v1
RNG = np.random.default_rng(3)
X345 = RNG.normal(size=(3, 4, 5)).astype(np.float32)


def i32(*values):
    return np.array(values, np.int32)


def strided(x, begin, end, strides, **masks) -> str:
    """What differs between our STRIDED_SLICE and LiteRT's ("" when nothing)."""
    return float_disagreement("STRIDED_SLICE", [x, i32(*begin), i32(*end), i32(*strides)],
                              masks, const={1, 2, 3})


# ---- STRIDED_SLICE -------------------------------------------------------------------

# (input shape, begin, end, strides, masks)
STRIDED_CASES = [
    ((8,), [1], [7], [2], {}),
    ((8,), [6], [1], [-2], {}),
    ((8,), [-1], [-9], [-1], {}),
    ((8,), [0], [0], [-1], {"begin_mask": 1, "end_mask": 1}),
    ((8,), [5], [2], [1], {}),  # empty
    ((8,), [-20], [20], [1], {}),  # clamped at both ends
    ((8,), [20], [-20], [-1], {}),
    ((8,), [3], [0], [1], {"shrink_axis_mask": 1}),
    ((8,), [3], [0], [1], {"shrink_axis_mask": 1, "begin_mask": 1}),  # LiteRT: mask wins
    ((3, 4, 5), [0, 1], [2, 3], [1, 1], {}),  # trailing axis implicit
    ((3, 4, 5), [2, -1, 4], [0, 0, 0], [-1, -2, -3], {"end_mask": 7}),
    ((3, 4, 5), [0, 3, 0], [0, 1, 0], [1, -1, 2], {"begin_mask": 5, "end_mask": 4}),
    ((3, 4, 5), [1, 0, -1], [2, 0, 0], [1, 1, 1], {"shrink_axis_mask": 5, "end_mask": 2}),
    ((3, 4, 5), [0, 0], [0, 2], [1, 1], {"ellipsis_mask": 1, "shrink_axis_mask": 2}),
    ((3, 4, 5), [1, 0, 1], [2, 0, 3], [1, 1, 1], {"ellipsis_mask": 2}),
    ((3, 4, 5), [-1, 0, 0], [0, 0, 0], [1, 1, -1],
     {"ellipsis_mask": 2, "shrink_axis_mask": 1, "begin_mask": 4, "end_mask": 4}),
    ((3, 4, 5), [0, 0], [0, 0], [1, 1], {"new_axis_mask": 1, "ellipsis_mask": 2}),
    ((3, 4, 5), [0, 0, 0], [0, 0, 0], [1, 1, 1], {"ellipsis_mask": 1, "new_axis_mask": 2}),
    ((3, 4, 5), [0, 0, 1], [0, 0, 3], [1, 1, 1], {"ellipsis_mask": 1, "new_axis_mask": 2}),
    ((3, 4, 5), [1, 0, 0, 0], [2, 0, 0, 0], [1, 1, 1, 1],
     {"shrink_axis_mask": 1, "new_axis_mask": 2, "begin_mask": 12, "end_mask": 12}),
    ((3, 4, 5), [0, 1, 0, 2], [0, 3, 0, 0], [1, 1, 1, -1],
     {"new_axis_mask": 5, "end_mask": 8}),
    ((3, 4, 5), [0, 1], [0, 3], [1, 1], {"ellipsis_mask": 1, "new_axis_mask": 1}),
    ((2, 3, 4, 5), [0, 1, 0, 1], [2, 3, 4, 5], [2, 1, 3, 2], {}),
    ((2, 3, 4, 5, 2), [1, 0, 3, -1, 0], [0, 3, 0, 0, 2], [1, 2, -1, -2, 1],
     {"shrink_axis_mask": 1, "end_mask": 12}),
    ((2, 3, 2, 3, 2, 3), [1, 0], [0, -1], [1, -1], {"ellipsis_mask": 1, "end_mask": 0}),
]


@pytest.mark.parametrize("shape,begin,end,strides,masks", STRIDED_CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[3]}-{c[4]}" for c in STRIDED_CASES])
def test_strided_slice_cases(shape, begin, end, strides, masks):
    x = RNG.normal(size=shape).astype(np.float32)
    assert not strided(x, begin, end, strides, **masks)


def _random_kinds(rng, rank: int) -> list:
    """Spec entries: an input axis (its index), "..." (standing for 1+ axes) or "new"."""
    kinds = list(range(rank))
    if rank > 1 and rng.random() < 0.4:
        at, width = int(rng.integers(0, rank - 1)), int(rng.integers(1, rank))
        kinds[at:at + width] = ["..."]
    elif rng.random() < 0.3:
        kinds = kinds[:int(rng.integers(1, rank + 1))]  # trailing axes left implicit
    for _ in range(int(rng.integers(0, 3))):
        kinds.insert(int(rng.integers(0, len(kinds) + 1)), "new")
    return kinds


def _random_spec(rng, shape):
    begin, end, strides = [], [], []
    masks = dict.fromkeys(["begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                           "shrink_axis_mask"], 0)
    for i, kind in enumerate(_random_kinds(rng, len(shape))):
        size = shape[kind] if isinstance(kind, int) else 4
        strides.append(int(rng.choice([-3, -2, -1, 1, 2, 3])))
        begin.append(int(rng.integers(-size - 2, size + 3)))
        end.append(int(rng.integers(-size - 2, size + 3)))
        masks["begin_mask"] |= int(rng.random() < 0.25) << i
        masks["end_mask"] |= int(rng.random() < 0.25) << i
        masks["ellipsis_mask"] |= (kind == "...") << i
        masks["new_axis_mask"] |= (kind == "new") << i
        if isinstance(kind, int) and strides[-1] > 0 and rng.random() < 0.2:
            begin[-1] = int(rng.integers(-size, size))
            masks["shrink_axis_mask"] |= 1 << i
            masks["begin_mask"] &= ~(1 << i)
    return begin, end, strides, masks


@pytest.mark.parametrize("seed", range(60))
def test_strided_slice_random_specs(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(d) for d in rng.integers(1, 6, rng.integers(1, 5)))
    begin, end, strides, masks = _random_spec(rng, shape)
    assert not strided(rng.integers(-99, 99, shape).astype(np.int32), begin, end, strides, **masks)


@pytest.mark.parametrize("dtype", ["int8", "int64", "bool"])
def test_strided_slice_dtypes(dtype):
    x = (RNG.integers(-5, 5, (4, 6)) > 0) if dtype == "bool" else RNG.integers(-5, 5, (4, 6))
    assert not strided(x.astype(dtype), [3, 1], [0, 6], [-1, 2])


@pytest.mark.parametrize("begin,length,strides", [
    ([0, 1, 2], [3, 2, 2], [1, 1, 1]), ([1, -3, 0], [2, 2, 5], [1, 1, 2]),
    ([2, 3, 4], [-2, -3, -2], [-1, -1, -2])])
def test_strided_slice_offset(begin, length, strides):
    assert not strided(X345, begin, length, strides, offset=True)


def _kernel(op_type, attrs, *arrays):
    return REGISTRY[op_type].kernel(Op(op_type, [], [], attrs, "op"), *arrays)


@pytest.mark.parametrize("shape,begin,end,strides,masks,message", [
    ((4,), [0, 1], [0, 2], [1, 1], {"ellipsis_mask": 1}, "ellipsis covers no axis"),
    ((4,), [4], [5], [1], {"shrink_axis_mask": 1}, "out of range"),
    ((4,), [1], [0], [-1], {"shrink_axis_mask": 1}, "negative stride"),
    ((4,), [0], [4], [0], {}, "stride 0"),
    ((4, 2), [0, 0], [4, 2], [1, 1], {"ellipsis_mask": 3}, "more than one ellipsis"),
    ((4, 2), [0, 0], [4, 3], [1, 1], {"offset": True}, "past the input"),
    ((4, 2), [0], [4], [1], {"offset": True}, "every axis"),
])
def test_strided_slice_refuses_what_litert_gets_wrong(shape, begin, end, strides, masks, message):
    """Specs LiteRT would mis-compute (or reject) fail conversion with a message."""
    inputs = [np.zeros(shape, np.float32), i32(*begin), i32(*end), i32(*strides)]
    with pytest.raises(ConversionError, match=message):
        one_op_graph("STRIDED_SLICE", inputs, masks, const={1, 2, 3})
    with pytest.raises(ConversionError, match=message):
        _kernel("STRIDED_SLICE", masks, *inputs)


@pytest.mark.parametrize("masks,expected", [
    ({"begin_mask": 5, "end_mask": 5, "shrink_axis_mask": 2}, (3, 5)),  # x[:, i, :]
    ({"begin_mask": 5, "end_mask": 5}, (3, -1, 5)),                     # x[:, i:j, :]
    ({"begin_mask": 2, "end_mask": 2, "shrink_axis_mask": 1, "new_axis_mask": 4}, (4, 1, 5)),  # x[i, :, None]
])
def test_strided_slice_shape_with_run_time_bounds(masks, expected):
    """begin and end known at run time only (a loop's counter): the shape rule keeps what
    does not depend on them, and the kernel on any values agrees with it."""
    spec = [Tensor(n, (3,), "int32") for n in ("begin", "end")]
    op = Op("STRIDED_SLICE", ["x", "begin", "end", "strides"], ["y"], masks, "op")
    shape, _ = REGISTRY["STRIDED_SLICE"].infer(op, Tensor("x", X345.shape, "float32"), *spec,
                                              Tensor("strides", (3,), "int32", i32(1, 1, 1)))
    assert shape == expected
    got = _kernel("STRIDED_SLICE", masks, X345, i32(1, 2, 0), i32(2, 4, 0), i32(1, 1, 1))
    assert all(e in (-1, d) for e, d in zip(expected, got.shape)) and len(got.shape) == len(expected)


# ---- SLICE, GATHER, GATHER_ND ---------------------------------------------------------

@pytest.mark.parametrize("begin,size", [
    ([0, 0, 0], [3, 4, 5]), ([1, 2, 3], [2, 1, 2]), ([1, 0, 2], [-1, -1, -1]),
    ([2, 3, 0], [1, -1, 2]), ([0, 1, 4], [-1, 3, 1])])
@pytest.mark.parametrize("index_type", ["int32", "int64"])
def test_slice(begin, size, index_type):
    compare_with_litert("SLICE", [X345, np.array(begin, index_type), np.array(size, index_type)],
                        const={1, 2})


def test_slice_empty():
    compare_with_litert("SLICE", [X345, i32(2, 3, 0), i32(1, -1, 0)], const={1, 2})


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
@pytest.mark.parametrize("indices_shape", [(), (2,), (2, 3)])
@pytest.mark.parametrize("index_type", ["int32", "int64"])
def test_gather_axes(axis, indices_shape, index_type):
    limit = X345.shape[axis]
    indices = RNG.integers(0, limit, indices_shape).astype(index_type)
    compare_with_litert("GATHER", [X345, indices], {"axis": axis, "batch_dims": 0})


@pytest.mark.parametrize("params_shape,indices_shape,axis,batch_dims", [
    ((2, 3, 4, 5), (2, 6), 1, 1), ((2, 3, 4, 5), (2, 3, 2), 2, 2), ((2, 3, 4, 5), (2, 3, 2), 3, 2),
    ((2, 3, 4, 5), (2, 3), -1, 1), ((2, 3, 4, 5), (2, 3, 4), -1, -1), ((2, 3, 4), (2,), 1, 1),
    ((2, 3, 4), (2, 3), 2, -1)])
def test_gather_batch_dims(params_shape, indices_shape, axis, batch_dims):
    params = RNG.integers(-50, 50, params_shape).astype(np.int32)
    indices = RNG.integers(0, params_shape[axis], indices_shape).astype(np.int32)
    compare_with_litert("GATHER", [params, indices], {"axis": axis, "batch_dims": batch_dims})


@pytest.mark.parametrize("indices", [
    [[1], [0], [2]], [[1, 3], [0, 0]], [[2, 1, 4], [0, 3, 0]], [[[0, 1], [2, 2]], [[1, 0], [1, 3]]],
    [2, 3]])
@pytest.mark.parametrize("index_type", ["int32", "int64"])
def test_gather_nd(indices, index_type):
    compare_with_litert("GATHER_ND", [X345, np.array(indices, index_type)])


# ---- TILE, BROADCAST_TO, SELECT, SELECT_V2 -------------------------------------------------

@pytest.mark.parametrize("shape,multiples", [
    ((5,), [3]), ((2, 3), [1, 1]), ((2, 3), [3, 2]), ((1, 3, 1), [4, 1, 2]),
    ((2, 1, 2, 3), [1, 3, 2, 1]), ((2, 3), [0, 2])])
@pytest.mark.parametrize("dtype,multiples_type", [("float32", "int32"), ("int32", "int64"),
                                                  ("int8", "int32")])
def test_tile(shape, multiples, dtype, multiples_type):
    x = RNG.integers(-9, 9, shape).astype(dtype)
    compare_with_litert("TILE", [x, np.array(multiples, multiples_type)], const={1})


@pytest.mark.parametrize("shape,target", [
    ((3, 1), [3, 4]), ((4,), [2, 3, 4]), ((), [2, 2]), ((1, 3, 1), [2, 3, 5]), ((2, 1), [3, 2, 4])])
def test_broadcast_to(shape, target):
    x = RNG.normal(size=shape).astype(np.float32)
    compare_with_litert("BROADCAST_TO", [x, i32(*target)], const={1})


@pytest.mark.parametrize("cond_shape,x_shape,y_shape", [
    ((2, 3), (2, 3), (2, 3)), ((), (2, 3), (2, 3)), ((3,), (2, 3), (2, 3)), ((2, 1), (2, 3), ()),
    ((2, 1, 4), (3, 1), (1, 3, 4)), ((4, 1, 1, 1), (1, 2, 1, 3), (1, 1, 5, 1)),
    ((1,), (5,), (5, 1))])
@pytest.mark.parametrize("dtype", ["float32", "int32", "int8"])
def test_select_v2_broadcasting(cond_shape, x_shape, y_shape, dtype):
    cond = RNG.random(cond_shape) < 0.5
    x, y = (RNG.integers(-9, 9, s).astype(dtype) for s in (x_shape, y_shape))
    compare_with_litert("SELECT_V2", [np.asarray(cond), x, y])


@pytest.mark.parametrize("cond_shape,x_shape", [
    ((3,), (3,)), ((2, 3), (2, 3)), ((4,), (4, 2, 3)), ((2,), (2, 5)), ((), (3, 2))])
def test_select_rank_one_condition(cond_shape, x_shape):
    cond = np.asarray(RNG.random(cond_shape) < 0.5)
    x, y = RNG.normal(size=x_shape).astype(np.float32), RNG.normal(size=x_shape).astype(np.float32)
    compare_with_litert("SELECT", [cond, x, y])


ZEROS_23 = np.zeros((2, 3), np.float32)
REFUSALS = {
    "slice_past_end": (lambda: one_op_graph("SLICE", [X345, i32(0, 0, 3), i32(1, 1, 3)],
                                            const={1, 2}), "does not fit"),
    "gather_past_end": (lambda: _kernel("GATHER", {"axis": 1}, X345, i32(0, 4)), "out of range"),
    "gather_negative": (lambda: _kernel("GATHER", {"axis": 0}, X345, i32(-1)), "out of range"),
    "gather_nd_past_end": (lambda: _kernel("GATHER_ND", {}, X345, i32(0, 4)), "out of range"),
    "broadcast_to": (lambda: one_op_graph("BROADCAST_TO", [ZEROS_23, i32(3, 4)], const={1}),
                     "cannot broadcast"),
    "select_broadcast": (lambda: one_op_graph("SELECT", [np.ones((3,), bool), ZEROS_23, ZEROS_23]),
                         "cannot select"),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_refuses_what_litert_rejects(name):
    """LiteRT fails these at runtime (out-of-range indices) or when preparing; we say why."""
    run, message = REFUSALS[name]
    with pytest.raises(ConversionError, match=message):
        run()


# ---- TF mappers end to end -------------------------------------------------------------

def _x(shape=(3, 4, 5), dtype=tf.float32):
    return v1.placeholder(dtype, shape, name="x")


FEED_X = {"x": X345}
SLICES = {
    "range": lambda x: x[1:, ::-2],
    "shrink_first": lambda x: x[-1],
    "ellipsis_shrink": lambda x: x[..., 2],
    "new_axis": lambda x: x[:, tf.newaxis, 1:3],
    "ellipsis_new_axis": lambda x: x[..., tf.newaxis],
    "shrink_ellipsis_reverse": lambda x: x[0, ..., ::-1],
    "clamped": lambda x: x[-10:10, 1:-1:2, 7:0:-3],
    "int64_indices": lambda x: tf.strided_slice(
        x, tf.constant([0, 1], tf.int64), tf.constant([2, 4], tf.int64), tf.constant([1, 2], tf.int64)),
    "shrink_with_begin_mask": lambda x: tf.strided_slice(x, [1], [2], begin_mask=1, shrink_axis_mask=1),
}


@pytest.mark.parametrize("name", list(SLICES))
def test_tf_strided_slice(name):
    convert_and_compare(lambda: [tf.multiply(SLICES[name](_x()), 1.0, name="y")], FEED_X,
                        ["y"], "StridedSlice", "STRIDED_SLICE")


def test_tf_strided_slice_int64_bounds_computed_from_shapes():
    """int64 bounds that become constant only when shapes fold, after the mapper has run."""
    def build():
        x = _x()
        n = tf.shape(x, out_type=tf.int64)
        sliced = tf.strided_slice(x, tf.stack([n[0] - 2, n[2] - 1]), tf.stack([n[0], n[1]]),
                                  tf.constant([1, -1], tf.int64))
        return [tf.multiply(sliced, 1.0, name="y")]
    convert_and_compare(build, FEED_X, ["y"], "StridedSlice", "STRIDED_SLICE")


def test_tf_strided_slice_zero_width_ellipsis_converts():
    """TF gives the ellipsis no axis; the converted STRIDED_SLICE has it written out (none),
    which LiteRT's kernel takes (legalize_strided_slice)."""
    result = convert_and_compare(lambda: [tf.multiply(_x((5,))[..., 1], 2.0, name="y")],
                                 {"x": X345[0, 0]}, ["y"], "StridedSlice", "STRIDED_SLICE")
    assert [op.attrs["ellipsis_mask"] for op in result.graph.ops if op.type == "STRIDED_SLICE"] == [0]


# TF op -> (build(name) on placeholders, feeds, the IR op that must run in LiteRT; None: the
# output folds to a constant, as TF's converter writes it)
ONE_OP = {
    "Slice": (lambda name: tf.slice(_x(), [1, 0, 2], [-1, 3, -1], name=name), FEED_X, "SLICE"),
    "Gather": (lambda name: tf.raw_ops.Gather(params=_x(), indices=[[2, 1], [0, 0]], name=name),
               FEED_X, "GATHER"),
    "Tile": (lambda name: tf.tile(_x(), tf.constant([2, 1, 3], tf.int64), name=name), FEED_X, "TILE"),
    "Fill": (lambda name: tf.fill([2, 3], v1.placeholder(tf.float32, (), name="v"), name=name),
             {"v": np.array(2.5, np.float32)}, "FILL"),
    "ZerosLike": (lambda name: tf.raw_ops.ZerosLike(x=_x(), name=name), FEED_X, "ZEROS_LIKE"),
    "Rank": (lambda name: tf.raw_ops.Rank(input=_x(), name=name), FEED_X, None),
}


@pytest.mark.parametrize("tf_op", list(ONE_OP))
def test_tf_op_on_placeholders(tf_op):
    build, feeds, survivor = ONE_OP[tf_op]
    convert_and_compare(lambda: [build("y")], feeds, ["y"], tf_op, survivor)


@pytest.mark.parametrize("axis,batch_dims,indices", [
    (0, 0, [2, 0, 2]), (1, 0, [[3, 0], [1, 1]]), (-1, 0, 4), (1, 1, [[0, 3], [1, 1], [2, 0]]),
    (2, 1, [[4], [0], [2]]), (-1, -1, [[1, 4], [0, 0], [3, 3]])])
def test_tf_gather_v2(axis, batch_dims, indices):
    def build():
        i = v1.placeholder(tf.int64, np.shape(indices), name="i")
        return [tf.gather(_x(), i, axis=axis, batch_dims=batch_dims, name="y")]
    convert_and_compare(build, {"x": X345, "i": np.array(indices, np.int64)}, ["y"], "GatherV2", "GATHER")


def test_tf_gather_nd():
    def build():
        i = v1.placeholder(tf.int32, (2, 2), name="i")
        return [tf.gather_nd(_x(), i, name="y")]
    convert_and_compare(build, {"x": X345, "i": i32([2, 3], [0, 1])}, ["y"], "GatherNd", "GATHER_ND")


def test_tf_broadcast_to():
    convert_and_compare(lambda: [tf.broadcast_to(_x((4, 1)), [2, 4, 3], name="y")],
                        {"x": X345[0, :, :1]}, ["y"], "BroadcastTo", "BROADCAST_TO")


@pytest.mark.parametrize("tf_op,cond_shape,survivor", [
    ("Select", (3,), "SELECT"), ("Select", (3, 4, 5), "SELECT"), ("Select", (), "SELECT"),
    ("SelectV2", (4, 1), "SELECT_V2"), ("SelectV2", (3, 1, 5), "SELECT_V2"), ("SelectV2", (), "SELECT_V2")])
def test_tf_select(tf_op, cond_shape, survivor):
    def build():
        c, z = v1.placeholder(tf.bool, cond_shape, name="c"), v1.placeholder(tf.float32, (3, 4, 5), "z")
        return [{"Select": v1.where, "SelectV2": tf.where}[tf_op](c, _x(), z, name="y")]
    feeds = {"c": np.asarray(RNG.random(cond_shape) < 0.5), "x": X345, "z": -X345}
    convert_and_compare(build, feeds, ["y"], tf_op, survivor)


def test_tf_range_folds_to_its_values():
    result = convert_and_compare(lambda: [tf.add(_x((5,)), tf.cast(tf.range(7, -3, -2), tf.float32),
                                                 name="y")],
                                 {"x": X345[0, 0]}, ["y"], "Range")
    assert [op.type for op in result.graph.ops] == ["ADD"]


def test_tf_ones_like_of_a_constant_folds():
    def build():
        return [tf.multiply(_x(), tf.raw_ops.OnesLike(x=tf.constant(X345 + 1)), name="y")]
    result = convert_and_compare(build, FEED_X, ["y"], "OnesLike")
    assert [op.type for op in result.graph.ops] == ["MUL"]


def test_tf_ones_like_of_an_input():
    convert_and_compare(lambda: [tf.raw_ops.OnesLike(x=_x(), name="y")], FEED_X, ["y"], "OnesLike")


def test_tf_size_folds_into_its_consumer():
    def build():
        x = _x()
        return [tf.multiply(x, tf.cast(tf.raw_ops.Size(input=x), tf.float32), name="y")]
    result = convert_and_compare(build, FEED_X, ["y"], "Size")
    assert [op.type for op in result.graph.ops] == ["MUL"]


def test_tf_identity_n():
    def build():
        a, b = tf.identity_n([_x(), v1.placeholder(tf.int32, (2,), name="i")], name="idn")
        return [tf.multiply(a, 2.0, name="y0"), tf.add(b, 1, name="y1")]
    convert_and_compare(build, {"x": X345, "i": i32(4, -1)}, ["y0", "y1"], "IdentityN",
                        "MUL")


def test_tf_shape_n():
    def build():
        return list(tf.shape_n([_x(), v1.placeholder(tf.float32, (2, 7), name="z")], name="s"))
    result = convert_and_compare(build, {"x": X345, "z": np.zeros((2, 7), np.float32)}, ["s", "s:1"],
                                 "ShapeN")
    assert result.graph.ops == []  # static shapes: constant outputs, as TF's converter writes them
