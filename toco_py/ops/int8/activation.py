"""int8 activations bit-exact with LiteRT's reference resolver: the standalone RELU family
(requantizing ReluX), LEAKY_RELU, PRELU, LOGISTIC, TANH and GELU (the 256-entry tables their
reference Prepare builds), HARD_SWISH (reference_ops::HardSwish) and L2_NORMALIZATION.

Unary ops depend on one int8 value only, so each builds the table of its 256 outputs with the
reference arithmetic and indexes it: the per-element C++ loop becomes one gather. The RELU
family, LEAKY_RELU and PRELU compute on the input's own integer type (LiteRT's kernels are
templates on it), so ops/int16/activation.py registers them for int16 too.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import math

import numpy as np

from ...errors import ConversionError
from ...ir import Graph, Op
from .. import fixed_point as fx
from ..common import RELU_OPS, activation_of
from ..registry import register_int8
from .common import dtype_range, quantized_bounds
from .elementwise import BinaryParams
from .litert import per_tensor, require_dtype, require_int8

f32 = np.float32


def domain(dtype) -> np.ndarray:
    """Every value of an integer type, ascending."""
    lo, hi = dtype_range(np.dtype(dtype).name)
    return np.arange(lo, hi + 1, dtype=np.int64)


ALL_INT8 = domain("int8")


def _io(graph: Graph, op: Op, dtype: str = "int8") -> tuple[tuple[np.float32, int], tuple[np.float32, int]]:
    for name in (op.inputs[0], op.outputs[0]):
        require_dtype(op, graph, name, (dtype,))
    return per_tensor(op, graph, op.inputs[0]), per_tensor(op, graph, op.outputs[0])


def _lookup(table: np.ndarray, x: np.ndarray) -> np.ndarray:
    """table[i] is the output for the i-th value of x's type (domain(x.dtype))."""
    return table.astype(x.dtype)[x.astype(np.int64) - int(np.iinfo(x.dtype).min)]


# ----- The RELU ops (RELU_OPS): ReluX requantizes, then clamps -----

def relu_params(op: Op, graph: Graph, dtype: str = "int8") -> tuple[int, tuple[int, int], int, int, int]:
    """(input zero point, multiplier, output zero point, clamp min, clamp max)."""
    (si, zi), (so, zo) = _io(graph, op, dtype)
    # ReluPrepare: the scale ratio in float, then QuantizeMultiplier.
    multiplier = fx.quantize_multiplier(float(f32(si) / f32(so)))
    return zi, multiplier, zo, *quantized_bounds(RELU_OPS[op.type], so, zo, dtype)


