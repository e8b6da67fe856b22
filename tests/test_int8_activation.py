"""int8 activations, SOFTMAX and LOG_SOFTMAX against LiteRT's reference kernels, element for
element. Unary edge cases feed all 256 int8 values at once; seeded property tests draw
shapes, parameters and inputs at random.
"""
import subprocess
import sys

import numpy as np
import pytest

from tests.support.kernel_check import (
    compare_int8_with_litert,
    int8_disagreement,
    int8_graph,
    quant,
    run_int8_ours,
    run_one_op,
)
from toco_py.errors import ConversionError
from toco_py.ops import fixed_point as fx
from toco_py.ops.int8 import softmax as int8_softmax
from toco_py.tflite.writer import model_bytes

EVERY_INT8 = np.arange(-128, 128, dtype=np.int8).reshape(4, 64)
INPUT_PARAMS = {
    "typical": (0.05, 3), "zero point -128": (0.02, -128), "zero point 127": (0.03, 127),
    "tiny scale": (1e-4, 0), "large scale": (2.0, -10), "huge scale": (50.0, 20),
}
LOGISTIC_OUT, TANH_OUT, SOFTMAX_OUT = quant(1 / 256, -128), quant(1 / 128, 0), quant(1 / 256, -128)
L2_OUT, LOG_SOFTMAX_OUT = quant(1 / 128, 0), quant(16 / 256, 127)


def _unary(op, x, in_params, out_q, attrs=None) -> str:
    """What differs between our int8 op and LiteRT's ("" when nothing)."""
    return int8_disagreement(op, [x], [quant(*in_params)], [out_q], attrs or {})


@pytest.mark.parametrize("out_params", [(0.05, 3), (0.03, -100), (0.2, 90), (0.001, -128), (5.0, 0)],
                         ids=["same as input", "finer", "coarser", "tiny", "huge"])
@pytest.mark.parametrize("op", ["RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1"])
def test_relu_family_requantizes(op, out_params):
    assert not _unary(op, EVERY_INT8, (0.05, 3), quant(*out_params))


@pytest.mark.parametrize("alpha", [0.2, 0.0, 0.01, 1.0, 1.7, -0.3])
@pytest.mark.parametrize("params", [((0.05, 3), (0.04, -10)), ((0.02, -128), (0.02, -128)),
                                    ((0.3, 127), (0.01, 0))], ids=["typical", "shared", "extremes"])
def test_leaky_relu(alpha, params):
    assert not _unary("LEAKY_RELU", EVERY_INT8, params[0], quant(*params[1]), {"alpha": alpha})


@pytest.mark.parametrize("shapes", [((4, 64), (64,)), ((2, 2, 64), (1, 1, 64)), ((4, 64), (4, 64)),
                                    ((2, 2, 64), (2, 1, 1)), ((4, 64), ())], ids=str)
@pytest.mark.parametrize("alpha_params", [(0.01, 4), (0.002, -128), (0.05, 127)])
def test_prelu(shapes, alpha_params):
    rng = np.random.default_rng(len(shapes[1]))
    alpha = rng.integers(-128, 128, shapes[1]).astype(np.int8)
    compare_int8_with_litert("PRELU", [EVERY_INT8.reshape(shapes[0]), alpha],
                             [quant(0.05, 3), quant(*alpha_params)], [quant(0.04, -10)], {}, const={1})


def test_prelu_alpha_as_a_runtime_input():
    alpha = np.arange(64, dtype=np.int8) * 3 - 90
    compare_int8_with_litert("PRELU", [EVERY_INT8, alpha], [quant(0.05, 3), quant(0.01, 0)],
                             [quant(0.04, -10)], {})


@pytest.mark.parametrize("params", INPUT_PARAMS.values(), ids=INPUT_PARAMS.keys())
def test_logistic_table(params):
    assert not _unary("LOGISTIC", EVERY_INT8, params, LOGISTIC_OUT)


@pytest.mark.parametrize("params", INPUT_PARAMS.values(), ids=INPUT_PARAMS.keys())
@pytest.mark.parametrize("out_q", [TANH_OUT, quant(0.01, -20)], ids=["fixed params", "other params"])
def test_tanh_table(params, out_q):
    assert not _unary("TANH", EVERY_INT8, params, out_q)


@pytest.mark.parametrize("params", INPUT_PARAMS.values(), ids=INPUT_PARAMS.keys())
@pytest.mark.parametrize("out_q", [quant(0.04, -100), quant(0.3, 5)], ids=["fine", "coarse"])
@pytest.mark.parametrize("approximate", [False, True], ids=["exact", "tanh"])
def test_gelu_table(params, out_q, approximate):
    """LiteRT's table of GeluTransform (erfcf) or GeluTransformApproximate (tanhf) in float32."""
    assert not _unary("GELU", EVERY_INT8, params, out_q, {"approximate": approximate})


