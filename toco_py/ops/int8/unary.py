"""int8 unary math bit-exact with LiteRT's kernels: ABS (elementwise.cc AbsEvalQuantized:
|q - zi| requantized), SQRT (SqrtEvalQuantized, in float32), EXP (exp.cc) and LOG
(elementwise.cc LogLUTPrepare), the 256-entry tables their Prepare builds with
LUTPopulate<int8_t> in float32, and ELU (activations.cc EluPrepare, a table too).

Each builds the table of its 256 outputs and indexes it (activation.py's _lookup). ABS and
SQRT compute on x's own type, so ops/int16/unary.py registers them for int16 too.
"""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ...ir import Graph, Op
from .. import fixed_point as fx
from ..registry import register_int8
from .activation import _io, _libm_function, _lookup, domain, lut_table
from .common import dtype_range

f32 = np.float32
_expf = _libm_function("expf")
_logf = _libm_function("logf")
_expm1f = _libm_function("expm1f")


def abs_int8(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """AbsEvalQuantized<T>, on x's own type (int8 or int16)."""
    (si, zi), (so, zo) = _io(graph, op, x.dtype.name)
    value = np.abs(domain(x.dtype) - zi)
    bounds = dtype_range(x.dtype.name)
    if f32(si) == f32(so):  # needs_rescale is false: the magnitude is copied
        return _lookup(np.clip(value + zo, *bounds), x)
    # SetAbsOutputMultiplier: the scale ratio in float, then QuantizeMultiplier.
    multiplier = fx.quantize_multiplier(float(f32(si) / f32(so)))
    return _lookup(np.clip(fx.scale_double_rounding(value, *multiplier) + zo, *bounds), x)


def sqrt_int8(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    """SqrtEvalQuantized<T>, on x's own type (int8 or int16)."""
    (si, zi), (so, zo) = _io(graph, op, x.dtype.name)
    dequantized = f32(si) * (x.astype(np.int64) - zi).astype(f32)
    if np.any(dequantized < 0):
        raise ConversionError(f"{op!r}: an {x.dtype.name} input below its zero point (a negative "
                              "value); LiteRT's SQRT fails on it")
    # static_cast<int>(root / output_scale): truncated, not rounded.
    quantized = np.trunc(np.sqrt(dequantized) / f32(so)).astype(np.int64) + zo
    return np.clip(quantized, *dtype_range(x.dtype.name)).astype(x.dtype)


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
register_int8("SQRT", sqrt_int8)
register_int8("EXP", exp_int8)
register_int8("LOG", log_int8)
register_int8("ELU", elu_int8)
