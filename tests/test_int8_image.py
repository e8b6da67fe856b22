"""int8 RESIZE_BILINEAR against LiteRT's reference kernel: random sizes up and down, with
align_corners and half_pixel_centers."""
import numpy as np
import pytest

from tests.support.kernel_check import data, int8_disagreement, quant


@pytest.mark.parametrize("flags", [(False, False), (True, False), (False, True)],
                         ids=["plain", "align_corners", "half_pixel_centers"])
@pytest.mark.parametrize("seed", range(12))
def test_resize_bilinear(seed, flags):
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(1, 9, 2))
    out_h, out_w = (int(v) for v in rng.integers(1, 17, 2))
    x = data(rng, (2, h, w, 3))
    q = quant(float(rng.uniform(0.01, 0.2)), int(rng.integers(-128, 128)))
    problem = int8_disagreement("RESIZE_BILINEAR", [x, np.array([out_h, out_w], np.int32)], [q, None], [q],
                                {"align_corners": flags[0], "half_pixel_centers": flags[1]}, const={1})
    assert not problem, problem
