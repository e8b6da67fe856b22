"""Elementwise math and activations: our kernels and shape inference against LiteRT's
reference kernels (float32 unless a case says otherwise)."""

import numpy as np
import pytest
from tflite.ActivationFunctionType import ActivationFunctionType

from tests.support.kernel_check import compare_with_litert
from toco_py.ops.common import FUSED_ACTIVATIONS
from toco_py.tflite.options import ACTIVATION

RNG = np.random.default_rng(5)


pytestmark = pytest.mark.usefixtures("repeatable_draws")  # conftest: RNG reseeded per test


# LiteRT's float kernels clamp to the RELU ranges and ignore TANH and SIGN_BIT, as ours must.
ACTIVATIONS = ["NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"]
# (lhs, rhs) shapes that broadcast, including operands of different ranks and scalars
BROADCASTS = [((2, 3), (2, 3)), ((2, 3), ()), ((), (4,)), ((4, 1), (3,)), ((2, 1, 4), (3, 1)),
              ((1, 3, 1, 5), (2, 1, 4, 1)), ((5,), (2, 3, 4, 5)), ((2, 1, 3, 1, 2), (1, 4, 1, 5, 1))]


def normal(*shape, scale=1.0):
    return np.asarray(RNG.normal(size=shape) * scale, np.float32)


def away_from_zero(*shape):
    """Divisors: magnitudes in [0.5, 3), either sign."""
    return np.asarray(RNG.uniform(0.5, 3, shape) * RNG.choice([-1, 1], shape), np.float32)


def ints(*shape, low=-20, high=20, dtype="int32"):
    return RNG.integers(low, high, shape).astype(dtype)


def nonzero_ints(*shape, dtype="int32"):
    return (RNG.integers(1, 7, shape) * RNG.choice([-1, 1], shape)).astype(dtype)


# ---- ADD, SUB, MUL, DIV --------------------------------------------------------------------

@pytest.mark.parametrize("op_type", ["ADD", "SUB", "MUL", "DIV"])
@pytest.mark.parametrize("shapes", BROADCASTS, ids=str)
def test_arithmetic_broadcasting(op_type, shapes):
    b = away_from_zero(*shapes[1]) if op_type == "DIV" else normal(*shapes[1])
    compare_with_litert(op_type, [normal(*shapes[0]), b])


