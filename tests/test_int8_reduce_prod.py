"""int8 REDUCE_PROD against LiteRT's reference kernel (QuantizedReduceProd: rescaled after each
multiplication): random shapes, axes, keep_dims and params."""
import numpy as np
import pytest

from tests.support.kernel_check import data, int8_disagreement, quant


@pytest.mark.parametrize("seed", range(30))
def test_reduce_prod(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 7, 3))
    axes = [a for a in range(3) if rng.random() < 0.5] or [int(rng.integers(0, 3))]
    x = data(rng, shape)
    in_q = quant(float(rng.uniform(0.005, 0.1)), int(rng.integers(-128, 128)))
    out_q = quant(float(rng.uniform(0.01, 1.0)), int(rng.integers(-128, 128)))
    problem = int8_disagreement("REDUCE_PROD", [x, np.array(axes, np.int32)], [in_q, None], [out_q],
                                {"keep_dims": bool(seed % 2)}, const={1})
    assert not problem, problem
