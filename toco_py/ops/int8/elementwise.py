"""int8 broadcasting binary ops (ADD, SUB, MUL, DIV, SQUARED_DIFFERENCE, MAXIMUM, MINIMUM, the
six comparisons) and RSQRT, bit-exact with LiteRT's reference kernels.

Each kernel first computes its multipliers as the op's Prepare in LiteRT does (the float vs
double arithmetic of every product matters), then applies the per-element integer formula of
its reference kernel. Broadcasting is numpy's: the reference loops visit the same pairs.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...errors import ConversionError, TocoError
from ...ir import Graph, Op
from .. import fixed_point as fx
from ..registry import register_int8
from .common import activation_range
from .litert import per_tensor, require_all, require_int8

f32 = np.float32
COMPARISONS = {"LESS": np.less, "LESS_EQUAL": np.less_equal, "GREATER": np.greater,
               "GREATER_EQUAL": np.greater_equal, "EQUAL": np.equal, "NOT_EQUAL": np.not_equal}


class BinaryParams(NamedTuple):
    """What a binary op's Prepare works out, as the fields (in order) of the C bundles'
    tk_binary_s8_params (codegen/kernels/toco_kernels_s8b.h); unused ones stay 0 and the
    clamp int8's whole range. PRELU: a is the multiplier of x >= 0, b that of x < 0."""
    a_zero: int = 0
    b_zero: int = 0
    left_shift: int = 0
    a_multiplier: int = 0
    a_shift: int = 0
    b_multiplier: int = 0
    b_shift: int = 0
    out_multiplier: int = 0
    out_shift: int = 0
    out_zero: int = 0
    act_min: int = -128
    act_max: int = 127

    @property
    def a(self) -> tuple[int, int]:
        return self.a_multiplier, self.a_shift

    @property
    def b(self) -> tuple[int, int]:
        return self.b_multiplier, self.b_shift

    @property
    def out(self) -> tuple[int, int]:
        return self.out_multiplier, self.out_shift


def _params(graph: Graph, op: Op, dtype: str = "int8") -> list[tuple[np.float32, int]]:
    require_all(op, graph, [op.inputs[0], op.inputs[1], op.outputs[0]], dtype)
    return [per_tensor(op, graph, name) for name in (op.inputs[0], op.inputs[1], op.outputs[0])]


def _rescale_input(x: np.ndarray, zero: int, left_shift: int, multiplier: tuple[int, int]) -> np.ndarray:
    """(x - zero) << left_shift, then the input's multiplier: both inputs land on a common
    scale, with left_shift bits of headroom."""
    shifted = (x.astype(np.int64) - zero) * (1 << left_shift)
    return fx.mbqm_smaller_than_one_exp(shifted, *multiplier)


def _input_multipliers(s1: float, s2: float) -> tuple[float, tuple[int, int], tuple[int, int]]:
    """add.cc/sub.cc: twice the larger scale, in double (exact: a power-of-two product)."""
    twice_max = 2.0 * float(max(f32(s1), f32(s2)))
    m1 = fx.multiplier_smaller_than_one(float(s1) / twice_max, "input 1")
    m2 = fx.multiplier_smaller_than_one(float(s2) / twice_max, "input 2")
    return twice_max, m1, m2