def test_gelu_table_random_params():
    rng = np.random.default_rng(12)
    for _ in range(20):
        p_in, p_out = [(float(np.exp(rng.uniform(-7, 3))), int(rng.integers(-128, 128))) for _ in "io"]
        for approximate in (False, True):
            assert not _unary("GELU", EVERY_INT8, p_in, quant(*p_out), {"approximate": approximate})


def test_logistic_zero_point_is_not_checked_by_litert():
    # The reference Prepare checks the 1/256 scale only; the table follows any zero point.
    assert not _unary("LOGISTIC", EVERY_INT8, (0.05, 0), quant(1 / 256, 0))


@pytest.mark.parametrize("params", [((0.05, 3), (0.03, -50)), ((0.005, -128), (0.004, -100)),
                                    ((0.2, 127), (0.2, 0)), ((1e-3, 0), (1.0, 0)), ((3.0, 10), (0.05, 0)),
                                    ((0.0117, 0), (0.0117, 0)), ((1.0, -5), (0.01, 0))],
                         ids=["typical", "reluish shift right", "reluish shift left", "output shift > 15",
                              "near the refusal", "reluish multiplier ~1", "no output shift"])
def test_hard_swish(params):
    # "no output shift" leaves the truncating SaturatingDoublingHighMul visible in the output.
    assert not _unary("HARD_SWISH", EVERY_INT8, params[0], quant(*params[1]))


def _ours(op_type, inputs, input_quant, output_quant, attrs=None):
    return run_int8_ours(int8_graph(op_type, inputs, input_quant, [output_quant], attrs), inputs)[0]


@pytest.mark.parametrize("op, out_q", [("HARD_SWISH", quant(0.01, 0)), ("LOGISTIC", quant(1 / 128, -128)),
                                       ("L2_NORMALIZATION", quant(1 / 256, 0)), ("SOFTMAX", quant(1 / 256, 0)),
                                       ("LOG_SOFTMAX", quant(1 / 16, 0))])
def test_parameters_litert_refuses_are_refused(op, out_q):
    with pytest.raises(ConversionError):
        _ours(op, [EVERY_INT8], [quant(2.0, 0)], out_q)
    with pytest.raises(RuntimeError):  # LiteRT's Prepare fails on them too
        _unary(op, EVERY_INT8, (2.0, 0), out_q)


@pytest.mark.parametrize("x", [
    EVERY_INT8, np.zeros((3, 5), np.int8), np.full((2, 1), -128, np.int8), np.full((1, 9000), 127, np.int8),
    np.array([[3, 4], [-128, 127], [5, 5]], np.int8),
], ids=["every value", "all at the zero point", "depth one", "deep row", "mixed rows"])
@pytest.mark.parametrize("zero", [0, -128, 5])
def test_l2_normalization(x, zero):
    assert not _unary("L2_NORMALIZATION", x, (0.03, zero), L2_OUT)


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.7, 1e-3])
@pytest.mark.parametrize("params", INPUT_PARAMS.values(), ids=INPUT_PARAMS.keys())
def test_softmax(params, beta):
    assert not _unary("SOFTMAX", EVERY_INT8, params, SOFTMAX_OUT, {"beta": beta})


@pytest.mark.parametrize("x", [np.zeros((1, 1), np.int8), np.full((2, 7), 100, np.int8),
                               np.array([[-128, 127, 127, -128]], np.int8), np.arange(-128, 128, dtype=np.int8)],
                         ids=["single logit", "equal logits", "two maxima", "rank one"])
def test_softmax_rows(x):
    assert not _unary("SOFTMAX", x, (0.1, 0), SOFTMAX_OUT, {"beta": 1.0})


@pytest.mark.parametrize("params", INPUT_PARAMS.values(), ids=INPUT_PARAMS.keys())
@pytest.mark.parametrize("x", [EVERY_INT8, np.full((2, 7), 100, np.int8),
                               np.array([[-128, 127, 127, -128]], np.int8)],
                         ids=["every value", "equal logits", "two maxima"])
def test_log_softmax(params, x):
    assert not _unary("LOG_SOFTMAX", x, params, LOG_SOFTMAX_OUT)


# ----- SOFTMAX rows whose sum of exps reaches 2^9: the reference kernel aborts -----

def _wide_softmax_graph(x, scale, beta):
    return int8_graph("SOFTMAX", [x], [quant(scale, 0)], [SOFTMAX_OUT], {"beta": beta})