def relu_int8(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    zi, multiplier, zo, lo, hi = relu_params(op, graph, x.dtype.name)
    table = fx.wrap32(zo + fx.scale_double_rounding(domain(x.dtype) - zi, *multiplier))
    return _lookup(np.minimum(np.maximum(table, lo), hi), x)


# ----- LEAKY_RELU and PRELU -----

def leaky_relu_params(op: Op, graph: Graph, dtype: str = "int8") -> tuple[int, tuple[int, int], tuple[int, int], int]:
    """(input zero point, multiplier of x >= 0, multiplier of x < 0, output zero point)."""
    (si, zi), (so, zo) = _io(graph, op, dtype)
    alpha = f32(op.attrs.get("alpha", 0.2))
    # LeakyReluPrepare: both ratios in float arithmetic.
    m_alpha = fx.quantize_multiplier(float(f32(si) * alpha / f32(so)))
    m_identity = fx.quantize_multiplier(float(f32(si) / f32(so)))
    return zi, m_identity, m_alpha, zo


def leaky_relu_int8(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    zi, m_identity, m_alpha, zo = leaky_relu_params(op, graph, x.dtype.name)
    value = domain(x.dtype) - zi
    scaled = np.where(value >= 0, fx.scale_double_rounding(value, *m_identity),
                      fx.scale_double_rounding(value, *m_alpha))
    return _lookup(np.clip(fx.wrap32(zo + scaled), *dtype_range(x.dtype.name)), x)


def prelu_params(op: Op, graph: Graph, dtype: str = "int8") -> BinaryParams:
    """a: the multiplier of x >= 0, b: that of x < 0 (times alpha - alpha's zero point).
    Alpha is int8 whatever the input type: LiteRT's int16 PRELU reads it as int8 data."""
    for name in (op.inputs[0], op.outputs[0]):
        require_dtype(op, graph, name, (dtype,))
    require_int8(op, graph, [op.inputs[1]])
    (si, zi), (sa, za) = per_tensor(op, graph, op.inputs[0]), per_tensor(op, graph, op.inputs[1])
    so, zo = per_tensor(op, graph, op.outputs[0])
    # PreluPrepare: x >= 0 keeps si/so, x < 0 multiplies by alpha (si*sa/so), both in float.
    m_positive = fx.quantize_multiplier(float(f32(si) / f32(so)))
    m_negative = fx.quantize_multiplier(float(f32(si) * f32(sa) / f32(so)))
    return BinaryParams(zi, za, a_multiplier=m_positive[0], a_shift=m_positive[1],
                        b_multiplier=m_negative[0], b_shift=m_negative[1], out_zero=zo)


def prelu_int8(op: Op, graph: Graph, x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    p = prelu_params(op, graph, x.dtype.name)
    value = x.astype(np.int64) - p.a_zero
    alpha_value = alpha.astype(np.int64) - p.b_zero
    negative = fx.scale_double_rounding(fx.wrap32(value * alpha_value), *p.b)
    out = fx.wrap32(np.where(value >= 0, fx.scale_double_rounding(value, *p.a), negative) + p.out_zero)
    if out.shape != x.shape:
        raise ConversionError(f"{op!r}: alpha {list(alpha.shape)} broadcasts the input "
                              f"{list(x.shape)} to {list(out.shape)}; LiteRT needs the input's shape")
    return np.clip(out, *dtype_range(x.dtype.name)).astype(x.dtype)


# ----- LOGISTIC and TANH: LUTPopulate<int8_t> in float32 -----

def _libm_function(name: str, double: bool = False):
    """The C library's float function (its double one if `double`), which LiteRT's
    std::exp/std::tanh call; numpy's own routines may differ in the last bit. Falls back to
    Python's math (a correctly rounded float value from double precision) where no C library
    is found."""
    path = ctypes.util.find_library("m") or ctypes.util.find_library("c")
    kind, cast = (ctypes.c_double, float) if double else (ctypes.c_float, f32)
    try:
        fn = getattr(ctypes.CDLL(path), name)
    except (OSError, AttributeError, TypeError):
        fallback = getattr(math, name if double else name[:-1])
        return lambda v: cast(fallback(float(v)))
    fn.restype, fn.argtypes = kind, [kind]
    return lambda v: cast(fn(float(v)))


_expf = _libm_function("expf")
_tanhf = _libm_function("tanhf")


def _logistic_f32(v: np.float32) -> np.float32:
    return f32(1.0) / (f32(1.0) + _expf(-v))


def _round_half_away_f32(v: np.float32) -> np.float32:
    """roundf: ties away from zero, in float."""
    return f32(math.copysign(math.floor(abs(float(v)) + 0.5), float(v))) if math.isfinite(v) else v


def lut_table(in_scale: float, in_zero: int, out_scale: float, out_zero: int, transform) -> np.ndarray:
    """LUTPopulateInt8: dequantize, transform and requantize every int8 value in float32."""
    inverse_scale = f32(1.0) / f32(out_scale)
    table = np.empty(256, np.int64)
    for i, value in enumerate(ALL_INT8):
        dequantized = f32(in_scale) * f32(int(value) - in_zero)
        rescaled = _round_half_away_f32(transform(dequantized) * inverse_scale)
        # Clamped in float, as LUTPopulate does: an infinite EXP saturates.
        table[i] = int(min(max(rescaled + f32(out_zero), f32(-128)), f32(127)))
    return table


def logistic_int8(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    (si, zi), (so, zo) = _io(graph, op)
    if float(so) != 1.0 / 256:
        raise ConversionError(f"{op!r}: int8 LOGISTIC needs output scale 1/256 (got {so}); "
                              "LiteRT refuses others")
    return _lookup(lut_table(si, zi, so, zo, _logistic_f32), x)


def tanh_int8(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    # The reference Prepare checks nothing for int8 TANH: any output params build a table.
    (si, zi), (so, zo) = _io(graph, op)
    return _lookup(lut_table(si, zi, so, zo, _tanhf), x)


# ----- GELU: LUTPopulate<int8_t> of reference_ops::GeluTransform(Approximate) -----

_erfcf = _libm_function("erfcf")
# static_cast<float>(-M_SQRT1_2), and kSqrt2dPi = M_2_SQRTPI * M_SQRT1_2 (in double) as a float.
_NEG_SQRT_HALF = f32(-0.70710678118654752440)
_TANH_SCALE = f32(1.12837916709551257390 * 0.70710678118654752440)


def _gelu_f32(v: np.float32) -> np.float32:
    return f32(0.5) * v * _erfcf(v * _NEG_SQRT_HALF)


def _gelu_tanh_f32(v: np.float32) -> np.float32:
    cube = f32(0.044715) * v * v * v
    return f32(0.5) * v * (f32(1.0) + _tanhf(_TANH_SCALE * (v + cube)))


def gelu_int8(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    (si, zi), (so, zo) = _io(graph, op)
    transform = _gelu_tanh_f32 if op.attrs.get("approximate") else _gelu_f32
    return _lookup(lut_table(si, zi, so, zo, transform), x)


# ----- HARD_SWISH: reference_ops::HardSwish in int16 fixed point -----

def _int16_multiplier(real: np.float32) -> tuple[int, int]:
    multiplier, exponent = fx.quantize_multiplier(float(real))
    return fx.downscale_to_int16_multiplier(multiplier), exponent


def _saturating_left_shift16(value: np.ndarray, amount: int) -> np.ndarray:
    return np.clip(value * (1 << amount), fx.INT16_MIN, fx.INT16_MAX)


def _reluish(hires: np.ndarray, multiplier: int, exponent: int) -> np.ndarray:
    """The input on a scale where 3.0 is 32768, saturated, then mapped from [-1, 1] to [0, 1]."""
    value = hires
    if exponent > 0:
        value = _saturating_left_shift16(value, exponent - 1)
    value = fx.srdhm16(value, multiplier)
    if exponent > 0:
        value = _saturating_left_shift16(value, 1)
    if exponent < 0:
        value = fx.rdbpot16(value, -exponent)
    return (value + (1 << 15)) >> 1


def hard_swish_params(op: Op, graph: Graph) -> tuple[int, tuple[int, int], tuple[int, int], int]:
    """(input zero point, int16 output multiplier and exponent, the same for reluish,
    output zero point)."""
    (si, zi), (so, zo) = _io(graph, op)
    # HardSwishPrepare, in float: the input on a scale 128 times finer.
    hires_input_scale = f32(1.0 / 128.0) * f32(si)
    out_multiplier, out_exponent = _int16_multiplier(hires_input_scale / f32(so))
    if out_exponent > 0:
        raise ConversionError(f"{op!r}: input scale {si} is too large for output scale {so}; "
                              "LiteRT refuses it")
    reluish = _int16_multiplier(hires_input_scale / f32(3.0 / 32768.0))
    return zi, (out_multiplier, out_exponent), reluish, zo


def hard_swish_int8(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    zi, (out_multiplier, out_exponent), (reluish_multiplier, reluish_exponent), zo = \
        hard_swish_params(op, graph)
    hires = fx.wrap16((ALL_INT8 - zi) * (1 << 7))
    preshift_output = fx.srdhm16(hires, out_multiplier)
    reluish = _reluish(hires, reluish_multiplier, reluish_exponent)
    # SaturatingDoublingHighMul: truncating, which cancels the rounding biases above.
    product = fx.trunc_div(reluish * preshift_output, 1 << 15)
    product = np.where((reluish == fx.INT16_MIN) & (preshift_output == fx.INT16_MIN), fx.INT16_MAX, product)
    out = fx.wrap16(fx.rdbpot16(fx.wrap16(product), -out_exponent) + zo)
    return _lookup(np.clip(out, -128, 127), x)


# ----- L2_NORMALIZATION: reference_integer_ops::L2Normalization -----

def l2_normalization_params(op: Op, graph: Graph) -> int:
    """The input zero point, once L2NormPrepare's checks pass."""
    (_, zi), (so, zo) = _io(graph, op)
    if float(so) != 1.0 / 128 or zo != 0:
        raise ConversionError(f"{op!r}: int8 L2_NORMALIZATION needs output params 1/128, 0 "
                              f"(got {so}, {zo}); LiteRT refuses others")
    if activation_of(op) != "NONE":
        raise ConversionError(f"{op!r}: LiteRT's L2_NORMALIZATION takes no fused activation")
    return zi


def l2_normalization_int8(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    zi = l2_normalization_params(op, graph)
    rows = x.reshape(-1, x.shape[-1]).astype(np.int64) - zi
    acc = fx.wrap32(np.sum(rows * rows, axis=1))
    # One inverse square root per row: solve each distinct sum once.
    sums, where = np.unique(acc, return_inverse=True)
    multiplier, shift = fx.inv_sqrt_multiplier(sums)
    k_output_scale = 7  # the output is Q0.7, in 1/128 steps
    out = fx.scale_double_rounding(rows, multiplier[where][:, None], shift[where][:, None] + k_output_scale)
    return np.clip(out, -128, 127).astype(np.int8).reshape(x.shape)


for _name in RELU_OPS:
    register_int8(_name, relu_int8)
register_int8("LEAKY_RELU", leaky_relu_int8)
register_int8("PRELU", prelu_int8)
register_int8("LOGISTIC", logistic_int8)
register_int8("TANH", tanh_int8)
register_int8("GELU", gelu_int8)
register_int8("HARD_SWISH", hard_swish_int8)
register_int8("L2_NORMALIZATION", l2_normalization_int8)
