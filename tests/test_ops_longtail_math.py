"""The elementwise and activation-like TF ops that TF 2.21's converter lowers to builtins
(lower_tf.td, legalize_patterns.td): each one-op graph converts, with no more ops than TF's
converter makes, and LiteRT on our model and TensorFlow on the graph both stay within the
tolerance policy's allowance of the float64 truth, edge values included (division by zero,
log1p near -1, infinities and NaN, softplus far from 0)."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.lite.python.convert_phase import ConverterError

from tests.support.cli import assert_one_line_error, toco
from tests.support.oracle import freeze, op_types, tf_convert
from tests.support.policy import end_to_end_failures, tensorflow_and_litert_failures
from toco_py import api

v1 = tf.compat.v1
raw = tf.raw_ops
SHAPE = (4, 16)
INF, NAN = np.float32(np.inf), np.float32(np.nan)


def _normal(seed: int, scale: float = 3.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(SHAPE) * scale).astype(np.float32)


def _with_row(values, seed: int = 0, scale: float = 3.0) -> np.ndarray:
    """Normal values, the first row replaced by the edge values (repeated to the row's width)."""
    x = _normal(seed, scale)
    x[0] = np.resize(np.asarray(values, np.float32), SHAPE[1])
    return x


def _positive(seed: int) -> np.ndarray:
    return np.abs(_normal(seed)) + np.float32(0.1)


def _ints(seed: int, dtype=np.int32, nonzero: bool = False) -> np.ndarray:
    """Integers of both signs, the type's extremes among them (divisors: no 0, and -2 under
    the minimum, whose quotient by -1 overflows)."""
    info = np.iinfo(dtype)
    x = np.random.default_rng(seed).integers(-100, 100, SHAPE).astype(dtype)
    x[0, :4] = [-2 if nonzero else info.min, info.max, -1, 1]
    if nonzero:
        x[x == 0] = 3
    return x


def _zeros_in(x: np.ndarray, every: int = 3) -> np.ndarray:
    x = x.copy()
    x.flat[::every] = 0
    return x


# x / 0 and inf * 0 are 0 in DivNoNan and MulNoNan. (No edge value makes DIV or MUL produce an
# infinity: LiteRT's float DIV and MUL clamp their results to the largest float, as they do for
# a fused activation; TensorFlow gives the infinity.)
NO_NAN_X = _with_row([INF, -INF, NAN, 0, 1, -2, 5, 0])
NO_NAN_Y = _with_row([0, 0, 0, 0, 0, 0, 2, -3], 1)
NO_NAN_Y[1:] = _zeros_in(NO_NAN_Y[1:])

# name -> (TF op in the graph, graph of the inputs, inputs)
CASES = {
    "DivNoNan": ("DivNoNan", tf.math.divide_no_nan, [NO_NAN_X, NO_NAN_Y]),
    "MulNoNan": ("MulNoNan", tf.math.multiply_no_nan, [NO_NAN_X, NO_NAN_Y]),
    "AddN": ("AddN", lambda a, b, c: tf.math.add_n([a, b, c]),
             [_normal(0), _normal(1), -_normal(0) + _normal(2, 1e-3)]),
    "Softplus": ("Softplus", tf.math.softplus,
                 [_with_row(np.linspace(-80, 80, SHAPE[1]))]),
    "Selu": ("Selu", tf.nn.selu, [_with_row(np.linspace(-20, 5, SHAPE[1]))]),
    "Softsign": ("Softsign", tf.math.softsign, [_with_row([1e30, -1e30, 0, 1e-30, -1])]),
    "Reciprocal": ("Reciprocal", tf.math.reciprocal, [_with_row([1e-30, -1e30, 3, -7, 1e38])]),
    "Inv": ("Inv", lambda x: raw.Inv(x=x), [_with_row([1e-30, -1e30, 3, -7, 1e38])]),
    "Log1p": ("Log1p", tf.math.log1p,
              [np.maximum(_with_row([-1, -0.9999999, -0.999, -0.5, 0, 1e-8, -1e-8, 1e3]), -1)]),
    "Expm1": ("Expm1", tf.math.expm1, [_with_row([-80, -20, -1e-8, 0, 1e-8, 20, 80])]),
    "IsFinite": ("IsFinite", tf.math.is_finite, [_with_row([INF, -INF, NAN, 3e38, -3e38, 0])]),
    "IsInf": ("IsInf", tf.math.is_inf, [_with_row([INF, -INF, NAN, 3e38, -3e38, 0])]),
    "IsNan": ("IsNan", tf.math.is_nan, [_with_row([INF, -INF, NAN, 3e38, -3e38, 0])]),
    "Atan2": ("Atan2", tf.math.atan2,
              [_with_row([0, 0, 1, -1, 1, -1, 0, 5]), _with_row([0, -1, 0, 0, -1e-30, -1e-30, 5, 0], 1)]),
    # 0 / 0 and 0 * log(0) are 0 (y is 0 only where x is).
    "Xdivy": ("Xdivy", tf.math.xdivy, [_zeros_in(_normal(0)), _zeros_in(_normal(1))]),
    "Xlogy": ("Xlogy", tf.math.xlogy, [_zeros_in(_normal(0)), _zeros_in(_positive(1))]),
    "Xlog1py": ("Xlog1py", tf.math.xlog1py, [_zeros_in(_normal(0)), _positive(1) - np.float32(1)]),
    "Rint": ("Rint", tf.math.rint, [_with_row([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, 1e9 + 0.5])]),
    "TruncateDiv": ("TruncateDiv", lambda x, y: raw.TruncateDiv(x=x, y=y),
                    [_with_row([7, -7, 7, -7, 0, 6]), _with_row([2, 2, -2, -2, 3, 3], 1) + np.float32(0.25)]),
    "L2Loss": ("L2Loss", tf.nn.l2_loss, [_normal(0)]),
    # Activations that graphs spell with Softplus.
    "Mish": ("Softplus", lambda x: x * tf.tanh(tf.math.softplus(x)), [_with_row(np.linspace(-80, 80, 16))]),
    "log_sigmoid": ("Softplus", tf.math.log_sigmoid, [_with_row(np.linspace(-80, 80, 16))]),
    "Bucketize": ("Bucketize", lambda x: raw.Bucketize(input=x, boundaries=[-1.0, 0.0, 0.5, 2.0]),
                  [_with_row([-1, 0, 0.5, 2, -1.0000001, 1.9999999, INF, -INF, NAN])]),
    "Bucketize int32": ("Bucketize", lambda x: raw.Bucketize(input=x, boundaries=[-50.0, 0.0, 0.5, 7.0]),
                        [_ints(0)]),
    # Library functions built on them.
    "reduce_logsumexp": ("IsFinite", lambda x: tf.math.reduce_logsumexp(x, axis=1),
                         [_with_row([80, -80, 0, 1, 88, -88])]),
    "reciprocal_no_nan": ("DivNoNan", tf.math.reciprocal_no_nan, [_zeros_in(_normal(0))]),
    "sigmoid_cross_entropy": ("Log1p", lambda z, x: tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.sigmoid(z), logits=x), [_normal(0), _with_row(np.linspace(-80, 80, 16), 1)]),
    # Integer ops.
    "AddN int32": ("AddN", lambda a, b: tf.math.add_n([a, b, a]), [_ints(0), _ints(1)]),
    "TruncateDiv int32": ("TruncateDiv", lambda x, y: raw.TruncateDiv(x=x, y=y),
                          [_ints(0), _ints(1, nonzero=True)]),
    "BitwiseXor int32": ("BitwiseXor", tf.bitwise.bitwise_xor, [_ints(0), _ints(1)]),
    "BitwiseXor int8": ("BitwiseXor", tf.bitwise.bitwise_xor, [_ints(0, np.int8), _ints(1, np.int8)]),
    # LiteRT's SQUARE and RELU take no int32: MUL and MAXIMUM, as TF's converter makes them.
    "Square int32": ("Square", tf.square, [_ints(0)]),
    "Relu int32": ("Relu", tf.nn.relu, [_ints(0)]),
    "maximum(int32, 0)": ("Maximum", lambda x: tf.maximum(x, 0), [_ints(0)]),
    # Shifts past the width and negative shifts included: both kernels clamp them to [0, 31].
    "RightShift int32": ("RightShift", tf.bitwise.right_shift,
                         [_ints(0) * 1000003, np.arange(-8, 56, dtype=np.int32).reshape(SHAPE)]),
}
# Inside (-1, 1): at +-1 the policy's perturbed runs of sqrt(1 - x^2) leave its domain.
ARC_INPUT = _with_row([0, 0.9999999, -0.9999999, 1e-8, 0.5, -0.999])
ARC_INPUT[1:] = np.random.default_rng(7).uniform(-0.999, 0.999, (SHAPE[0] - 1, SHAPE[1]))

