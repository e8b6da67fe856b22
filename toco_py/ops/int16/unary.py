"""16x8 unary math bit-exact with LiteRT's reference resolver (ai-edge-litert 2.3.0, measured by
tests/test_int16_activation.py). For int16, elementwise.cc's GenericPrepare and exp.cc's Prepare
require zero points of 0.

- ABS: AbsEvalQuantized<int16_t>, SQRT: SqrtEvalQuantized<int16_t> (elementwise.cc): the int8
  kernels (ops/int8/unary.py), which compute on x's own type.
- EXP (exp.cc), LOG (elementwise.cc LogLUTPrepare) and RSQRT (elementwise.cc GenericPrepare):
  LUTPopulate<int16_t> in float, then LUTLookup (ops/int16/lut.py). RSQRT fails on a negative
  input (its Eval checks every value).
- NEG (neg.cc): reference_ops::Negate on the raw int16 values, wrapping -32768 to itself; it reads
  no quantization parameters.
"""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ...ir import Graph, Op
from .. import fixed_point as fx
from ..int8.activation import _io, _libm_function
from ..int8.litert import require_zero_points
from ..int8.unary import abs_int8, sqrt_int8
from ..registry import register_int16
from .activation import symmetric
from .lut import INT16_MAX, INT16_MIN, lut_lookup, lut_populate

f32 = np.float32
_expf = _libm_function("expf")
_logf = _libm_function("logf")


def _lut_kernel(op: Op, graph: Graph, x: np.ndarray, transform) -> np.ndarray:
    """transform(output scale) is the float function the op's table samples."""
    (si, zi), (so, zo) = _io(graph, op, "int16")
    require_zero_points(op, graph, [op.inputs[0], op.outputs[0]])
    return lut_lookup(lut_populate(si, zi, so, zo, transform(so)), x).astype(np.int16)


def exp_int16(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    return _lut_kernel(op, graph, x, lambda so: _expf)


def log_int16(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    def log_or_min(so):
        # Non-positive inputs map to the lowest output value, in float32.
        output_min = f32(INT16_MIN) * f32(so)
        return lambda v: _logf(v) if v > 0 else output_min
    return _lut_kernel(op, graph, x, log_or_min)


def rsqrt_int16(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    if np.any(x < 0):
        raise ConversionError(f"{op!r}: a negative int16 input; LiteRT's RSQRT fails on it")

    def rsqrt_or_max(so):
        # Non-positive inputs map to the highest output value, in float32.
        output_max = f32(INT16_MAX) * f32(so)
        return lambda v: f32(1.0) / np.sqrt(v) if v > 0 else output_max
    return _lut_kernel(op, graph, x, rsqrt_or_max)


def neg_int16(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    return fx.wrap16(-x.astype(np.int64)).astype(np.int16)


register_int16("ABS", symmetric(abs_int8))
register_int16("SQRT", symmetric(sqrt_int8))
register_int16("EXP", exp_int16)
register_int16("LOG", log_int16)
register_int16("RSQRT", rsqrt_int16)
register_int16("NEG", neg_int16)
