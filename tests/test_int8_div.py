"""int8 DIV against LiteRT's reference kernel: every (dividend, divisor) int8 pair under
random params, with fused activations and broadcasting; a divisor at its zero point (a real
zero) fails in both."""
import numpy as np
import pytest

from tests.support.kernel_check import int8_disagreement, int8_graph, quant, run_int8_ours, run_one_op
from toco_py.errors import TocoError

EVERY = np.arange(-128, 128, dtype=np.int8)
DIVIDENDS, DIVISORS = np.repeat(EVERY, 256).reshape(256, 256), np.tile(EVERY, 256).reshape(256, 256)
RNG = np.random.default_rng(21)
# (s1, z1, s2, z2, so, zo): the edges of the scales, then random draws.
PARAMS = [(0.5, 0, 1e-3, 0, 1e-3, 0), (1e-3, -128, 0.5, 127, 2.0, -128), (0.1, 5, 0.1, 5, 0.1, 5)] + [
    (float(RNG.uniform(1e-3, 0.3)), int(RNG.integers(-128, 128)), float(RNG.uniform(1e-3, 0.3)),
     int(RNG.integers(-128, 128)), float(RNG.uniform(1e-3, 0.5)), int(RNG.integers(-128, 128)))
    for _ in range(20)]


def _without_zero(divisors: np.ndarray, zero: int) -> np.ndarray:
    out = divisors.copy()
    out[out == zero] = np.int8(zero + 1 if zero < 127 else zero - 1)
    return out


@pytest.mark.parametrize("act", ["NONE", "RELU", "RELU6"])
@pytest.mark.parametrize("params", PARAMS, ids=[str(i) for i in range(len(PARAMS))])
def test_every_pair(params, act):
    s1, z1, s2, z2, so, zo = params
    divisors = _without_zero(DIVISORS, z2)
    problem = int8_disagreement("DIV", [DIVIDENDS, divisors], [quant(s1, z1), quant(s2, z2)],
                                [quant(so, zo)], {"fused_activation_function": act})
    assert not problem, problem


def test_broadcasting():
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, (2, 3, 4, 5)).astype(np.int8)
    b = _without_zero(rng.integers(-128, 128, (1, 3, 1, 5)).astype(np.int8), -20)
    problem = int8_disagreement("DIV", [a, b], [quant(0.05, 7), quant(0.02, -20)], [quant(0.3, -4)],
                                {"fused_activation_function": "NONE"})
    assert not problem, problem


def test_divisor_at_its_zero_point_fails_in_both():
    a, b = np.ones((1, 4), np.int8), np.array([[3, 9, 4, 5]], np.int8)
    g = int8_graph("DIV", [a, b], [quant(0.1, 0), quant(0.1, 9)], [quant(0.1, 0)],
                   {"fused_activation_function": "NONE"})
    with pytest.raises(RuntimeError, match="Node number 0 \\(DIV\\) failed"):
        run_one_op(g, [a, b], 1)
    with pytest.raises(TocoError, match="divisor equals its zero point"):
        run_int8_ours(g, [a, b])