# TF's converter has no builtins for these (it leaves them to TF Select or custom ops); ours
# are these.
REFUSED_BY_TF = {
    "Tan": ("Tan", tf.math.tan, [_with_row([0, 1.5, -1.5, 1.5707963, 3.1415927, 100, -1e4])],
            ["SIN", "COS", "DIV"]),
    "Sinh": ("Sinh", tf.math.sinh, [_with_row([0, 1e-8, -1e-8, 20, -20, 80, -80, 88])],
             ["EXP", "DIV", "SUB", "MUL"]),
    "Cosh": ("Cosh", tf.math.cosh, [_with_row([0, 1e-8, -1e-8, 20, -20, 80, -80, 88])],
             ["EXP", "DIV", "ADD", "MUL"]),
    "Asin": ("Asin", tf.math.asin, [ARC_INPUT],
             ["SQUARE", "SUB", "SQRT", "ATAN2"]),
    "Acos": ("Acos", tf.math.acos, [ARC_INPUT],
             ["SQUARE", "SUB", "SQRT", "ATAN2"]),
}
CASES |= {name: case[:3] for name, case in REFUSED_BY_TF.items()}

# Lowered by TF's converter to more ops than ours (Selu: six, where ELU, PRELU and MUL do).
FEWER_THAN_TF = {"Selu": 3}


