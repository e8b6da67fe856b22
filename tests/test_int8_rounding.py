"""Which requantization rounding LiteRT uses, measured: an int8 FULLY_CONNECTED whose
accumulators sit exactly where the two roundings TFLite knows disagree."""
import numpy as np
import pytest

import toco_py.quantize.fixed_point as fp
from kernel_check import compare_int8_with_litert, quant

IN_SCALE, W_SCALE, OUT_SCALE = np.float32(0.0123), np.float32(0.1), np.float32(1.0)


def _disputed_accumulators() -> np.ndarray:
    """Accumulator values on which single and double rounding give different results."""
    real = float(np.float32(IN_SCALE * W_SCALE)) / float(OUT_SCALE)
    acc = np.arange(-3000, 3000)
    results = {}
    for single in (False, True):
        fp.SINGLE_ROUNDING = single
        m, s = fp.quantize_multiplier(real)
        results[single] = fp.multiply_by_quantized_multiplier(acc, m, s)
    fp.SINGLE_ROUNDING = True
    disputed = acc[results[False] != results[True]]
    assert disputed.size >= 4
    return disputed.astype(np.int32)


def _run(single: bool):
    bias = _disputed_accumulators()
    x = np.zeros((1, 1), np.int8)  # the accumulator is the bias alone
    w = np.ones((bias.size, 1), np.int8)
    fp.SINGLE_ROUNDING = single
    try:
        compare_int8_with_litert("FULLY_CONNECTED", [x, w, bias],
                                 [quant(IN_SCALE), quant(W_SCALE), quant(IN_SCALE * W_SCALE)],
                                 [quant(OUT_SCALE)], {}, const={1, 2})
    finally:
        fp.SINGLE_ROUNDING = True


def test_litert_uses_single_rounding():
    _run(single=True)


def test_double_rounding_would_differ():
    with pytest.raises(AssertionError, match="elements differ"):
        _run(single=False)


def test_module_default_is_the_measured_one():
    assert fp.SINGLE_ROUNDING is True
