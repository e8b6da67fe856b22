"""Scatter, diagonal and sparse writes (issue 13): MATRIX_DIAG, MATRIX_SET_DIAG, SCATTER_ND and
SPARSE_TO_DENSE, our float and int8 kernels against LiteRT's reference kernels on one-op
models; and the TF mappers end to end (TensorFlow on the .pb, LiteRT on our .tflite, no more
ops than TF's converter), the compositions included: TensorScatterUpdate, TensorScatterAdd,
InvertPermutation and (Parallel)DynamicStitch."""

import numpy as np
import pytest
import tensorflow as tf

from tests.support.kernel_check import compare_int8_with_litert, compare_with_litert, data, one_op_graph, quant
from tests.support.oracle import freeze, op_types
from tests.support.tf_compare import convert_tf
from tests.test_int8_fallback import convert_ours as int8_ours
from tests.test_int8_fallback import convert_tf as int8_tf
from tests.test_int8_fallback import mean_error
from tests.test_int8_prepare import litert_problems
from tests.test_op_versions import compare_versions
from toco_py import api
from toco_py.errors import ConversionError
from toco_py.interpreter import Interpreter
from toco_py.ops import has_trait
from toco_py.ops.int8.movement import data_inputs

v1 = tf.compat.v1
pytestmark = pytest.mark.usefixtures("repeatable_draws")  # conftest: RNG reseeded per test
RNG = np.random.default_rng(13)
TYPES = ["float32", "int32", "int64", "int8", "uint8"]


def values(dtype, *shape):
    if dtype == "float32":
        return RNG.standard_normal(shape).astype(np.float32)
    return RNG.integers(-9 if dtype != "uint8" else 0, 99, shape).astype(dtype)


def i32(*v):
    return np.array(v, np.int32)


# ---- one-op models against LiteRT's kernels ----------------------------------------------

@pytest.mark.parametrize("shape", [(5,), (2, 4), (2, 3, 1)], ids=str)
@pytest.mark.parametrize("dtype", TYPES + ["int16"])
def test_matrix_diag(shape, dtype):
    compare_with_litert("MATRIX_DIAG", [values(dtype, *shape)], rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 5), (2, 1, 5, 3)], ids=str)
@pytest.mark.parametrize("dtype", TYPES + ["int16"])
def test_matrix_set_diag(shape, dtype):
    """Square and non-square innermost matrices (the diagonal is min(rows, cols) long)."""
    diagonal = values(dtype, *shape[:-2], min(shape[-2:]))
    compare_with_litert("MATRIX_SET_DIAG", [values(dtype, *shape), diagonal], rtol=0, atol=0)


SCATTER_CASES = [  # (indices, updates shape, output shape)
    ([[1], [3]], (2, 3), [5, 3]),
    ([[0, 1], [2, 0], [0, 1]], (3,), [3, 2]),            # a repeated index: the updates add up
    ([[[1], [0]], [[1], [2]]], (2, 2, 4), [3, 4]),       # rows of indices
    ([[0, 1, 1]], (1,), [2, 2, 2]),                      # a full index: one element
]


@pytest.mark.parametrize("indices,updates,shape", SCATTER_CASES, ids=str)
@pytest.mark.parametrize("dtype", TYPES + ["bool"])
def test_scatter_nd(indices, updates, shape, dtype):
    u = RNG.integers(0, 2, updates).astype(bool) if dtype == "bool" else values(dtype, *updates)
    compare_with_litert("SCATTER_ND", [np.array(indices, np.int32), u, np.array(shape, np.int32)],
                        const={0, 2}, rtol=0, atol=0)


def test_scatter_nd_integers_wrap():
    """int8 sums wrap around as LiteRT's WrappingAdd does."""
    compare_with_litert("SCATTER_ND", [i32(1, 1, 0).reshape(3, 1), np.array([100, 100, -128], np.int8), i32(2)],
                        const={0, 2})


SPARSE_CASES = [  # (indices, values shape, output shape)
    (np.array(2, np.int32), (), [5]),                                # one index, scalar value
    (i32(0, 3, 4), (3,), [6]),
    (i32(0, 3, 4), (), [6]),                                         # one value for all
    (np.array([[0, 1], [2, 3], [0, 1]], np.int64), (3,), [3, 4]),    # a repeat keeps the last
    (np.array([[0, 1, 2, 0], [1, 0, 0, 1]], np.int32), (2,), [2, 2, 3, 2]),
]


