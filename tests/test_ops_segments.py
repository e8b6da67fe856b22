"""Issue 13's segment reductions and their neighbours (SEGMENT_SUM, UNSORTED_SEGMENT_MAX / MIN /
PROD, REVERSE_SEQUENCE, BITCAST; Roll, ApproxTopK, SparseMatMul and _UnaryOpsComposition mapped
onto existing builtins): our numpy kernels against LiteRT's reference kernels on one-op
models, the TF mappers end to end (TensorFlow on the .pb, LiteRT on our .tflite, no more ops
than TF's converter makes), the refusals, and int8 (float fallback where LiteRT has no int8
kernel)."""

import numpy as np
import pytest
import tensorflow as tf

from tests.support.cli import assert_one_line_error, toco
from tests.support.kernel_check import compare_int8_with_litert, compare_with_litert, one_op_graph, quant
from tests.support.oracle import freeze, op_types, run_litert
from tests.support.tf_compare import convert_tf
from tests.test_int8_fallback import convert_ours, mean_error
from tests.test_int8_fallback import convert_tf as convert_tf_int8
from toco_py import api
from toco_py.errors import ConversionError

v1 = tf.compat.v1
pytestmark = pytest.mark.usefixtures("repeatable_draws")  # conftest: RNG reseeded per test
RNG = np.random.default_rng(13)


def draw(dtype, shape, low=-9, high=9):
    """Normal floats, or integers in [low, high)."""
    if dtype == "float32":
        return RNG.standard_normal(shape, np.float32)
    return RNG.integers(low, high, shape).astype(dtype)


def i32(*values):
    return np.array(values, np.int32)


# ---- one-op models against LiteRT's kernels ----------------------------------------------

