"""int8 broadcasting binary ops (ADD, SUB, MUL, SQUARED_DIFFERENCE, MAXIMUM, MINIMUM, the six
comparisons) and RSQRT, bit-exact with LiteRT's reference kernels.

Each kernel first computes its multipliers as the op's Prepare in LiteRT does (the float vs
double arithmetic of every product matters), then applies the per-element integer formula of
its reference kernel. Broadcasting is numpy's: the reference loops visit the same pairs.
"""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError, TocoError
from ...ir import Graph, Op
from ..registry import register_int8
from . import fixedpoint as fx
from .common import activation_range, scale_zero

f32 = np.float32


def _require_int8(graph: Graph, op: Op, names: list[str]) -> None:
    for name in names:
        if graph.tensors[name].dtype != "int8":
            raise ConversionError(f"{op!r}: the quantized kernel handles int8 tensors, "
                                  f"{name!r} is {graph.tensors[name].dtype}")


def _params(graph: Graph, op: Op) -> tuple[tuple[float, int], tuple[float, int], tuple[float, int]]:
    _require_int8(graph, op, [op.inputs[0], op.inputs[1], op.outputs[0]])
    return (scale_zero(graph, op.inputs[0]), scale_zero(graph, op.inputs[1]),
            scale_zero(graph, op.outputs[0]))


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


def _finish(raw: np.ndarray, multiplier: tuple[int, int], out_zero: int, lo: int, hi: int,
            rescale=fx.mbqm_smaller_than_one_exp) -> np.ndarray:
    out = fx.wrap32(rescale(raw, *multiplier) + out_zero)
    return np.clip(out, lo, hi).astype(np.int8)


def add_int8(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    (s1, z1), (s2, z2), (so, zo) = _params(graph, op)
    twice_max, m1, m2 = _input_multipliers(s1, s2)
    # add.cc always takes the below-one path for the output: above one, LiteRT aborts.
    mo = fx.multiplier_smaller_than_one(twice_max / (float(1 << 20) * float(so)), f"{op!r} output")
    raw = fx.wrap32(_rescale_input(a, z1, 20, m1) + _rescale_input(b, z2, 20, m2))
    return _finish(raw, mo, zo, *activation_range(op, so, zo))


def sub_int8(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    (s1, z1), (s2, z2), (so, zo) = _params(graph, op)
    twice_max, m1, m2 = _input_multipliers(s1, s2)
    # sub.cc accepts an output multiplier above one (very narrow output ranges), not 1 itself,
    # but then feeds it to the below-one rescaling: see fx.mbqm_smaller_than_one_exp.
    real_out = twice_max / (float(1 << 20) * float(so))
    if real_out > 1.0:
        mo = fx.multiplier_greater_than_one(real_out, f"{op!r} output")
    else:
        mo = fx.multiplier_smaller_than_one(real_out, f"{op!r} output")
    raw = fx.wrap32(_rescale_input(a, z1, 20, m1) - _rescale_input(b, z2, 20, m2))
    return _finish(raw, mo, zo, *activation_range(op, so, zo))


def mul_int8(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    (s1, z1), (s2, z2), (so, zo) = _params(graph, op)
    # mul.cc: the three scales meet in float arithmetic before QuantizeMultiplier.
    mo = fx.quantize_multiplier(float(f32(s1) * f32(s2) / f32(so)))
    product = fx.wrap32((a.astype(np.int64) - z1) * (b.astype(np.int64) - z2))
    return _finish(product, mo, zo, *activation_range(op, so, zo), rescale=fx.mbqm)


def squared_difference_int8(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    (s1, z1), (s2, z2), (so, zo) = _params(graph, op)
    twice_max, m1, m2 = _input_multipliers(s1, s2)
    # left_shift 7: the squared difference of two values shifted by 7 still fits in int32.
    real_out = twice_max * twice_max / float(f32(1 << 14) * f32(so))
    mo = fx.multiplier_smaller_than_one(real_out, f"{op!r} output")
    diff = fx.wrap32(_rescale_input(a, z1, 7, m1) - _rescale_input(b, z2, 7, m2))
    return _finish(fx.wrap32(diff * diff), mo, zo, -128, 127)


def _raw_extremum(fn):
    def kernel(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # maximum_minimum.cc compares the stored integers and ignores the quantization
        # parameters: the quantizer must give both inputs and the output the same ones.
        _require_int8(graph, op, [op.inputs[0], op.inputs[1], op.outputs[0]])
        return fn(a, b).astype(np.int8)
    return kernel


def _comparison_multiplier(scale: float, what: str) -> tuple[int, int]:
    """comparisons.cc's local QuantizeMultiplier: the scale itself as the multiplier."""
    if scale < 1.0:
        return fx.multiplier_smaller_than_one(float(scale), what)
    return fx.multiplier_greater_than_one(float(scale), what)


def _comparison(fn):
    def kernel(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        _require_int8(graph, op, [op.inputs[0], op.inputs[1]])
        (s1, z1), (s2, z2) = scale_zero(graph, op.inputs[0]), scale_zero(graph, op.inputs[1])
        # Both sides are brought to real units times 2^8 (left_shift 8), then compared.
        x = _rescale_input(a, z1, 8, _comparison_multiplier(s1, f"{op!r} input 1"))
        y = _rescale_input(b, z2, 8, _comparison_multiplier(s2, f"{op!r} input 2"))
        return fn(x, y)
    return kernel


def _rsqrt_table(in_zero: int, multiplier: tuple[int, int], out_zero: int) -> np.ndarray:
    """RsqrtEvalQuantizedInt8 for every int8 input at or above the zero point, indexed by
    input + 128 (entries below the zero point are never read)."""
    k_shift = 20  # keeps 1/sqrt(value) an integer with 20 fractional bits
    value = np.arange(-128, 128, dtype=np.int64) - in_zero
    inv_mult, inv_shift = fx.inv_sqrt_multiplier(np.maximum(value, 1))
    data = fx.mbqm(1, inv_mult, inv_shift + k_shift)
    out = fx.wrap32(fx.mbqm(data, multiplier[0], multiplier[1] - k_shift) + out_zero)
    out = np.where(value == 0, 127, out)  # zero stands for the largest output
    return np.clip(out, -128, 127).astype(np.int8)


def rsqrt_int8(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    _require_int8(graph, op, [op.inputs[0], op.outputs[0]])
    (si, zi), (so, zo) = scale_zero(graph, op.inputs[0]), scale_zero(graph, op.outputs[0])
    if np.any(x.astype(np.int64) < zi):
        raise TocoError(f"{op!r}: RSQRT is only defined for positive values (LiteRT fails the same way)")
    # SetRsqrtOutputMultiplier: sqrt and product in float, the reciprocal in double.
    multiplier = fx.quantize_multiplier(1.0 / float(f32(np.sqrt(f32(si))) * f32(so)))
    return _rsqrt_table(zi, multiplier, zo)[x.astype(np.int64) + 128]


register_int8("ADD", add_int8)
register_int8("SUB", sub_int8)
register_int8("MUL", mul_int8)
register_int8("SQUARED_DIFFERENCE", squared_difference_int8)
register_int8("MAXIMUM", _raw_extremum(np.maximum))
register_int8("MINIMUM", _raw_extremum(np.minimum))
register_int8("RSQRT", rsqrt_int8)
for _name, _fn in {"LESS": np.less, "LESS_EQUAL": np.less_equal, "GREATER": np.greater,
                   "GREATER_EQUAL": np.greater_equal, "EQUAL": np.equal,
                   "NOT_EQUAL": np.not_equal}.items():
    register_int8(_name, _comparison(_fn))