@pytest.mark.parametrize("indices,values_shape,shape", SPARSE_CASES, ids=str)
@pytest.mark.parametrize("dtype", TYPES)
def test_sparse_to_dense(indices, values_shape, shape, dtype):
    compare_with_litert("SPARSE_TO_DENSE", [indices, np.array(shape, indices.dtype), values(dtype, *values_shape),
                                            values(dtype)], const={0, 1, 3}, rtol=0, atol=0)


@pytest.mark.parametrize("op_type,inputs,const,message", [
    ("MATRIX_DIAG", [np.float32(1)], set(), "rank 1 or more"),
    ("MATRIX_SET_DIAG", [np.zeros((3, 4), np.float32), np.zeros(4, np.float32)], set(), "does not fit"),
    ("SCATTER_ND", [i32(1, 2).reshape(2, 1), np.zeros((2, 4), np.float32), i32(5, 3)], {0, 2}, "do not fit"),
    ("SPARSE_TO_DENSE", [np.zeros((1, 5), np.int32), i32(1, 1, 1, 1, 1), np.float32(1), np.float32(0)],
     {0, 1, 3}, "at most 4 dimensions"),
    ("SPARSE_TO_DENSE", [i32(1), i32(3), np.float32(1), np.int32(0)], {0, 1, 3}, "differ in type")])
def test_refusals(op_type, inputs, const, message):
    with pytest.raises(ConversionError, match=message):
        one_op_graph(op_type, inputs, const=const)


@pytest.mark.parametrize("op_type,inputs,const", [
    ("SCATTER_ND", [i32(4).reshape(1, 1), np.float32([1]), i32(3)], {0, 2}),
    ("SPARSE_TO_DENSE", [i32(-1), i32(3), np.float32(1), np.float32(0)], {0, 1, 3})])
def test_index_out_of_range_fails_as_in_litert(op_type, inputs, const):
    g = one_op_graph(op_type, inputs, const=const)
    with pytest.raises(ConversionError, match="out of range"):
        Interpreter(g).run({n: np.asarray(inputs[int(n[2:])]) for n in g.inputs})


# ---- int8: the raw integers, bit for bit -------------------------------------------------

Q, OTHER_Q = quant(0.07, -9), quant(0.11, 21)


def test_int8_matrix_diag():
    """Off the diagonal the raw integer 0, whatever the zero point (as LiteRT fills)."""
    compare_int8_with_litert("MATRIX_DIAG", [data(RNG, (2, 5))], [Q], [Q])


@pytest.mark.parametrize("diag_q", [Q, OTHER_Q], ids=["same", "other"])
def test_int8_matrix_set_diag(diag_q):
    """Raw copies even when the diagonal's params differ (the quantizer gives them the same)."""
    compare_int8_with_litert("MATRIX_SET_DIAG", [data(RNG, (2, 4, 3)), data(RNG, (2, 3))], [Q, diag_q], [Q])


def test_int8_scatter_nd():
    indices = np.array([[1], [3], [1]], np.int32)
    compare_int8_with_litert("SCATTER_ND", [indices, data(RNG, (3, 4)), i32(5, 4)], [None, Q, None], [Q],
                             const={0, 2})


@pytest.mark.parametrize("index_type", ["int32", "int64"])
@pytest.mark.parametrize("dtype", TYPES)
def test_dynamic_update_slice(dtype, index_type):
    """Start indices clamped so that the update fits, as LiteRT clamps them."""
    for start in ([1, 0, 2], [2, 3, -1]):
        compare_with_litert("DYNAMIC_UPDATE_SLICE", [values(dtype, 3, 4, 5), values(dtype, 2, 2, 3),
                                                     np.array(start, index_type)], rtol=0, atol=0)


@pytest.mark.parametrize("update_q", [Q, OTHER_Q], ids=["same", "other"])
def test_int8_dynamic_update_slice(update_q):
    """Raw copies even when the update's params differ (the quantizer gives them the same)."""
    compare_int8_with_litert("DYNAMIC_UPDATE_SLICE", [data(RNG, (4, 3)), data(RNG, (1, 3)), i32(2, 0)],
                             [Q, update_q, None], [Q])


def test_int8_sparse_to_dense():
    compare_int8_with_litert("SPARSE_TO_DENSE", [i32(0, 4, 2), i32(6), data(RNG, (3,)), np.int8(-9)],
                             [None, None, Q, Q], [Q], const={0, 1, 3})


# ---- TF mappers end to end ---------------------------------------------------------------

