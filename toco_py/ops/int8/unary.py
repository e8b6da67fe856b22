"""int8 unary math bit-exact with LiteRT's kernels: ABS (elementwise.cc AbsEvalQuantized:
|q - zi| requantized), EXP (exp.cc) and LOG (elementwise.cc LogLUTPrepare), the 256-entry
tables their Prepare builds with LUTPopulate<int8_t> in float32, and ELU
(activations.cc EluPrepare, a table too).
"""
from __future__ import annotations

import numpy as np

from ...ir import Graph, Op
from .. import fixed_point as fx
from ..registry import register_int8
from .activation import ALL_INT8, _io, _libm_function, _lookup, lut_table

f32 = np.float32
_expf = _libm_function("expf")
_logf = _libm_function("logf")
_expm1f = _libm_function("expm1f")


def abs_int8(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    (si, zi), (so, zo) = _io(graph, op)
    value = np.abs(ALL_INT8 - zi)
    if f32(si) == f32(so):  # needs_rescale is false: the magnitude is copied
        return _lookup(np.clip(value + zo, -128, 127), x)
    # SetAbsOutputMultiplier: the scale ratio in float, then QuantizeMultiplier.
    multiplier = fx.quantize_multiplier(float(f32(si) / f32(so)))
    return _lookup(np.clip(fx.scale_double_rounding(value, *multiplier) + zo, -128, 127), x)


def exp_int8(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    (si, zi), (so, zo) = _io(graph, op)
    return _lookup(lut_table(si, zi, so, zo, _expf), x)


def log_int8(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    (si, zi), (so, zo) = _io(graph, op)
    # Non-positive inputs map to the lowest output value, in float32.
    output_min = f32(-128 - zo) * f32(so)
    return _lookup(lut_table(si, zi, so, zo, lambda v: _logf(v) if v > 0 else output_min), x)


def elu_int8(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    (si, zi), (so, zo) = _io(graph, op)
    return _lookup(lut_table(si, zi, so, zo, lambda v: _expm1f(v) if v < 0 else v), x)


register_int8("ABS", abs_int8)
register_int8("EXP", exp_int8)
register_int8("LOG", log_int8)
register_int8("ELU", elu_int8)
