"""16x8 SOFTMAX bit-exact with LiteRT's reference resolver: reference_ops::SoftmaxInt16
(tflite/kernels/internal/reference/softmax.h) with the tables SoftmaxPrepare builds
(activations.cc): exp over [-10, 0] and 1/(1+x) over [0, 1], both LUTPopulate<int16_t> in
double. Zero points 0; the output scale 1/32768 (within 0.1%).

LOG_SOFTMAX has no int16 kernel in LiteRT (its Eval takes float32, uint8 and int8 only).
"""
from __future__ import annotations

from functools import cache

import numpy as np

from ...errors import ConversionError
from ...ir import Graph, Op
from .. import fixed_point as fx
from ..int8.activation import _io, _libm_function
from ..int8.litert import require_zero_points
from ..registry import register_int16
from .lut import INT16_MAX, INT16_MIN, lut_lookup, lut_populate

_exp = _libm_function("exp", double=True)
OUTPUT = (1.0 / 32768, 0)
_RANGE = INT16_MAX - INT16_MIN  # 65535


@cache
def _tables() -> tuple[np.ndarray, np.ndarray]:
    """(exp on [-10, 0], 1 / (1 + x) on [0, 1]), both onto [-1, 1]."""
    exp_lut = lut_populate(10.0 / _RANGE, INT16_MAX, 2.0 / _RANGE, 0, _exp, np.float64)
    reciprocal_lut = lut_populate(1.0 / _RANGE, INT16_MIN, 2.0 / _RANGE, 0,
                                  lambda v: 1.0 / (1.0 + v), np.float64)
    return exp_lut, reciprocal_lut


def softmax_params(op: Op, graph: Graph) -> tuple[int, int]:
    """SoftmaxPrepare on int16: the multiplier taking input differences, times beta, to units
    where [-65535, 0] spans [-10, 0]."""
    (si, _), (so, _) = _io(graph, op, "int16")
    require_zero_points(op, graph, [op.inputs[0], op.outputs[0]])
    if abs(float(so) - 1.0 / 32768) > 0.001 / 32768:
        raise ConversionError(f"{op!r}: LiteRT's 16x8 SOFTMAX needs an output scale of 1/32768, "
                              f"not {float(so):.9g}")
    beta = np.float32(op.attrs.get("beta", 1.0))
    # input scale * beta in float, then divided in double.
    return fx.quantize_multiplier(float(si * beta) / (10.0 / _RANGE))


def softmax_int16(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    multiplier, shift = softmax_params(op, graph)
    exp_lut, reciprocal_lut = _tables()
    rows = x.reshape(-1, x.shape[-1]).astype(np.int64)
    diff = rows - rows.max(axis=1, keepdims=True)
    scaled = fx.scale_double_rounding(diff, multiplier, shift)
    exps = lut_lookup(exp_lut, np.clip(scaled + INT16_MAX, INT16_MIN, INT16_MAX))  # Q0.15
    sums = fx.wrap32(exps.sum(axis=1, keepdims=True))  # Q16.15
    headroom_plus_one = fx.clz32(sums)
    # The sum normalized to [1, 2) in Q1.14 (rounded), then recentred: 1/(1+x) of its fraction.
    shifted = ((sums << (headroom_plus_one - 1)) + (1 << 13)) >> 14
    centred = np.clip(shifted - (1 << 15) - (1 << 16), INT16_MIN, INT16_MAX)
    reciprocal = lut_lookup(reciprocal_lut, centred)
    right_shift = 31 - headroom_plus_one
    result = (exps * reciprocal + (np.int64(1) << (right_shift - 1))) >> right_shift
    return np.clip(result, 0, INT16_MAX).astype(np.int16).reshape(x.shape)


register_int16("SOFTMAX", softmax_int16, output=OUTPUT)