def _graph(case: str) -> tuple[bytes, list[str]]:
    tf_op, fn, inputs = CASES[case]
    names = [f"in{i}" for i in range(len(inputs))]

    def build():
        args = [v1.placeholder(tf.as_dtype(x.dtype), SHAPE, name=n) for n, x in zip(names, inputs, strict=True)]
        return {"out": tf.identity(fn(*args), name="out")}
    pb, _ = freeze(build)
    graph_def = v1.GraphDef()
    graph_def.ParseFromString(pb)
    assert tf_op in {node.op for node in graph_def.node}
    return pb, names


def _tf_ops(pb: bytes, names: list[str], tmp_path) -> list[str]:
    path = tmp_path / "graph.pb"
    path.write_bytes(pb)
    return op_types(tf_convert(str(path), names, ["out"]))


def _ours_and_tfs(case: str, pb: bytes, names: list[str], model: bytes, tmp_path):
    """(our op types, TF's converter's; for a case TF has no builtins for, what ours must be,
    checked to be refused by TF)."""
    if case not in REFUSED_BY_TF:
        return op_types(model), _tf_ops(pb, names, tmp_path)
    with pytest.raises(ConverterError, match=f"(TF Select|Custom) ops: {CASES[case][0]}"):
        _tf_ops(pb, names, tmp_path)
    return op_types(model), REFUSED_BY_TF[case][3]


@pytest.mark.parametrize("case", CASES)
def test_converts_like_tf_and_matches_tensorflow(case, tmp_path):
    pb, names = _graph(case)
    model = api.convert_bytes(pb, input_arrays=names, output_arrays=["out"]).model
    ours, theirs = _ours_and_tfs(case, pb, names, model, tmp_path)
    assert len(ours) == FEWER_THAN_TF.get(case, len(theirs)) and len(ours) <= len(theirs), (ours, theirs)
    feeds = dict(zip(names, CASES[case][2], strict=True))
    with np.errstate(all="ignore"):  # the truth divides by zero, as the kernels do
        failures = tensorflow_and_litert_failures(pb, model, feeds, ["out"])
    assert not failures, failures


def test_int32_relu6_converts_where_tf_needs_select_ops(tmp_path):
    """max(x, 0) then min(., 6): LiteRT's RELU6 takes no int32, TF's converter refuses Relu6."""
    def build():
        return {"out": tf.identity(tf.nn.relu6(v1.placeholder(tf.int32, SHAPE, name="in0")), name="out")}
    pb, _ = freeze(build)
    with pytest.raises(ConverterError, match="Relu6"):
        _tf_ops(pb, ["in0"], tmp_path)
    model = api.convert_bytes(pb, input_arrays=["in0"], output_arrays=["out"]).model
    assert op_types(model) == ["MAXIMUM", "MINIMUM"]
    failures = tensorflow_and_litert_failures(pb, model, {"in0": _ints(0)}, ["out"])
    assert not failures, failures


# ClipByValue bounds -> what ours makes of it (TF's converter leaves ClipByValue to TF Select).
# Crossed bounds keep TF's kernel's order, min(t, clip_max) first.
CLIPS = {(-0.5, 0.5): ["MAXIMUM", "MINIMUM"], (0.0, 6.0): ["RELU6"], (-1.0, 1.0): ["RELU_N1_TO_1"],
         (0.5, -0.5): ["MINIMUM", "MAXIMUM"]}


