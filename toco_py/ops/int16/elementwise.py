"""16x8 broadcasting binary ops, bit-exact with LiteRT's reference kernels.

Which binary ops LiteRT runs on quantized int16 (tflite/kernels/*.cc of google-ai-edge/LiteRT,
read at f674577 and measured on the installed ai-edge-litert):
- ADD (add.cc) and SUB (sub.cc): two paths. The general one is int8's arithmetic with a left
  shift of 15 instead of 20; LiteRT takes it unless the op's pot_scale_int16 option (schema
  default true) is set and all three scales are powers of two (CheckedLog2), when it takes the
  power-of-two path instead: the input whose scale differs from the output's is shifted right
  (RoundingDivideByPOT on int16) and the sum saturates. Both require zero points of 0; ADD's
  power-of-two path cannot broadcast (the reference Add aborts on unequal sizes).
- MUL (mul.cc): int8's MulElementwise, zero points 0 (checked at Eval). int16 inputs with an
  int8 output take reference_integer_ops::Mul(int16 -> int8), a Q0.15 product that ignores
  the scales and cannot broadcast.
- DIV (div.cc): int8's DivElementwise on int16 values, the divisor never its zero point.
- MAXIMUM / MINIMUM (maximum_minimum.cc): compare the stored integers, as for int8.
- EQUAL / NOT_EQUAL (comparisons.cc): rescaled as int8 (left shift 8), for input scales below
  1: from 1 on, the rescaling shifts right by a negative amount, whose x86 result differs
  between the two inputs on int16 values (measured), so it is refused. LESS, LESS_EQUAL,
  GREATER, GREATER_EQUAL take int16 through their unquantized branch: they compare the raw
  integers whatever the scales, so the quantizer must give both inputs the same params.
- SQUARED_DIFFERENCE has no int16 kernel (squared_difference.cc: "only supports FLOAT32 and
  INT32"), so it has no 16x8 kernel here either.
"""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ...ir import Graph, Op
from .. import fixed_point as fx
from ..int8.common import activation_range
from ..int8.elementwise import (
    COMPARISONS,
    add_sub,
    div_quantized,
    mul_quantized,
    raw_extremum,
    rescaled_comparison,
)
from ..int8.litert import per_tensor, require_all, require_zero_points
from ..registry import register_int16

f32 = np.float32


def checked_log2(scale: np.float32) -> int | None:
    """CheckedLog2: the rounded log2 of a scale within 1e-3 of a power of two (float32
    arithmetic, as quantization_util.cc), None for any other scale."""
    x_log2 = f32(np.log(f32(scale))) * (f32(1.0) / f32(np.log(f32(2.0))))
    rounded = f32(fx.round_half_away(float(x_log2)))
    return int(rounded) if abs(float(x_log2 - rounded)) < 1e-3 else None


def _names(op: Op) -> list[str]:
    return [op.inputs[0], op.inputs[1], op.outputs[0]]


def pot_shifts(op: Op, graph: Graph) -> tuple[int, int] | None:
    """The input shifts of the power-of-two path (PrepareInt16SubOpPOT and add.cc), or None
    when LiteRT takes the general path."""
    if not op.attrs.get("pot_scale_int16", True):
        return None
    logs = [checked_log2(per_tensor(op, graph, name)[0]) for name in _names(op)]
    if None in logs:
        return None
    shifts = logs[0] - logs[2], logs[1] - logs[2]
    if 0 not in shifts or max(shifts) > 0:
        raise ConversionError(
            f"{op!r}: LiteRT's power-of-two 16-bit {op.type} needs one input at the output's "
            f"scale and the other at a smaller one (scales 2^{logs[0]}, 2^{logs[1]} -> 2^{logs[2]}); "
            "requantize an input, or set pot_scale_int16 false for the general path")
    return shifts


def _pot_add_sub(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray, shifts: tuple[int, int],
                 is_sub: bool) -> np.ndarray:
    """Add/Sub16 (and BroadcastSub16POTSlow): one input shifted right to the output's scale,
    then a saturating sum clamped to the activation range."""
    if not is_sub and np.shape(a) != np.shape(b):
        raise ConversionError(f"{op!r}: LiteRT's power-of-two 16-bit ADD cannot broadcast "
                              f"{list(np.shape(a))} against {list(np.shape(b))} (it aborts); set "
                              "pot_scale_int16 false for the general path")
    x = fx.rdbpot16(a, -shifts[0]) if shifts[0] else np.asarray(a, np.int64)
    y = fx.rdbpot16(b, -shifts[1]) if shifts[1] else np.asarray(b, np.int64)
    lo, hi = activation_range(op, per_tensor(op, graph, op.outputs[0])[0], 0, "int16")
    return np.clip(x - y if is_sub else x + y, lo, hi).astype(np.int16)


def _add_sub_kernel(is_sub: bool):
    def kernel(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        require_all(op, graph, _names(op), "int16")
        require_zero_points(op, graph, _names(op))
        shifts = pot_shifts(op, graph)
        if shifts is not None:
            return _pot_add_sub(op, graph, a, b, shifts, is_sub)
        return add_sub(op, graph, a, b, is_sub, "int16")
    return kernel


def _mul_to_int8(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """reference_integer_ops::Mul(int16, int16 -> int8): the Q0.15 product rounded to 8
    fractional bits, clamped and offset by the output zero point; the scales play no part."""
    if np.shape(a) != np.shape(b):
        raise ConversionError(f"{op!r}: LiteRT's int16 x int16 -> int8 MUL cannot broadcast "
                              f"{list(np.shape(a))} against {list(np.shape(b))}")
    scale, zero = per_tensor(op, graph, op.outputs[0])
    lo, hi = activation_range(op, scale, zero)
    product = fx.rdbpot16(fx.srdhm16(a, b), 8)
    return (np.clip(product, lo - zero, hi - zero) + zero).astype(np.int8)


def mul_int16(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    require_all(op, graph, op.inputs[:2], "int16")
    if graph.tensors[op.outputs[0]].dtype == "int8":
        return _mul_to_int8(op, graph, a, b)
    require_all(op, graph, op.outputs, "int16")
    require_zero_points(op, graph, _names(op))
    return mul_quantized(op, graph, a, b, "int16")


def div_int16(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return div_quantized(op, graph, a, b, "int16")


def _rescaled_comparison(fn):
    int8_style = rescaled_comparison(fn, "int16")

    def kernel(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        for name in op.inputs[:2]:
            scale = per_tensor(op, graph, name)[0]
            if scale >= 1:
                raise ConversionError(
                    f"{op!r}: LiteRT's 16-bit {op.type} rescales an input of scale "
                    f"{float(scale):.9g} (1 or more) by an undefined negative shift; "
                    f"requantize {name!r} to a finer scale")
        return int8_style(op, graph, a, b)
    return kernel


def _raw_comparison(fn):
    def kernel(op: Op, graph: Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        require_all(op, graph, op.inputs[:2], "int16")
        return fn(a, b)
    return kernel


register_int16("ADD", _add_sub_kernel(is_sub=False))
register_int16("SUB", _add_sub_kernel(is_sub=True))
register_int16("MUL", mul_int16)
register_int16("DIV", div_int16)
register_int16("MAXIMUM", raw_extremum(np.maximum, "int16"))
register_int16("MINIMUM", raw_extremum(np.minimum, "int16"))
for _name, _fn in COMPARISONS.items():
    _rescaled = _name in ("EQUAL", "NOT_EQUAL")
    if _rescaled:
        register_int16(_name, _rescaled_comparison(_fn))
    else:
        register_int16(_name, _raw_comparison(_fn), shared_inputs=True)