def _reference_would_abort(x, scale, beta):
    multiplier, shift, diff_min = int8_softmax.input_beta_multiplier(np.float32(beta), np.float32(scale), None)
    _, sums = int8_softmax._exps(int8_softmax._diffs(x), multiplier, shift, diff_min)
    return bool(np.any(fx.clz32(sums) < 4))  # exponent = 12 - clz + 23 > 31


def test_wide_softmax_aborts_litert_reference_kernel(tmp_path):
    x = np.full((1, 700), 50, np.int8)
    assert _reference_would_abort(x, 0.1, 1.0)
    path = tmp_path / "softmax.tflite"
    path.write_bytes(model_bytes(_wide_softmax_graph(x, 0.1, 1.0)))
    # In a child process: TFLITE_CHECK aborts the whole interpreter process.
    code = ("import numpy as np, sys\n"
            "from ai_edge_litert.interpreter import Interpreter, OpResolverType\n"
            "it = Interpreter(model_path=sys.argv[1], experimental_op_resolver_type=OpResolverType.BUILTIN_REF)\n"
            "it.allocate_tensors()\n"
            "it.set_tensor(it.get_input_details()[0]['index'], np.full((1, 700), 50, np.int8))\n"
            "it.invoke()\n")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, timeout=120,
                          check=False)
    assert done.returncode != 0


@pytest.mark.parametrize("seed", range(6))
def test_wide_softmax_equals_litert_optimized_kernel(seed):
    """Where the reference kernel aborts, LiteRT's builtin (optimized) kernel is the oracle:
    it agrees with every element (measured: no element differs, so none is tolerated)."""
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(600, 3000))
    x = rng.integers(int(rng.integers(60, 120)), 128, (3, depth)).astype(np.int8)
    scale, beta = float(rng.uniform(0.005, 0.05)), float(rng.uniform(0.5, 2.0))
    assert _reference_would_abort(x, scale, beta)
    g = _wide_softmax_graph(x, scale, beta)
    theirs = run_one_op(g, [x], 1, reference=False, delegates=False)[0]
    np.testing.assert_array_equal(run_int8_ours(g, [x])[0], theirs)


# ----- seeded property tests -----

def _random_shape(rng, min_rank=1, max_rank=4):
    return tuple(int(d) for d in rng.integers(1, 7, int(rng.integers(min_rank, max_rank + 1))))


def _random_params(rng, low=1e-3, high=10.0):
    return float(np.exp(rng.uniform(np.log(low), np.log(high)))), int(rng.integers(-128, 128))


def _random_input(rng, shape):
    return rng.integers(-128, 128, shape).astype(np.int8)


def _draw(op, rng):
    """(inputs, input quant, output quant, attrs, const) for one random case of op."""
    shape = _random_shape(rng)
    x, in_params = _random_input(rng, shape), _random_params(rng)
    fixed = {"LOGISTIC": LOGISTIC_OUT, "TANH": TANH_OUT, "L2_NORMALIZATION": L2_OUT,
             "SOFTMAX": SOFTMAX_OUT, "LOG_SOFTMAX": LOG_SOFTMAX_OUT}
    out_q = fixed.get(op) or quant(*_random_params(rng))
    attrs = {}
    if op == "HARD_SWISH":  # LiteRT needs input / output scales below 128
        ratio = float(np.exp(rng.uniform(np.log(1 / 3), np.log(120.0))))
        out_q = quant(in_params[0] / ratio, int(rng.integers(-128, 128)))
    if op == "LEAKY_RELU":
        attrs = {"alpha": float(rng.uniform(-1.0, 2.0))}
    if op == "SOFTMAX":
        attrs = {"beta": float(rng.uniform(0.1, 3.0))}
    if op == "PRELU":
        trailing = shape[len(shape) - int(rng.integers(0, len(shape) + 1)):]  # alpha broadcasts to x
        alpha_shape = tuple(1 if rng.random() < 0.5 else d for d in trailing)
        alpha = _random_input(rng, alpha_shape)
        return [x, alpha], [quant(*in_params), quant(*_random_params(rng, 1e-3, 0.1))], out_q, attrs, {1}
    return [x], [quant(*in_params)], out_q, attrs, None


PROPERTY_OPS = ["RELU", "RELU6", "RELU_N1_TO_1", "LEAKY_RELU", "PRELU", "LOGISTIC", "TANH", "HARD_SWISH",
                "L2_NORMALIZATION", "SOFTMAX", "LOG_SOFTMAX"]


@pytest.mark.parametrize("op", PROPERTY_OPS)
def test_property_random(op):
    rng = np.random.default_rng(sum(map(ord, op)))
    for _ in range(40):
        inputs, input_quant, out_q, attrs, const = _draw(op, rng)
        compare_int8_with_litert(op, inputs, input_quant, [out_q], attrs, const=const)