def _x(shape, dtype=tf.float32, name="x"):
    return v1.placeholder(dtype, shape, name=name)


def normal(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("tf_op,diag", [
    ("MatrixDiagV3", lambda d: tf.linalg.diag(d)),
    ("MatrixDiag", lambda d: tf.raw_ops.MatrixDiag(diagonal=d)),
    ("MatrixDiagV2", lambda d: tf.raw_ops.MatrixDiagV2(diagonal=d, k=0, num_rows=-1, num_cols=-1,
                                                       padding_value=0.0))],
    ids=lambda v: v if isinstance(v, str) else "")
def test_tf_matrix_diag(tmp_path, tf_op, diag):
    x = normal(2, 3, 4)
    build = lambda: {"y": tf.identity(diag(_x(x.shape)), "y")}
    assert convert_tf(build, {"x": x}, tmp_path, tf_op) == ["MATRIX_DIAG"]


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 5), (2, 5, 3)], ids=str)
def test_tf_matrix_set_diag(tmp_path, shape):
    x, d = normal(*shape), normal(*shape[:-2], min(shape[-2:]))
    build = lambda: {"y": tf.linalg.set_diag(_x(x.shape), _x(d.shape, name="d"), name="y")}
    assert convert_tf(build, {"x": x, "d": d}, tmp_path, "MatrixSetDiagV3") == ["MATRIX_SET_DIAG"]


@pytest.mark.parametrize("op,k", [("MatrixDiagV3", 1), ("MatrixSetDiagV3", [0, 1]), ("MatrixDiagV2", 0)])
def test_tf_other_diagonals_refused(tmp_path, op, k):
    def build():
        if op == "MatrixSetDiagV3":
            y = tf.linalg.set_diag(_x((3, 4)), _x((3, 3), name="d"), k=k)
        elif op == "MatrixDiagV3":
            y = tf.linalg.diag(_x((3,)), k=k)
        else:
            y = tf.raw_ops.MatrixDiagV2(diagonal=_x((3,)), k=k, num_rows=4, num_cols=-1, padding_value=0.0)
        return {"y": tf.identity(y, "y")}
    pb, _ = freeze(build)
    with pytest.raises(ConversionError, match=rf"\({op}\) converts only with constant (k|num_rows)"):
        api.convert_bytes(pb, input_arrays=["x"] + (["d"] if op == "MatrixSetDiagV3" else []), output_arrays=["y"])


@pytest.mark.parametrize("index_type", [tf.int32, tf.int64])
def test_tf_scatter_nd(tmp_path, index_type):
    u = normal(3, 4)
    build = lambda: {"y": tf.scatter_nd(tf.constant([[4], [0], [4]], index_type), _x(u.shape),
                                        tf.constant([6, 4], index_type), name="y")}
    assert convert_tf(build, {"x": u}, tmp_path, "ScatterNd", float_math=True) == ["SCATTER_ND"]


def test_tf_tensor_scatter_update(tmp_path):
    """Constant indices: the mask is a constant; NaN in the tensor stays out of written rows."""
    t, u = normal(5, 3), normal(2, 3)
    t[1, 0] = np.nan
    build = lambda: {"y": tf.tensor_scatter_nd_update(_x(t.shape), [[1], [3]], _x(u.shape, name="u"), name="y")}
    assert convert_tf(build, {"x": t, "u": u}, tmp_path, "TensorScatterUpdate") == ["SCATTER_ND", "SELECT_V2"]


def test_tf_tensor_scatter_update_computed_indices(tmp_path):
    # Shaped so that the random integers of the op-by-op check (0 to 9) index it too.
    t, u, i = normal(10, 10, 3), normal(2, 3), np.array([[3, 1], [0, 0]], np.int32)
    build = lambda: {"y": tf.tensor_scatter_nd_update(_x(t.shape), _x(i.shape, tf.int32, "i"),
                                                      _x(u.shape, name="u"), name="y")}
    ours = convert_tf(build, {"x": t, "i": i, "u": u}, tmp_path, "TensorScatterUpdate")
    assert sorted(ours) == ["SCATTER_ND", "SCATTER_ND", "SELECT_V2"]