@pytest.mark.parametrize("op_type", ["ADD", "SUB", "MUL", "DIV"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_arithmetic_activation(op_type, activation):
    a, b = normal(3, 4, scale=3), away_from_zero(4)
    compare_with_litert(op_type, [a, b], {"fused_activation_function": activation})


def test_fused_activation_table_is_the_schemas():
    """The one table every layer derives its fused-activation clamps from names the schema's
    ActivationFunctionType values in their enum order, the order tflite/options.py encodes."""
    schema = {k: v for k, v in vars(ActivationFunctionType).items() if not k.startswith("_")}
    assert list(FUSED_ACTIVATIONS) == sorted(schema, key=schema.get) == list(ACTIVATION)
    assert sorted(ACTIVATIONS) == sorted(FUSED_ACTIVATIONS)  # the test above runs each one


@pytest.mark.parametrize("op_type", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integer_arithmetic(op_type, dtype):
    compare_with_litert(op_type, [ints(3, 4, dtype=dtype), ints(4, dtype=dtype)])


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((2, 3, 4), (4,))], ids=str)
def test_integer_div_truncates(shapes):
    """int32 DIV rounds toward zero (C division), unlike FLOOR_DIV."""
    compare_with_litert("DIV", [ints(*shapes[0], low=-50, high=50), nonzero_ints(*shapes[1])])


def test_arithmetic_constant_operand():
    compare_with_litert("MUL", [normal(2, 3, 4), normal(3, 1)], const={1})


# ---- binary ops without activation ----------------------------------------------------------

@pytest.mark.parametrize("op_type", ["MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE"])
@pytest.mark.parametrize("shapes", BROADCASTS, ids=str)
def test_binary_broadcasting(op_type, shapes):
    compare_with_litert(op_type, [normal(*shapes[0]), normal(*shapes[1])])


# SQUARED_DIFFERENCE takes int32 only among integers: LiteRT rejects int16 and int64
# ("only supports FLOAT32 and INT32") and aborts on int8, which it takes to be quantized.
@pytest.mark.parametrize("op_type,dtype", [
    ("MAXIMUM", "int32"), ("MAXIMUM", "int8"), ("MAXIMUM", "int16"), ("MAXIMUM", "int64"),
    ("MINIMUM", "int32"), ("MINIMUM", "int8"), ("MINIMUM", "uint8"), ("MINIMUM", "int64"),
    ("SQUARED_DIFFERENCE", "int32")])
def test_binary_integers(op_type, dtype):
    low = 0 if dtype == "uint8" else -9
    a, b = ints(2, 5, low=low, high=9, dtype=dtype), ints(5, low=low, high=9, dtype=dtype)
    compare_with_litert(op_type, [a, b])


@pytest.mark.parametrize("shapes", BROADCASTS[:6], ids=str)
def test_pow_float(shapes):
    base = np.abs(normal(*shapes[0])) + 0.1  # a negative base to a fractional power is NaN
    compare_with_litert("POW", [base, normal(*shapes[1])])


def test_pow_integer():
    compare_with_litert("POW", [ints(3, 4, low=-5, high=6), ints(4, low=0, high=5)])


@pytest.mark.parametrize("op_type", ["FLOOR_DIV", "FLOOR_MOD"])
@pytest.mark.parametrize("shapes", BROADCASTS[:6], ids=str)
def test_floor_div_mod_float(op_type, shapes):
    compare_with_litert(op_type, [normal(*shapes[0], scale=5), away_from_zero(*shapes[1])])


@pytest.mark.parametrize("op_type", ["FLOOR_DIV", "FLOOR_MOD"])
def test_floor_div_mod_near_integer_quotients(op_type):
    """Quotients just below an integer that a float32 division rounds up to it (1 / 0.1f
    is 9.99999985): LiteRT divides in double and floors to 9, as numpy does."""
    a = np.array([1.0, 0.3, -0.3, 3.0, 0.6, -0.7, 7.0, 1e-3], np.float32)
    b = np.array([0.1, 0.1, 0.1, 0.3, 0.2, 0.1, 0.7, 1e-4], np.float32)
    compare_with_litert(op_type, [a, b])


# Not FLOOR_DIV of int64: LiteRT's kernel refuses the type ("not supported by floor_div").
@pytest.mark.parametrize("op_type,dtype", [
    ("FLOOR_DIV", "int32"), ("FLOOR_DIV", "int16"), ("FLOOR_DIV", "int8"), ("FLOOR_MOD", "int32"),
    ("FLOOR_MOD", "int64"), ("FLOOR_MOD", "int16"), ("FLOOR_MOD", "int8")])
def test_floor_div_mod_integer(op_type, dtype):
    a, b = ints(3, 5, low=-30, high=30, dtype=dtype), nonzero_ints(5, dtype=dtype)
    compare_with_litert(op_type, [a, b])


# ---- comparisons and logic ---------------------------------------------------------------

COMPARISONS = ["LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL"]


@pytest.mark.parametrize("op_type", COMPARISONS)
@pytest.mark.parametrize("shapes", BROADCASTS[:6], ids=str)
def test_comparison_float(op_type, shapes):
    # Rounded values so that equal pairs occur and EQUAL / *_EQUAL see both outcomes.
    a, b = (np.round(normal(*s)) for s in shapes)
    compare_with_litert(op_type, [a, b])


@pytest.mark.parametrize("op_type", COMPARISONS)
# Not int8 / uint8: LiteRT treats those as quantized and needs quantization parameters.
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_comparison_integers(op_type, dtype):
    a, b = ints(4, 3, low=0, high=4, dtype=dtype), ints(3, low=0, high=4, dtype=dtype)
    compare_with_litert(op_type, [a, b])


@pytest.mark.parametrize("op_type", ["EQUAL", "NOT_EQUAL"])
def test_comparison_bool(op_type):
    compare_with_litert(op_type, [RNG.random((3, 4)) < 0.5, RNG.random((4,)) < 0.5])


@pytest.mark.parametrize("op_type", ["LOGICAL_AND", "LOGICAL_OR"])
@pytest.mark.parametrize("shapes", BROADCASTS[:6], ids=str)
def test_logical_binary(op_type, shapes):
    a, b = (np.asarray(RNG.random(s) < 0.5) for s in shapes)
    compare_with_litert(op_type, [a, b])


def test_logical_not():
    compare_with_litert("LOGICAL_NOT", [RNG.random((3, 5)) < 0.5])


# ---- unary math ------------------------------------------------------------------------

# op -> a float input in its domain
UNARY = {
    "EXP": normal(3, 7, scale=3),
    "LOG": np.abs(normal(3, 7, scale=10)) + 1e-3,
    "SQRT": np.abs(normal(3, 7, scale=10)),
    "RSQRT": np.abs(normal(3, 7, scale=10)) + 1e-3,
    "NEG": normal(3, 7),
    "ABS": normal(3, 7),
    "SQUARE": normal(3, 7, scale=10),
    "SIN": normal(3, 7, scale=10),
    "COS": normal(3, 7, scale=10),
    "FLOOR": normal(3, 7, scale=10),
    "CEIL": normal(3, 7, scale=10),
    "SIGN": np.array([-2.5, -0.0, 0.0, 1e-30, 7.0, -1e-30, 3.0], np.float32),
}


# LiteRT's reference resolver (BUILTIN_REF) registers no CEIL, ROUND or ELU; their only
# kernels are the builtin ones.
NOT_IN_REFERENCE_RESOLVER = {"CEIL", "ROUND", "ELU"}


@pytest.mark.parametrize("op_type", list(UNARY))
def test_unary_float(op_type):
    compare_with_litert(op_type, [UNARY[op_type]], reference=op_type not in NOT_IN_REFERENCE_RESOLVER)


def test_round_halves_to_even():
    x = np.array([-3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 2.4999, -2.5001, 1e7 + 1], np.float32)
    compare_with_litert("ROUND", [np.concatenate([x, normal(9, scale=20)])], reference=False)


# Not ABS of int8 (LiteRT wants it quantized) nor SQUARE of int32 (LiteRT: unsupported type).
@pytest.mark.parametrize("op_type,dtype", [("NEG", "int32"), ("NEG", "int64"), ("ABS", "int32"),
                                           ("ABS", "int16"), ("SIGN", "int32")])
def test_unary_integers(op_type, dtype):
    compare_with_litert(op_type, [ints(4, 5, low=-9, high=9, dtype=dtype)])


def test_unary_rank_zero_and_rank_five():
    compare_with_litert("EXP", [np.float32(0.5)])
    compare_with_litert("ABS", [normal(1, 2, 3, 2, 2)])


# ---- activations --------------------------------------------------------------------------

WIDE = np.concatenate([normal(40, scale=4), np.float32([-100, -30, -17, -0.0, 17, 30, 100])])


@pytest.mark.parametrize("op_type", ["RELU", "RELU6", "RELU_N1_TO_1", "TANH", "LOGISTIC",
                                     "HARD_SWISH", "ELU"])
def test_activation(op_type):
    compare_with_litert(op_type, [WIDE.reshape(1, 47)],
                        reference=op_type not in NOT_IN_REFERENCE_RESOLVER)


def test_logistic_large_magnitudes():
    """Far tails: exactly 0 or 1 where float32 saturates, tiny but nonzero in between."""
    x = np.float32([-200, -88, -80, -50, -20, -10, 10, 20, 50, 88, 200])
    compare_with_litert("LOGISTIC", [x], rtol=1e-5, atol=0)


@pytest.mark.parametrize("alpha", [0.2, 0.01, -0.5, 1.5])
def test_leaky_relu(alpha):
    compare_with_litert("LEAKY_RELU", [normal(3, 6)], {"alpha": alpha})


@pytest.mark.parametrize("x_shape,alpha_shape", [
    ((2, 3, 4, 5), (5,)), ((2, 3, 4, 5), (1, 1, 5)), ((2, 3, 4, 5), (4, 5)), ((2, 3, 4, 5), (3, 1, 1)),
    ((3, 6), (6,)), ((2, 3, 4), (1,)), ((2, 4, 5), (2, 4, 5))], ids=str)
def test_prelu_broadcast_alpha(x_shape, alpha_shape):
    compare_with_litert("PRELU", [normal(*x_shape), normal(*alpha_shape)], const={1})


@pytest.mark.parametrize("shape", [(7,), (3, 10), (2, 3, 8), (2, 2, 3, 5)], ids=str)
@pytest.mark.parametrize("beta", [1.0, 0.5, 2.7])
def test_softmax(shape, beta):
    compare_with_litert("SOFTMAX", [normal(*shape, scale=5)], {"beta": beta})


@pytest.mark.parametrize("shape", [(7,), (3, 10), (2, 3, 8), (2, 2, 3, 5)], ids=str)
def test_log_softmax(shape):
    compare_with_litert("LOG_SOFTMAX", [normal(*shape, scale=5)])


def test_log_softmax_extreme_logits():
    """Logits far below the maximum: their log-probability is finite, not log(0)."""
    x = np.float32([[0, -200, -90, 5], [1000, 0, -1000, 999]])
    compare_with_litert("LOG_SOFTMAX", [x])


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu(approximate):
    x = np.concatenate([normal(50, scale=3), np.float32([-12, -6, -0.0, 6, 12])]).reshape(5, 11)
    compare_with_litert("GELU", [x], {"approximate": approximate})


@pytest.mark.parametrize("shape", [(5,), (3, 7), (2, 3, 4), (2, 1, 3, 6)], ids=str)
def test_l2_normalization(shape):
    compare_with_litert("L2_NORMALIZATION", [normal(*shape)])


def test_l2_normalization_tiny_vectors():
    """Norms below epsilon: LiteRT divides by max(norm, 1e-6)."""
    x = np.float32([[1e-7, -2e-7, 0], [3e-4, 4e-4, 0], [0, 0, 0], [1, 2, 2]])
    compare_with_litert("L2_NORMALIZATION", [x])
