"""16x8 activations bit-exact with LiteRT's reference resolver (ai-edge-litert 2.3.0, measured
by tests/test_int16_activation.py; sources in tflite/kernels/activations.cc).

Which ops run on int16, and how:
- RELU, RELU6: ReluPrepare/QuantizedReluX<int16_t>, the int8 arithmetic on int16 bounds; zero
  points 0. LEAKY_RELU: reference_ops::QuantizeLeakyRelu<int16_t>, zero points 0. PRELU:
  reference_ops::Prelu<int16_t, int8_t> (alpha stays int8; no zero point check). These
  register the int8 kernels (ops/int8/activation.py), which compute on x's own type.
- LOGISTIC, TANH: reference_integer_ops::Logistic/Tanh(int16): the input rescaled to 1/(3*4096)
  units (a power-of-two scale takes a shortcut), then sigmoid_table_uint16 interpolated. Zero
  points 0; the output scale 2^-15 (LOGISTIC: exactly 1/32768).
- GELU: LUTPopulate<int16_t> of GeluTransform(Approximate) in float, then LUTLookup.
- Not on int16 in LiteRT: RELU_N1_TO_1, RELU_0_TO_1, HARD_SWISH, ELU (its reference resolver
  has no ELU at all), L2_NORMALIZATION (Prepare refuses an int16 output).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...errors import ConversionError
from ...ir import Graph, Op
from .. import fixed_point as fx
from ..int8.activation import (
    _gelu_f32,
    _gelu_tanh_f32,
    _io,
    _libm_function,
    leaky_relu_int8,
    prelu_int8,
    relu_int8,
)
from ..int8.litert import require_zero_points
from ..registry import register_int16
from .lut import lut_lookup, lut_populate

f32 = np.float32
_logf = _libm_function("logf")
OUTPUT_Q015 = (1.0 / 32768, 0)  # LOGISTIC's and TANH's int16 output: Q0.15


def symmetric(kernel: Callable) -> Callable:
    """The kernel, once its op's input and output pass LiteRT's int16 zero point checks."""
    def checked(op: Op, graph: Graph, *arrays):
        require_zero_points(op, graph, [op.inputs[0], op.outputs[0]])
        return kernel(op, graph, *arrays)
    checked.__name__ = checked.__qualname__ = f"symmetric_{kernel.__name__}"
    return checked


# ----- LOGISTIC and TANH: sigmoid_table_uint16, interpolated -----

# sigmoid(i / 24) in Q0.16 (common.h sigmoid_table_uint16); tanh(x) = 2 sigmoid(2x) - 1 shares it.
SIGMOID_TABLE = np.array([
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794,
    41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443,
    48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169, 53581, 53983, 54374,
    54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544,
    58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279,
    61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990,
    63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030,
    64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652,
    64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019,
    65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234,
    65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360,
    65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476,
    65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498, 65500, 65501,
    65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516,
    65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529,
    65529, 65530, 65530, 65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532,
    65532, 65532, 65532, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65534, 65534,
    65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535], dtype=np.int64)


def checked_log2(x: float) -> tuple[bool, int]:
    """CheckedLog2, in float: (whether x is a power of two within 1e-3 in log2, its log2)."""
    x_log2 = _logf(f32(x)) * (f32(1.0) / _logf(f32(2.0)))
    rounded = f32(fx.round_half_away(float(x_log2)))  # exact: float32 values are doubles
    return bool(abs(x_log2 - rounded) < f32(1e-3)), int(rounded)


def sigmoid_input_scaling(op: Op, graph: Graph, pot_shifts: tuple[int, ...]) -> tuple[int, int]:
    """Sigmoid/TanhPrepare on int16: (multiplier, right shift) taking the input to units of
    1/(3*4096). A power-of-two input scale whose shift is in pot_shifts multiplies by 3 << shift
    instead (the Eval's input_multiplier == 0 case). The output scale must be 2^-15."""
    (si, _), (so, _) = _io(graph, op, "int16")
    require_zero_points(op, graph, [op.inputs[0], op.outputs[0]])
    is_pot, log2 = checked_log2(si)
    input_bits = 3
    left_shift = 15 - input_bits + log2
    if is_pot and left_shift in pot_shifts:
        multiplier, shift = 3 << left_shift, 0
    else:
        real, shift = float(si) * 4096.0 * 3.0, 0
        while real <= 32767.0 / 2.0 and shift <= 30:
            real, shift = real * 2.0, shift + 1
        multiplier = int(real)
    out_pot, out_log2 = checked_log2(so)
    if not out_pot or out_log2 != -15:
        raise ConversionError(f"{op!r}: LiteRT's 16x8 {op.type} needs an output scale of 2^-15, "
                              f"not {float(so):.9g}")
    return multiplier, shift


def _table_input(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """(x * multiplier + round) >> shift in int32: the input in 1/(3*4096) units."""
    rounding = (1 << (shift - 1)) if shift > 0 else 0
    return fx.wrap32(x.astype(np.int64) * multiplier + rounding) >> shift


def _interpolate(magnitude: np.ndarray, fraction_bits: int, saturated: int) -> np.ndarray:
    """The table at |input| >> fraction_bits, interpolated with the bits below; `saturated`
    from entry 255 on."""
    high = magnitude >> fraction_bits
    index = np.minimum(high, 254)
    low, up = SIGMOID_TABLE[index], SIGMOID_TABLE[index + 1]
    fraction = magnitude & ((1 << fraction_bits) - 1)
    return np.where(high >= 255, saturated, (low << fraction_bits) + fraction * (up - low))


def logistic_input_scaling(op: Op, graph: Graph) -> tuple[int, int]:
    """LOGISTIC's sigmoid_input_scaling, once its output scale is exactly 1/32768."""
    (_, _), (so, _) = _io(graph, op, "int16")
    if float(so) != 1.0 / 32768:
        raise ConversionError(f"{op!r}: LiteRT's 16x8 LOGISTIC needs an output scale of exactly "
                              f"1/32768, not {float(so):.9g}")
    return sigmoid_input_scaling(op, graph, pot_shifts=(0,))


def tanh_input_scaling(op: Op, graph: Graph) -> tuple[int, int]:
    return sigmoid_input_scaling(op, graph, pot_shifts=(0, 1))


def logistic_int16(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    value = _table_input(x, *logistic_input_scaling(op, graph))
    result = _interpolate(np.abs(value), 9, 0x7FFF << 10)
    # sigmoid(-x) = 1 - sigmoid(x), then Q0.25 to Q0.15 rounding half up.
    result = np.where(value >= 0, result + (1 << 9), (1 << 25) - result + (1 << 9) - 1)
    return fx.wrap16(result >> 10).astype(np.int16)


def tanh_int16(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    value = _table_input(x, *tanh_input_scaling(op, graph))
    result = _interpolate(np.abs(value), 8, 0xFFFF << 8)
    # 2 sigmoid - 1, odd in x, from Q0.24 to Q0.15.
    result = np.where(value >= 0, result - (1 << 23) + (1 << 7), -result + (1 << 23) + (1 << 7) - 1)
    return fx.wrap16(result >> 8).astype(np.int16)


# ----- GELU: LUTPopulate<int16_t> in float -----

def gelu_int16(op: Op, graph: Graph, x: np.ndarray) -> np.ndarray:
    (si, zi), (so, zo) = _io(graph, op, "int16")
    transform = _gelu_tanh_f32 if op.attrs.get("approximate") else _gelu_f32
    return lut_lookup(lut_populate(si, zi, so, zo, transform), x).astype(np.int16)


for _name in ("RELU", "RELU6"):
    register_int16(_name, symmetric(relu_int8))
register_int16("LEAKY_RELU", symmetric(leaky_relu_int8))
register_int16("PRELU", prelu_int8)
register_int16("LOGISTIC", logistic_int16, output=OUTPUT_Q015)
register_int16("TANH", tanh_int16, output=OUTPUT_Q015)
register_int16("GELU", gelu_int16)
