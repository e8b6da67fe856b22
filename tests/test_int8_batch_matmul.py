"""int8 BATCH_MATMUL against LiteRT's reference kernel: random shapes, adjoints, batch
broadcasting and params (both operands asymmetric, per tensor)."""
import numpy as np
import pytest

from tests.support.kernel_check import data, int8_disagreement, quant


@pytest.mark.parametrize("seed", range(24))
def test_batch_matmul(seed):
    rng = np.random.default_rng(seed)
    adj_x, adj_y = bool(seed % 2), bool((seed // 2) % 2)
    m, k, n = (int(v) for v in rng.integers(1, 40, 3))
    a_batch, b_batch = [(2, 3), (1, 3)] if seed % 3 else [(3,), (3,)]
    a = data(rng, a_batch + ((k, m) if adj_x else (m, k)))
    b = data(rng, b_batch + ((n, k) if adj_y else (k, n)))
    params = [quant(float(rng.uniform(1e-3, 0.1)), int(rng.integers(-128, 128))) for _ in range(2)]
    out = quant(float(rng.uniform(0.01, 2.0)), int(rng.integers(-128, 128)))
    problem = int8_disagreement("BATCH_MATMUL", [a, b], params, [out],
                                {"adj_x": adj_x, "adj_y": adj_y, "asymmetric_quantize_inputs": False})
    assert not problem, problem