@pytest.mark.parametrize("data_shape,ids", [((6,), [0, 0, 1, 2, 2, 2]), ((5, 3), [0, 1, 1, 2, 3]),
                                            ((4, 2, 3), [0, 0, 0, 0]), ((1, 3), [0])], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_segment_sum(data_shape, ids, dtype):
    """Against LiteRT's builtin kernel: its reference resolver registers no SEGMENT_SUM."""
    compare_with_litert("SEGMENT_SUM", [draw(dtype, data_shape), i32(*ids)], const={1}, rtol=0, atol=0,
                        reference=False)


@pytest.mark.parametrize("op_type", ["UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_MIN", "UNSORTED_SEGMENT_PROD"])
@pytest.mark.parametrize("data_shape,ids_shape", [((6,), (6,)), ((6, 3), (6,)), ((2, 3, 4), (2, 3))], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_unsorted_segment(op_type, data_shape, ids_shape, dtype):
    """Unsorted ids, a segment no id names (the reduction's identity: lowest, highest, 1) and
    negative ids (skipped)."""
    ids = RNG.integers(-1, 4, ids_shape).astype(np.int32)
    compare_with_litert(op_type, [draw(dtype, data_shape), ids, i32(5)], const={2}, rtol=0, atol=0)


def test_unsorted_segment_prod_wraps_int32():
    """Integer products wrap as LiteRT's do."""
    data = np.array([70000, 70000, -65536, 65536, 3], np.int32)
    compare_with_litert("UNSORTED_SEGMENT_PROD", [data, i32(0, 0, 1, 1, 1), i32(2)], const={2})


@pytest.mark.parametrize("op_type", ["UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_MIN"])
def test_unsorted_segment_extremum_keeps_a_value_against_nan(op_type):
    """std::max / std::min from the identity: a NaN row never replaces the value held."""
    data = np.array([1.0, np.nan, -2.0, np.nan, np.nan], np.float32)
    compare_with_litert(op_type, [data, i32(0, 0, 1, 1, 2), i32(3)], const={2})


@pytest.mark.parametrize("shape,seq_dim,batch_dim", [((3, 5), 1, 0), ((5, 3), 0, 1), ((2, 4, 3, 2), 1, 2),
                                                     ((3, 2, 4), 2, 0)], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "int32", "int64", "uint8", "int16"])
@pytest.mark.parametrize("lengths_type", ["int32", "int64"])
def test_reverse_sequence(shape, seq_dim, batch_dim, dtype, lengths_type):
    """Lengths 0 (kept), the whole axis and in between."""
    lengths = np.resize([0, shape[seq_dim], 2], shape[batch_dim]).astype(lengths_type)
    compare_with_litert("REVERSE_SEQUENCE", [draw(dtype, shape, 0, 99), lengths],
                        {"seq_dim": seq_dim, "batch_dim": batch_dim}, const={1})


@pytest.mark.parametrize("dtype,out_type,shape", [
    ("float32", "int32", (3, 4)), ("float32", "int8", (3, 4)), ("int8", "int32", (2, 4)),
    ("uint8", "float32", (4,)), ("int16", "float16", (2, 3)), ("float64", "int64", (5,)),
    ("int32", "uint16", (2, 3)), ("float32", "uint8", ())], ids=str)
def test_bitcast(dtype, out_type, shape):
    x = draw("float32", shape).astype(dtype) if dtype.startswith("float") else draw(dtype, shape, 0, 100)
    compare_with_litert("BITCAST", [x], {"out_type": out_type}, rtol=0, atol=0)


@pytest.mark.parametrize("op_type,inputs,attrs,message", [
    ("SEGMENT_SUM", [draw("float32", (4,)), i32(0, 2, 2, 3)], {}, "rise by 0 or 1"),
    ("SEGMENT_SUM", [draw("float32", (4,)), i32(1, 1, 2, 3)], {}, "start at 0"),
    ("SEGMENT_SUM", [draw("float32", (4, 2)), np.zeros((4, 1), np.int32)], {}, "one id per row"),
    ("UNSORTED_SEGMENT_MAX", [draw("float32", (4,)), i32(0, 1, 5, 1), i32(3)], {}, "not below num_segments"),
    ("REVERSE_SEQUENCE", [draw("float32", (3, 5)), i32(1, 6, 2)], {"seq_dim": 1, "batch_dim": 0}, "outside"),
    ("REVERSE_SEQUENCE", [draw("float32", (3, 5)), i32(1, 2)], {"seq_dim": 1, "batch_dim": 0}, "one length per batch"),
    ("REVERSE_SEQUENCE", [draw("float32", (3, 5)), i32(1, 2, 3)], {"seq_dim": 1, "batch_dim": 1}, "two different"),
    ("REVERSE_SEQUENCE", [draw("float32", (3, 5)), i32(1, 2, 3)], {"seq_dim": -1, "batch_dim": 0}, "no negative"),
    ("BITCAST", [np.zeros((2, 3), np.int8)], {"out_type": "int32"}, "must end in an axis of 4")],
    ids=lambda v: v if isinstance(v, str) else None)
def test_refusals(op_type, inputs, attrs, message):
    with pytest.raises(ConversionError, match=message):
        one_op_graph(op_type, inputs, attrs, const=set(range(1, len(inputs))))


# ---- TF mappers end to end ---------------------------------------------------------------

def _x(shape, dtype=tf.float32, name="x"):
    return v1.placeholder(dtype, shape, name=name)


@pytest.mark.parametrize("ids_type", [tf.int32, tf.int64])
def test_tf_segment_sum(tmp_path, ids_type):
    data = draw("float32", (7, 3))
    ids = [0, 0, 1, 1, 1, 2, 3]
    build = lambda: {"y": tf.math.segment_sum(_x(data.shape), tf.constant(ids, ids_type), name="y")}
    assert convert_tf(build, {"x": data}, tmp_path, "SegmentSum", float_math=True) == ["SEGMENT_SUM"]


def test_tf_segment_sum_skipping_a_segment(tmp_path):
    """Constant ids with a gap (segment 1 empty, 0 in TensorFlow): LiteRT's SEGMENT_SUM fails on
    them (TF's converter makes one anyway), so they go to UNSORTED_SEGMENT_SUM."""
    data = draw("float32", (5, 2))
    build = lambda: {"y": tf.math.segment_sum(_x(data.shape), [0, 0, 2, 2, 3], name="y")}
    assert convert_tf(build, {"x": data}, tmp_path, "SegmentSum", float_math=True) == ["UNSORTED_SEGMENT_SUM"]


def test_tf_segment_sum_refuses_unsorted_ids():
    graph = tf.Graph()
    with graph.as_default():
        tf.math.segment_sum(_x([3, 2]), [1, 0, 0], name="y")
    with pytest.raises(ConversionError, match=r"\(SegmentSum\): its segment ids must be sorted"):
        api.convert_bytes(graph.as_graph_def().SerializeToString(), input_arrays=["x"], output_arrays=["y"])


@pytest.mark.parametrize("ids", [[0, 0, 1, 2, 2], [0, 1, 1, 1, 1], [0, 1, 2, 3, 4]], ids=str)
def test_tf_segment_sum_computed_ids(tmp_path, ids):
    """Ids known only at run time: the output's first size is the last id + 1, set by the
    runtime (shape signature -1), as in TF's converter's model."""
    data = draw("float32", (5, 2))
    build = lambda: {"y": tf.math.segment_sum(_x(data.shape), _x([5], tf.int32, "i"), name="y")}
    feeds = {"x": data, "i": np.array(ids, np.int32)}
    assert convert_tf(build, feeds, tmp_path, "SegmentSum", float_math=True) == ["SEGMENT_SUM"]


@pytest.mark.parametrize("tf_op", ["UnsortedSegmentMax", "UnsortedSegmentMin", "UnsortedSegmentProd"])
@pytest.mark.parametrize("ids_type", [tf.int32, tf.int64])
def test_tf_unsorted_segment(tmp_path, tf_op, ids_type):
    """Segment 4 is empty: TensorFlow's identity (lowest, highest, 1) is LiteRT's."""
    data = draw("float32", (7, 3))
    ids = [3, 0, 3, 1, 0, 3, 2]
    build = lambda: {"y": getattr(tf.raw_ops, tf_op)(data=_x(data.shape), segment_ids=tf.constant(ids, ids_type),
                                                     num_segments=5, name="y")}
    op_type = "UNSORTED_SEGMENT_" + tf_op.removeprefix("UnsortedSegment").upper()
    # MAX and MIN pick values: exactly TensorFlow's.
    assert convert_tf(build, {"x": data}, tmp_path, tf_op, float_math=tf_op.endswith("Prod")) == [op_type]


@pytest.mark.parametrize("seq_axis,batch_axis", [(1, 0), (0, 1), (2, 0)])
@pytest.mark.parametrize("lengths_type", [tf.int32, tf.int64])
def test_tf_reverse_sequence(tmp_path, seq_axis, batch_axis, lengths_type):
    x = draw("float32", (3, 3, 4))
    build = lambda: {"y": tf.reverse_sequence(_x(x.shape), tf.constant([0, 3, 2], lengths_type), seq_axis=seq_axis,
                                              batch_axis=batch_axis, name="y")}
    assert convert_tf(build, {"x": x}, tmp_path, "ReverseSequence") == ["REVERSE_SEQUENCE"]


@pytest.mark.parametrize("shift,axis,ops", [(2, 1, 1), (-1, 0, 1), ([1, -2], [0, 2], 2), ([3, 2], [1, 1], 0),
                                           ([1, 1], [-1, 2], 1), (7, 0, 1)], ids=str)
def test_tf_roll(tmp_path, shift, axis, ops):
    """One GATHER per axis rolled by other than whole turns (an axis named twice adds its
    shifts: 3 + 2 on an axis of 5 leaves the input as it is)."""
    x = draw("float32", (4, 5, 3))
    build = lambda: {"y": tf.identity(tf.roll(_x(x.shape), shift, axis) * 2.0, name="y")}
    ours = convert_tf(build, {"x": x}, tmp_path, "Roll")
    assert ours.count("GATHER") == ops and len(ours) == ops + 1


def test_tf_roll_needs_constant_shift(tmp_path):
    """A user's one-line error, exit 2."""
    pb, _ = freeze(lambda: {"y": tf.roll(_x([4, 5]), v1.placeholder(tf.int32, [], name="s"), 1, name="y")})
    (tmp_path / "roll.pb").write_bytes(pb)
    proc = toco("convert", "--graph_def_file", str(tmp_path / "roll.pb"), "-o", str(tmp_path / "roll.tflite"),
                "--output_arrays", "y")
    assert_one_line_error(proc, "node 'y' (Roll): its shift must be a constant")


@pytest.mark.parametrize("dtype,to", [(tf.float32, tf.int32), (tf.float32, tf.int8), (tf.int8, tf.int32),
                                      (tf.int32, tf.float32)], ids=str)
def test_tf_bitcast(tmp_path, dtype, to):
    x = draw("float32", (3, 4)) if dtype == tf.float32 else RNG.integers(-99, 99, (3, 4)).astype(dtype.as_numpy_dtype)
    build = lambda: {"y": tf.bitcast(_x(x.shape, dtype), to, name="y")}
    assert convert_tf(build, {"x": x}, tmp_path, "Bitcast") == ["BITCAST"]


def test_tf_bitcast_refuses_bfloat16():
    pb, _ = freeze(lambda: {"y": tf.bitcast(_x([3, 2], tf.int32), tf.bfloat16, name="y")})
    with pytest.raises(ConversionError, match=r"\(Bitcast\): type bfloat16 does not convert"):
        api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"])


def test_tf_approx_top_k(tmp_path):
    x = draw("float32", (2, 3, 16))
    def build():
        values, indices = tf.math.approx_max_k(tf.nn.relu(_x(x.shape)), 4, recall_target=0.9)
        return {"v": tf.identity(values, "v"), "i": tf.identity(indices, "i")}
    assert convert_tf(build, {"x": x}, tmp_path, "ApproxTopK") == ["RELU", "TOPK_V2"]


def test_tf_approx_top_k_last_axis_by_number():
    """reduction_dimension = rank - 1, known only once shapes are (TensorFlow's CPU kernel takes
    -1 only: LiteRT's result is checked against numpy's top k)."""
    x = draw("float32", (2, 3, 16))
    graph = tf.Graph()
    with graph.as_default():
        values, indices = tf.math.approx_max_k(tf.nn.relu(_x(x.shape)), 4, reduction_dimension=2)
        tf.identity(values, "v"), tf.identity(indices, "i")
    result = api.convert_bytes(graph.as_graph_def().SerializeToString(), input_arrays=["x"],
                               output_arrays=["v", "i"])
    got = run_litert(result.model, {"x": x})
    order = np.argsort(-np.maximum(x, 0), axis=-1, kind="stable")[..., :4]
    np.testing.assert_array_equal(got["i"], order)
    np.testing.assert_array_equal(got["v"], np.take_along_axis(np.maximum(x, 0), order, -1))


@pytest.mark.parametrize("build_op,message", [
    (lambda x: tf.math.approx_min_k(x, 4), "is_max_k=False"),
    (lambda x: tf.math.approx_max_k(x, 2, reduction_dimension=0), "reduction_dimension 0 must be the last"),
    (lambda x: tf.math.approx_max_k(tf.nn.relu(x), 2, reduction_dimension=0), "reduction_dimension 0 must be")],
    ids=["min_k", "first_axis", "first_axis_after_an_op"])
def test_tf_approx_top_k_refusals(build_op, message):
    """Graphs TensorFlow's CPU kernel cannot run either (it computes max k along the last axis
    only), so only the GraphDef is built."""
    graph = tf.Graph()
    with graph.as_default():
        tf.identity(build_op(_x([3, 16]))[0], "v")
    with pytest.raises(ConversionError, match=message):
        api.convert_bytes(graph.as_graph_def().SerializeToString(), input_arrays=["x"], output_arrays=["v"])


@pytest.mark.parametrize("transpose_a,transpose_b", [(False, False), (True, False), (False, True), (True, True)])
def test_tf_sparse_matmul(tmp_path, transpose_a, transpose_b):
    a = draw("float32", (4, 3) if transpose_a else (3, 4))
    w = draw("float32", (5, 4) if transpose_b else (4, 5))
    build = lambda: {"y": tf.raw_ops.SparseMatMul(a=_x(a.shape), b=tf.constant(w), transpose_a=transpose_a,
                                                  transpose_b=transpose_b, a_is_sparse=True, name="y")}
    ours = convert_tf(build, {"x": a}, tmp_path, "SparseMatMul", float_math=True)
    assert ours.count("FULLY_CONNECTED") == 1


def unary_composition(x, names: list[str]):
    """A grappler-fused _UnaryOpsComposition node (raw_ops has no wrapper for it)."""
    from tensorflow.core.framework import attr_value_pb2

    attrs = {"T": attr_value_pb2.AttrValue(type=x.dtype.as_datatype_enum),
             "op_names": attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(
                 s=[n.encode() for n in names]))}
    return x.graph.create_op("_UnaryOpsComposition", [x], [x.dtype], name="y", attrs=attrs).outputs[0]