@pytest.mark.parametrize("dtype", [tf.float32, tf.int32])
def test_tf_tensor_scatter_add(tmp_path, dtype):
    t, u = normal(5, 3), normal(3, 3)
    if dtype == tf.int32:
        t, u = (RNG.integers(-9, 9, a.shape).astype(np.int32) for a in (t, u))
    build = lambda: {"y": tf.tensor_scatter_nd_add(_x(t.shape, dtype), [[1], [3], [1]], _x(u.shape, dtype, "u"),
                                                   name="y")}
    ours = convert_tf(build, {"x": t, "u": u}, tmp_path, "TensorScatterAdd", float_math=dtype == tf.float32)
    assert ours == ["SCATTER_ND", "ADD"]


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_tf_invert_permutation(tmp_path, dtype):
    p = RNG.permutation(10).astype(dtype.as_numpy_dtype)  # the op-by-op check draws 0 to 9
    build = lambda: {"y": tf.math.invert_permutation(_x(p.shape, dtype, "p"), name="y")}
    cast = ["CAST"] if dtype == tf.int64 else []  # LiteRT's SCATTER_ND takes int32 indices
    assert convert_tf(build, {"p": p}, tmp_path, "InvertPermutation") == cast + ["RESHAPE", "SCATTER_ND"]


def test_tf_invert_permutation_of_a_constant_folds(tmp_path):
    x = normal(5)
    build = lambda: {"y": tf.gather(_x(x.shape), tf.math.invert_permutation([3, 0, 4, 1, 2]), name="y")}
    assert convert_tf(build, {"x": x}, tmp_path, "InvertPermutation") == ["GATHER"]


@pytest.mark.parametrize("op", ["DynamicStitch", "ParallelDynamicStitch"])
def test_tf_dynamic_stitch(tmp_path, op):
    """Vector and matrix indices (the matrix's data become rows by a RESHAPE), a repeated
    index (the last write wins)."""
    a, b = normal(2, 3), normal(2, 2, 3)
    stitch = getattr(tf.raw_ops, op)
    build = lambda: {"y": tf.identity(stitch(indices=[tf.constant([4, 1]), tf.constant([[0, 2], [3, 1]])],
                                             data=[_x(a.shape), _x(b.shape, name="b")]), "y")}
    assert convert_tf(build, {"x": a, "b": b}, tmp_path, op) == ["RESHAPE", "CONCATENATION", "GATHER"]


def test_tf_dynamic_stitch_in_order(tmp_path):
    """Rows already in place: one CONCATENATION (of integers here)."""
    a, b = RNG.integers(0, 9, (2, 3)).astype(np.int32), RNG.integers(0, 9, (1, 3)).astype(np.int32)
    build = lambda: {"y": tf.identity(tf.dynamic_stitch([[0, 1], [2]], [_x(a.shape, tf.int32),
                                                                         _x(b.shape, tf.int32, "b")]), "y")}
    assert convert_tf(build, {"x": a, "b": b}, tmp_path, "DynamicStitch") == ["CONCATENATION"]


@pytest.mark.parametrize("indices,message", [
    (lambda: [tf.constant([0, 1]), _x((1,), tf.int32, "i")],
     r"\(DynamicStitch\): its indices \(input 1\) are computed; only constant indices convert"),
    (lambda: [tf.constant([0, 3]), tf.constant([1])], r"leave output rows \[2\] unset")])
def test_tf_dynamic_stitch_refused(indices, message):
    def build():
        return {"y": tf.identity(tf.dynamic_stitch(indices(), [_x((2,)), _x((1,), name="b")]), "y")}
    pb, _ = freeze(build)
    gd = v1.GraphDef()
    gd.ParseFromString(pb)
    inputs = [n.name for n in gd.node if n.op == "Placeholder"]
    with pytest.raises(ConversionError, match=message):
        api.convert_bytes(pb, input_arrays=inputs, output_arrays=["y"])


@pytest.mark.parametrize("values_shape", [(3,), ()], ids=["values", "one_value"])
def test_tf_sparse_to_dense(tmp_path, values_shape):
    v = normal(*values_shape)
    build = lambda: {"y": tf.raw_ops.SparseToDense(
        sparse_indices=tf.constant([[0, 1], [2, 3], [3, 0]], tf.int64), output_shape=tf.constant([4, 5], tf.int64),
        sparse_values=_x(v.shape), default_value=tf.constant(-1.5), name="y")}
    assert convert_tf(build, {"x": v}, tmp_path, "SparseToDense") == ["SPARSE_TO_DENSE"]


# ---- int8 between dense layers ------------------------------------------------------------

def _dense(h, rng, width):
    return tf.matmul(h, (rng.standard_normal((int(h.shape[-1]), width)) / 4).astype(np.float32))