def _rescaled_inputs(p: BinaryParams, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (_rescale_input(a, p.a_zero, p.left_shift, p.a),
            _rescale_input(b, p.b_zero, p.left_shift, p.b))


def _finish(raw: np.ndarray, p: BinaryParams, rescale=fx.mbqm_smaller_than_one_exp,
            dtype: str = "int8") -> np.ndarray:
    out = fx.wrap32(rescale(raw, *p.out) + p.out_zero)
    return np.clip(out, p.act_min, p.act_max).astype(dtype)


# add.cc/sub.cc's headroom: 20 bits for 8-bit inputs, 15 for 16-bit ones (a 16-bit difference
# shifted by 15 still fits in int32).
ADD_LEFT_SHIFT = {"int8": 20, "int16": 15}


def add_sub_params(op: Op, graph: Graph, is_sub: bool, dtype: str = "int8") -> BinaryParams:
    (s1, z1), (s2, z2), (so, zo) = _params(graph, op, dtype)
    twice_max, m1, m2 = _input_multipliers(s1, s2)
    left_shift = ADD_LEFT_SHIFT[dtype]
    real_out = twice_max / (float(1 << left_shift) * float(so))
    if is_sub:
        # sub.cc accepts an output multiplier above one (very narrow output ranges), not 1
        # itself, but then feeds it to the below-one rescaling: see fx.mbqm_smaller_than_one_exp.
        mo = fx.multiplier_either_side(real_out, f"{op!r} output", one_above=False)
    else:
        # add.cc always takes the below-one path for the output: above one, LiteRT aborts.
        mo = fx.multiplier_smaller_than_one(real_out, f"{op!r} output")
    return BinaryParams(z1, z2, left_shift, *m1, *m2, *mo, zo, *activation_range(op, so, zo, dtype))


def add_sub(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray, is_sub: bool,
            dtype: str = "int8") -> np.ndarray:
    """reference AddElementwise / SubElementwise (their general path for int16)."""
    p = add_sub_params(op, graph, is_sub, dtype)
    x, y = _rescaled_inputs(p, a, b)
    return _finish(fx.wrap32(x - y if is_sub else x + y), p, dtype=dtype)


def add_int8(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return add_sub(op, graph, a, b, is_sub=False)


def sub_int8(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return add_sub(op, graph, a, b, is_sub=True)


def mul_params(op: Op, graph: Graph, dtype: str = "int8") -> BinaryParams:
    (s1, z1), (s2, z2), (so, zo) = _params(graph, op, dtype)
    # mul.cc: the three scales meet in float arithmetic before QuantizeMultiplier.
    mo = fx.quantize_multiplier(float(f32(s1) * f32(s2) / f32(so)))
    lo, hi = activation_range(op, so, zo, dtype)
    return BinaryParams(z1, z2, out_multiplier=mo[0], out_shift=mo[1], out_zero=zo, act_min=lo,
                        act_max=hi)


def mul_quantized(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray, dtype: str = "int8") -> np.ndarray:
    """MulElementwise: the product of two 16-bit values still fits in int32."""
    p = mul_params(op, graph, dtype)
    product = fx.wrap32((a.astype(np.int64) - p.a_zero) * (b.astype(np.int64) - p.b_zero))
    return _finish(product, p, rescale=fx.scale_double_rounding, dtype=dtype)


def mul_int8(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return mul_quantized(op, graph, a, b)


def div_params(op: Op, graph: Graph, dtype: str = "int8") -> BinaryParams:
    (s1, z1), (s2, z2), (so, zo) = _params(graph, op, dtype)
    # div.cc: input1_scale / (input2_scale * output_scale) in float, then QuantizeMultiplier.
    mo = fx.quantize_multiplier(float(f32(s1) / (f32(s2) * f32(so))))
    lo, hi = activation_range(op, so, zo, dtype)
    return BinaryParams(z1, z2, out_multiplier=mo[0], out_shift=mo[1], out_zero=zo, act_min=lo,
                        act_max=hi)


def _leading_sign_bits(x: np.ndarray) -> np.ndarray:
    """CountLeadingSignBits of int32 values (x > INT32_MIN here: int8 or int16 differences)."""
    return np.where(x >= 0, fx.clz32(x) - 1, fx.clz32(2 * -x - 1))


def _rdbpot_int32(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """RoundingDivideByPOT on int32 for any exponent: from 32 on, its mask (1ll << e) - 1
    truncates to -1 and x86 masks the shift count to e & 31 (measured: a tiny quotient of a
    large dividend saturates)."""
    wide = exponent >= 32
    mask = np.where(wide, -1, (np.int64(1) << np.minimum(exponent, 31)) - 1)
    remainder = np.where(wide, x, x & mask)
    threshold = (mask >> 1) + (x < 0)
    return (x >> (exponent & 31)) + (remainder > threshold)


def div_quantized(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray, dtype: str = "int8") -> np.ndarray:
    """reference_ops::DivElementwise: the dividend times the divisor's reciprocal (GetReciprocal),
    each at full precision, then a per-element shift to the output scale."""
    p = div_params(op, graph, dtype)
    if np.any(b == p.b_zero):
        raise ConversionError(f"{op!r}: an {dtype} divisor equals its zero point (divides by zero); "
                              "LiteRT's CheckNonZero fails on it")
    x, y = np.broadcast_arrays(a.astype(np.int64) - p.a_zero, b.astype(np.int64) - p.b_zero)
    x, y = np.where(y < 0, -x, x), np.abs(y)  # the reciprocal must be positive
    inverse, recip_shift = fx.get_reciprocal(y, 31)
    headroom = _leading_sign_bits(x)
    unscaled = fx.srdhm(x << headroom, inverse)
    shift = p.out_shift - recip_shift - headroom
    high = fx.srdhm(unscaled, p.out_multiplier)
    # MultiplyByQuantizedMultiplierSmallerThanOneExp; a positive shift is the x86 build's
    # masked shift counts (see fx.mbqm_smaller_than_one_exp).
    down = _rdbpot_int32(high, np.maximum(-shift, 0))
    up = (high >> np.clip(32 - shift, 0, 63)) + (high >= 0)
    out = fx.wrap32(np.where(shift <= 0, down, up) + p.out_zero)
    return np.clip(out, p.act_min, p.act_max).astype(dtype)


def div_int8(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return div_quantized(op, graph, a, b)


def squared_difference_params(op: Op, graph: Graph) -> BinaryParams:
    (s1, z1), (s2, z2), (so, zo) = _params(graph, op)
    twice_max, m1, m2 = _input_multipliers(s1, s2)
    # left_shift 7: the squared difference of two values shifted by 7 still fits in int32.
    real_out = twice_max * twice_max / float(f32(1 << 14) * f32(so))
    mo = fx.multiplier_smaller_than_one(real_out, f"{op!r} output")
    return BinaryParams(z1, z2, 7, *m1, *m2, *mo, zo)


def squared_difference_int8(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    p = squared_difference_params(op, graph)
    x, y = _rescaled_inputs(p, a, b)
    diff = fx.wrap32(x - y)
    return _finish(fx.wrap32(diff * diff), p)


def raw_extremum(fn, dtype: str = "int8"):
    def kernel(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # maximum_minimum.cc compares the stored integers and ignores the quantization
        # parameters: the quantizer must give both inputs and the output the same ones.
        require_all(op, graph, [op.inputs[0], op.inputs[1], op.outputs[0]], dtype)
        return fn(a, b).astype(dtype)
    return kernel


def comparison_params(op: Op, graph: Graph, dtype: str = "int8") -> BinaryParams:
    """comparisons.cc: both sides brought to real units times 2^8 (left_shift 8), its local
    QuantizeMultiplier taking each scale itself as the multiplier."""
    require_all(op, graph, [op.inputs[0], op.inputs[1]], dtype)
    (s1, z1), (s2, z2) = per_tensor(op, graph, op.inputs[0]), per_tensor(op, graph, op.inputs[1])
    m1 = fx.multiplier_either_side(float(s1), f"{op!r} input 1", one_above=True)
    m2 = fx.multiplier_either_side(float(s2), f"{op!r} input 2", one_above=True)
    return BinaryParams(z1, z2, 8, *m1, *m2)


def rescaled_comparison(fn, dtype: str = "int8"):
    def kernel(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return fn(*_rescaled_inputs(comparison_params(op, graph, dtype), a, b))
    return kernel


def _rsqrt_table(in_zero: int, multiplier: tuple[int, int], out_zero: int) -> np.ndarray:
    """RsqrtEvalQuantizedInt8 for every int8 input at or above the zero point, indexed by
    input + 128 (entries below the zero point are never read)."""
    k_shift = 20  # keeps 1/sqrt(value) an integer with 20 fractional bits
    value = np.arange(-128, 128, dtype=np.int64) - in_zero
    inv_mult, inv_shift = fx.inv_sqrt_multiplier(np.maximum(value, 1))
    data = fx.scale_double_rounding(1, inv_mult, inv_shift + k_shift)
    out = fx.wrap32(fx.scale_double_rounding(data, multiplier[0], multiplier[1] - k_shift) + out_zero)
    out = np.where(value == 0, 127, out)  # zero stands for the largest output
    return np.clip(out, -128, 127).astype(np.int8)


def rsqrt_params(op: Op, graph: Graph) -> tuple[int, tuple[int, int], int]:
    """(input zero point, output multiplier, output zero point)."""
    require_int8(op, graph, [op.inputs[0], op.outputs[0]])
    (si, zi), (so, zo) = per_tensor(op, graph, op.inputs[0]), per_tensor(op, graph, op.outputs[0])
    # SetRsqrtOutputMultiplier: sqrt and product in float, the reciprocal in double.
    return zi, fx.quantize_multiplier(1.0 / float(f32(np.sqrt(f32(si))) * f32(so))), zo


def rsqrt_int8(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    require_int8(op, graph, [op.inputs[0], op.outputs[0]])
    if np.any(x.astype(np.int64) < per_tensor(op, graph, op.inputs[0])[1]):
        raise TocoError(f"{op!r}: RSQRT is only defined for positive values (LiteRT fails the same way)")
    zi, multiplier, zo = rsqrt_params(op, graph)
    return _rsqrt_table(zi, multiplier, zo)[x.astype(np.int64) + 128]


register_int8("ADD", add_int8)
register_int8("SUB", sub_int8)
register_int8("MUL", mul_int8)
register_int8("DIV", div_int8)
register_int8("SQUARED_DIFFERENCE", squared_difference_int8)
register_int8("MAXIMUM", raw_extremum(np.maximum))
register_int8("MINIMUM", raw_extremum(np.minimum))
register_int8("RSQRT", rsqrt_int8)
for _name, _fn in COMPARISONS.items():
    register_int8(_name, rescaled_comparison(_fn))