@pytest.mark.parametrize("names,ops", [(["Relu", "Tanh"], ["RELU", "TANH"]),
                                       (["Abs", "Sqrt", "Neg", "Sigmoid"], ["ABS", "SQRT", "NEG", "LOGISTIC"]),
                                       (["Elu"], ["ELU"])], ids=str)
def test_tf_unary_ops_composition(tmp_path, names, ops):
    x = draw("float32", (3, 4))
    build = lambda: {"y": unary_composition(_x(x.shape), names)}
    assert convert_tf(build, {"x": x}, tmp_path, "_UnaryOpsComposition", float_math=True) == ops


def test_tf_unary_ops_composition_names_what_does_not_convert():
    pb, _ = freeze(lambda: {"y": unary_composition(_x([3, 4]), ["Relu", "Acosh"])})
    with pytest.raises(ConversionError, match=r"\(_UnaryOpsComposition\): Acosh does not convert"):
        api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"])


# ---- int8 ----------------------------------------------------------------------------------

def _dense_around(middle):
    """Dense -> middle -> dense on [1, 16] inputs (the float-fallback tests' samples)."""
    rng = np.random.default_rng(3)

    def build():
        x = v1.placeholder(tf.float32, [1, 16], name="x")
        h = middle(tf.matmul(x, tf.constant(rng.standard_normal((16, 32)).astype(np.float32) / 4)))
        w = tf.constant(rng.standard_normal((int(h.shape[-1]), 8)).astype(np.float32) / 4)
        return {"y": tf.identity(tf.matmul(h, w), name="y")}
    return freeze(build)[0]


