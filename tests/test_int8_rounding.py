"""Which requantization rounding LiteRT's FULLY_CONNECTED uses, measured: accumulators placed
exactly where the two roundings TFLite knows disagree. (The other kernels' roundings are
measured in their own test files: most use gemmlowp's two roundings.)"""
import numpy as np

import toco_py.ops.int8.fully_connected as fc_int8
from tests.support.kernel_check import int8_disagreement, quant
from toco_py.ops.fixed_point import (
    quantize_multiplier,
    scale_double_rounding,
    scale_single_rounding,
)

IN_SCALE, W_SCALE, OUT_SCALE = np.float32(0.0123), np.float32(0.1), np.float32(1.0)


def _disputed_accumulators() -> np.ndarray:
    """Accumulator values on which single and double rounding give different results."""
    m, s = quantize_multiplier(float(np.float32(IN_SCALE * W_SCALE)) / float(OUT_SCALE))
    acc = np.arange(-3000, 3000)
    disputed = acc[scale_single_rounding(acc, m, s) != scale_double_rounding(acc, m, s)]
    assert disputed.size >= 4
    return disputed.astype(np.int32)


def _run() -> str:
    """What differs between our FULLY_CONNECTED and LiteRT's on the disputed accumulators."""
    bias = _disputed_accumulators()
    x = np.zeros((1, 1), np.int8)  # the accumulator is the bias alone
    w = np.ones((bias.size, 1), np.int8)
    return int8_disagreement("FULLY_CONNECTED", [x, w, bias],
                             [quant(IN_SCALE), quant(W_SCALE), quant(IN_SCALE * W_SCALE)],
                             [quant(OUT_SCALE)], {}, const={1, 2})


def test_fully_connected_rounds_once():
    assert not _run()


def test_fully_connected_with_two_roundings_would_differ(monkeypatch):
    monkeypatch.setattr(fc_int8, "scale_single_rounding", scale_double_rounding)
    assert "elements differ" in _run()
