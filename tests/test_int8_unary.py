"""int8 ABS, SQRT, EXP, LOG, ELU, ARG_MAX and ARG_MIN against LiteRT element for element: every int8
value at once under many input and output params (ELU against the builtin kernels without
delegates: LiteRT's reference resolver has no ELU, and XNNPACK's int8 ELU rounds its own way)."""
import numpy as np
import pytest

from tests.support.kernel_check import data, int8_disagreement, int8_graph, quant, run_int8_ours, run_one_op
from toco_py.errors import TocoError

EVERY_INT8 = np.arange(-128, 128, dtype=np.int8).reshape(4, 64)
RNG = np.random.default_rng(13)
# (input scale, input zero point, output scale, output zero point): edges, then random draws.
PARAMS = [(0.05, 3, 0.05, 3), (0.02, -128, 0.02, -128), (0.03, 127, 0.1, -128), (1e-4, 0, 1e-3, 0),
          (2.0, -10, 0.5, 20), (50.0, 20, 8.0, -3)] + [
    (float(RNG.uniform(1e-3, 0.3)), int(RNG.integers(-128, 128)),
     float(RNG.uniform(1e-3, 0.3)), int(RNG.integers(-128, 128))) for _ in range(24)]


@pytest.mark.parametrize("params", PARAMS, ids=[str(i) for i in range(len(PARAMS))])
@pytest.mark.parametrize("op", ["ABS", "EXP", "LOG"])
def test_unary_every_int8_value(op, params):
    si, zi, so, zo = params
    problem = int8_disagreement(op, [EVERY_INT8], [quant(si, zi)], [quant(so, zo)])
    assert not problem, problem


@pytest.mark.parametrize("params", PARAMS, ids=[str(i) for i in range(len(PARAMS))])
def test_elu_every_int8_value(params):
    si, zi, so, zo = params
    g = int8_graph("ELU", [EVERY_INT8], [quant(si, zi)], [quant(so, zo)])
    theirs = run_one_op(g, [EVERY_INT8], 1, reference=False, delegates=False)[0]
    np.testing.assert_array_equal(run_int8_ours(g, [EVERY_INT8])[0], theirs)


@pytest.mark.parametrize("params", PARAMS, ids=[str(i) for i in range(len(PARAMS))])
def test_sqrt_every_value_at_or_above_the_zero_point(params):
    si, zi, so, zo = params
    x = np.arange(zi, 128, dtype=np.int8).reshape(1, -1)
    problem = int8_disagreement("SQRT", [x], [quant(si, zi)], [quant(so, zo)])
    assert not problem, problem


def test_sqrt_of_a_negative_value_fails_in_both():
    x = np.array([[3, 2, 9]], np.int8)
    g = int8_graph("SQRT", [x], [quant(0.1, 3)], [quant(0.1, -128)])
    with pytest.raises(RuntimeError, match="Sqrt is only defined for non-negative values"):
        run_one_op(g, [x], 1)
    with pytest.raises(TocoError, match="negative value"):
        run_int8_ours(g, [x])


def test_abs_copies_magnitudes_when_the_scales_agree():
    problem = int8_disagreement("ABS", [EVERY_INT8], [quant(0.1, -7)], [quant(0.1, -128)])
    assert not problem, problem


@pytest.mark.parametrize("op", ["ARG_MAX", "ARG_MIN"])
@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1])
def test_arg_max_min_on_raw_values(op, axis):
    rng = np.random.default_rng(axis + 7)
    for output_type in ("int32", "int64"):
        x = data(rng, (2, 3, 5, 4))
        x[0, 0, 0, :2] = 5  # ties: the first index wins
        problem = int8_disagreement(op, [x, np.array([axis], np.int32)], [quant(0.07, 11), None], [None],
                                    {"output_type": output_type}, const={1})
        assert not problem, problem