MIDDLES = {
    # GATHER moves int8 data; TF's SLICE, SLICE, CONCATENATION do too.
    "Roll": (lambda h: tf.roll(h, 5, 1), True),
    "ApproxTopK": (lambda h: tf.math.approx_max_k(h, 8)[0], True),
    # LiteRT's kernels take no int8 here: float between DEQUANTIZE and QUANTIZE, as TF keeps them.
    "UnsortedSegmentMax": (lambda h: tf.reshape(tf.math.unsorted_segment_max(
        tf.reshape(h, [8, 4]), [0, 1, 0, 2, 3, 2, 1, 0], 4), [1, 16]), False),
    "SegmentSum": (lambda h: tf.reshape(tf.math.segment_sum(
        tf.reshape(h, [8, 4]), [0, 0, 1, 1, 2, 2, 3, 3]), [1, 16]), False),
}


@pytest.mark.parametrize("tf_op", sorted(MIDDLES))
def test_int8_as_tf_converts_it(tf_op, tmp_path):
    middle, int8 = MIDDLES[tf_op]
    pb = _dense_around(middle)
    ours, theirs = convert_ours(pb, tmp_path), convert_tf_int8(pb, tmp_path)
    ours_ops, tf_ops = op_types(ours.model), op_types(theirs)
    assert len(ours_ops) <= len(tf_ops), (ours_ops, tf_ops)
    # One DEQUANTIZE gives the float output; a second one feeds the op kept in float.
    dequantizes = 1 if int8 else 2
    assert ours_ops.count("DEQUANTIZE") == dequantizes == tf_ops.count("DEQUANTIZE"), (ours_ops, tf_ops)
    ours_error, tf_error = mean_error(pb, ours.model), mean_error(pb, theirs)
    assert ours_error <= 1.25 * tf_error, (ours_error, tf_error)