@pytest.mark.parametrize("bounds", CLIPS, ids=str)
def test_clip_by_value_converts_where_tf_needs_select_ops(bounds, tmp_path):
    low, high = bounds

    def build():
        x = v1.placeholder(tf.float32, SHAPE, name="in0")
        return {"out": tf.identity(raw.ClipByValue(t=x, clip_value_min=tf.constant(low),
                                                   clip_value_max=tf.constant(high)), name="out")}
    pb, _ = freeze(build)
    with pytest.raises(ConverterError, match="TF Select ops: ClipByValue"):
        _tf_ops(pb, ["in0"], tmp_path)
    model = api.convert_bytes(pb, input_arrays=["in0"], output_arrays=["out"]).model
    assert op_types(model) == CLIPS[bounds]
    feeds = {"in0": _with_row([low, high, low - 1e-7, high + 1e-7, -1e30, 1e30, 0])}
    failures = tensorflow_and_litert_failures(pb, model, feeds, ["out"])
    assert not failures, failures


@pytest.mark.parametrize("case", ["AddN", "Atan2", "Bucketize", "Bucketize int32", "AddN int32",
                                  "BitwiseXor int32", "RightShift int32"])
def test_new_builtins_run_in_our_interpreter_as_in_litert(case):
    """The numpy kernels of ADD_N, ATAN2, BUCKETIZE, BITWISE_XOR and RIGHT_SHIFT: our
    interpreter and LiteRT's builtin and reference kernels, each within the policy on random
    inputs."""
    pb, names = _graph(case)
    model = api.convert_bytes(pb, input_arrays=names, output_arrays=["out"]).model
    failures = end_to_end_failures(model, seeds=range(3), kinds=("builtin", "reference"))
    assert not failures, failures


def test_atan2_of_different_shapes_is_refused_with_the_fix(tmp_path):
    """One line naming the op and the fix (TF's converter refuses it too: tfl.atan2 needs
    equal shapes)."""
    def build():
        y = v1.placeholder(tf.float32, SHAPE, name="in0")
        x = v1.placeholder(tf.float32, SHAPE[1:], name="in1")
        return {"out": tf.identity(tf.math.atan2(y, x), name="out")}
    pb = tmp_path / "atan2.pb"
    pb.write_bytes(freeze(build)[0])
    proc = toco("convert", "--graph_def_file", str(pb), "--output_file", str(tmp_path / "out.tflite"),
                "--input_arrays", "in0,in1", "--output_arrays", "out")
    assert_one_line_error(proc, "ATAN2", "does not broadcast", "tf.broadcast_to")


def test_bucketize_with_unsorted_boundaries_is_refused_in_one_line(tmp_path):
    def build():
        x = v1.placeholder(tf.float32, SHAPE, name="in0")
        return {"out": tf.identity(raw.Bucketize(input=x, boundaries=[1.0, 0.0]), name="out")}
    pb = tmp_path / "bucketize.pb"
    pb.write_bytes(freeze(build)[0])
    proc = toco("convert", "--graph_def_file", str(pb), "--output_file", str(tmp_path / "out.tflite"),
                "--input_arrays", "in0", "--output_arrays", "out")
    assert_one_line_error(proc, "Bucketize", "[1.0, 0.0] are not sorted", "increasing order")


# The L2Loss of a scalar sums over no axes: an empty axes constant, which the file stores as a
# buffer with no bytes.
RANK_CASES = [pytest.param(case, shape, id=f"{case}-{list(shape)}")
              for case in ("Selu", "DivNoNan", "Softplus", "IsFinite", "L2Loss", "AddN", "Xlogy")
              for shape in ((), (7,), (2, 3, 4, 5, 6))]


@pytest.mark.parametrize(("case", "shape"), RANK_CASES)
def test_lowerings_at_other_ranks(case, shape):
    """The lowerings' rank-0 constants broadcast to any rank, and leave a scalar a scalar
    (LiteRT's PRELU needs its output shaped as its input)."""
    tf_op, fn, inputs = CASES[case]
    names = [f"in{i}" for i in range(len(inputs))]

    def build():
        args = [v1.placeholder(tf.float32, shape, name=n) for n in names]
        return {"out": tf.identity(fn(*args), name="out")}
    pb, _ = freeze(build)
    model = api.convert_bytes(pb, input_arrays=names, output_arrays=["out"]).model
    rng = np.random.default_rng(3)
    feeds = {n: np.abs(rng.standard_normal(shape)).astype(np.float32) for n in names}
    failures = tensorflow_and_litert_failures(pb, model, feeds, ["out"])
    assert not failures, failures