def _rows(b):
    """[2, 8] from the [1, 8] branch."""
    return tf.reshape(tf.concat([b, b], 1), [2, 8])


# op -> the op on two dense branches a ([1, 32]) and b ([1, 8]), flattened to [1, n] after it.
BETWEEN_DENSE = {
    "MatrixDiagV3": lambda a, b: tf.linalg.diag(tf.reshape(a, [4, 8])),
    # The diagonal's values and the default value lie outside the other input's range.
    "MatrixSetDiagV3": lambda a, b: tf.linalg.set_diag(tf.nn.relu(tf.reshape(a, [2, 4, 4])), tf.reshape(b, [2, 4]) - 3),
    "ScatterNd": lambda a, b: tf.scatter_nd([[1], [3]], tf.reshape(a, [2, 16]), [5, 16]),
    "TensorScatterUpdate": lambda a, b: tf.tensor_scatter_nd_update(tf.reshape(a, [4, 8]), [[1], [3]], _rows(b)),
    "TensorScatterAdd": lambda a, b: tf.tensor_scatter_nd_add(tf.reshape(a, [4, 8]), [[1], [3]], _rows(b)),
    "DynamicStitch": lambda a, b: tf.dynamic_stitch([[0, 5, 2, 3], [4, 1]], [tf.reshape(a, [4, 8]), _rows(b)]),
    "SparseToDense": lambda a, b: tf.raw_ops.SparseToDense(
        sparse_indices=tf.constant([[0, 1], [1, 1], [2, 3]]), output_shape=[4, 8],
        sparse_values=tf.nn.relu(tf.reshape(b[:, :3], [3])), default_value=tf.constant(-1.5)),
}


def between_dense(tf_op):
    rng = np.random.default_rng(5)

    def build():
        x = _x((1, 16))
        h = BETWEEN_DENSE[tf_op](_dense(x, rng, 32), _dense(x, rng, 8))
        return {"y": tf.identity(_dense(tf.reshape(h, [1, -1]), rng, 8), "y")}
    return freeze(build)[0]


@pytest.mark.parametrize("tf_op", sorted(BETWEEN_DENSE))
def test_int8_between_dense_layers(tf_op, tmp_path):
    """The scatter ops quantized as TF's converter quantizes them (none left in float), in no
    more ops, with TF's op versions, LiteRT prepares and runs the model on both resolvers, and the mean error over 16
    inputs is at most 1.25x TF's. MATRIX_DIAG and SCATTER_ND, whose kernels start from the raw
    integer 0, have a zero point of 0 and their data input the same params (TF's converter
    keeps the input's zero point, so its zeros are off: MatrixDiag's error is 26x ours)."""
    pb = between_dense(tf_op)
    ours, theirs = int8_ours(pb, tmp_path), int8_tf(pb, tmp_path)
    assert not any("kept in float" in note for note in ours.notes), ours.notes
    assert len(op_types(ours.model)) <= len(op_types(theirs)), (op_types(ours.model), op_types(theirs))
    assert compare_versions(ours.model, theirs)[1] == {}, "op versions differ from TF's"
    assert litert_problems(ours.model) == []
    for op in ours.graph.ops:
        if has_trait(op.type, "zero_fill"):
            data_q, out_q = (ours.graph.tensors[n].quant for n in (data_inputs(op)[0], op.outputs[0]))
            params = [(float(q.scale[0]), int(q.zero_point[0])) for q in (data_q, out_q)]
            assert params[0] == params[1] and params[1][1] == 0, params
    ours_error, tf_error = mean_error(pb, ours.model), mean_error(pb, theirs)
    assert ours_error <= 1.25 * tf_error, (ours_error, tf_error)


def test_int8_model_with_an_integer_scatter(tmp_path):
    """A SCATTER_ND on int32 (InvertPermutation's) keeps its type in an int8 model: its
    shared_params and zero_fill traits are about quantized values."""

    def build():
        h = _dense(_x((1, 16)), np.random.default_rng(2), 8)
        order = tf.math.invert_permutation(tf.math.top_k(tf.reshape(h, [8]), k=8).indices)
        return {"y": tf.identity(tf.gather(h, order, axis=1), "y")}
    result = int8_ours(freeze(build)[0], tmp_path)
    scatter = next(op for op in result.graph.ops if op.type == "SCATTER_ND")
    assert result.graph.tensors[scatter.outputs[0]].dtype == "int32"
    assert litert_problems(result.model) == []