def test_int8_reverse_sequence_stays_float(tmp_path):
    """LiteRT's REVERSE_SEQUENCE has no int8 kernel: TF's converter makes an int8 one that LiteRT
    fails to prepare; ours stays in float and runs."""
    pb = _dense_around(lambda h: tf.reshape(tf.reverse_sequence(
        tf.reshape(h, [4, 8]), [8, 3, 0, 5], seq_axis=1, batch_axis=0), [1, 32]))
    ours = convert_ours(pb, tmp_path)
    assert any("REVERSE_SEQUENCE" in n for n in ours.notes), ours.notes
    x = np.random.default_rng(5).standard_normal((1, 16)).astype(np.float32)
    assert run_litert(ours.model, {"x": x})["y"].shape == (1, 8)
    assert mean_error(pb, ours.model) < 0.05


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16"])
def test_int8_top_k_copies_raw_values(dtype):
    """TOPK_V2 (ApproxTopK's and TopKV2's builtin) on quantized data: ties by index, the
    output's params free (LiteRT copies the raw integers)."""
    x = draw(dtype, (3, 12), 0 if dtype == "uint8" else -3, 3)
    x[0, 5] = np.iinfo(dtype).min
    compare_int8_with_litert("TOPK_V2", [x, i32(5)], [quant(0.07, 0 if dtype == "int16" else 3), None],
                             [quant(0.11, 0 if dtype == "int16" else -2), None], const={1}, output_dtype=dtype)
