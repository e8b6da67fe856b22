"""FakeQuant on an activation -> TFLite ops that compute what TensorFlow computes.

A float model trained with fake quantization snaps its activations to a grid; dropping the
nodes changes its outputs (by up to a grid step per node). Which ops reproduce TensorFlow's
numbers was measured against TensorFlow 2.21 and LiteRT, on 100 000 normal samples per
range (tests/test_fake_quant.py keeps the checks):

- FAKE_QUANT when the nudged minimum is 0 (ranges [0, x], ReLU-like activations): equal.
  Elsewhere its "+ nudged_min" is an ulp off on 40-70% of the elements.
- QUANTIZE + DEQUANTIZE otherwise: DEQUANTIZE's (q - zero_point) * scale is TensorFlow's
  final multiply, so the values are equal in LiteRT's default configuration (XNNPACK) and
  its reference kernels. (Its builtin kernels without delegates dequantize int8 an ulp off
  when the zero point is not 0, on 30-55% of the elements; FAKE_QUANT does no better there.)
  Both forms round x / scale where TensorFlow rounds (x - min) * inv_scale + 0.5, which
  differs within an ulp of a rounding tie (0-2 elements per 100 000), as TensorFlow's own
  Args and Vars kernels differ from each other there. This form also serves what FAKE_QUANT
  cannot: narrow range and per-channel bounds (TF 2.21's converter fails on
  FakeQuantWithMinMaxVarsPerChannel and clamps a narrow range one level too low).

The storage type clamps for free when the grid fills it (8 bits into int8); otherwise a
MINIMUM / MAXIMUM with the nudged bounds clamps first, as TensorFlow does.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConversionError
from ..ir import Graph, Op, QuantParams, Tensor
from ..ops.fake_quant import FAKE_QUANT_TYPES, fake_quant_grid, nudge, quant_range
from ..ops.quantize_ops import quant_attrs
from .base import Pass
from .drop_fake_quant import constant_bounds

INT16 = (-(1 << 15), (1 << 15) - 1)


@dataclass
class _Grid:
    """TensorFlow's nudged grid of one FakeQuant, per tensor (0-d arrays) or per channel."""
    nudged_min: np.ndarray
    nudged_max: np.ndarray
    scale: np.ndarray
    zero: np.ndarray  # the integer level of 0.0
    quant_min: int
    quant_max: int
    zeros: np.ndarray  # channels with min == max == 0, which TensorFlow sets to 0


def _grid(op: Op, lo: np.ndarray, hi: np.ndarray) -> _Grid:
    nudged_min, nudged_max, scale, zero, qmin, qmax = fake_quant_grid(op, lo, hi)
    zeros = (lo == 0) & (hi == 0)
    # A zero channel becomes the grid {0} of step 1: clamped to [0, 0], it dequantizes to 0.
    return _Grid(np.where(zeros, 0, nudged_min).astype(np.float32),
                 np.where(zeros, 0, nudged_max).astype(np.float32),
                 np.where(zeros, 1, scale).astype(np.float32),
                 np.where(zeros, qmin, zero).astype(np.int64), qmin, qmax, zeros)


def _is_fake_quant_exact(op: Op, grid: _Grid) -> bool:
    """FAKE_QUANT equals TensorFlow where nudged_min is 0; it has no narrow or per-channel form."""
    return (op.type == "FakeQuant" and grid.nudged_min.ndim == 0 and not op.attrs.get("narrow_range")
            and not grid.zeros.any() and float(grid.nudged_min) == 0.0)


def _storage(op: Op, grid: _Grid) -> tuple[str, np.ndarray, tuple[int, int]]:
    """(dtype, zero points, integer range) holding every level of the grid. int8 puts
    quant_min at -128; LiteRT's int16 (DE)QUANTIZE needs zero point 0."""
    if grid.quant_max - grid.quant_min <= 255:
        return "int8", grid.zero - grid.quant_min - 128, (-128, 127)
    low, high = grid.quant_min - grid.zero, grid.quant_max - grid.zero
    if np.any(low < INT16[0]) or np.any(high > INT16[1]):
        raise ConversionError(
            f"fake-quant node {op.name or op.outputs[0]!r}: {op.attrs.get('num_bits')} bits with "
            "the zero point off the middle have no exact TFLite form (int16 needs zero point 0); "
            "pass --drop_fake_quant to drop the node")
    return "int16", np.zeros_like(grid.zero), INT16


def _clamps(grid: _Grid, zero_point: np.ndarray, limits: tuple[int, int]) -> list[tuple[str, np.ndarray]]:
    """The MAXIMUM / MINIMUM a grid needs where the storage type's own clamping is wider."""
    levels_low = grid.quant_min - grid.zero + zero_point  # quant_min in storage units
    levels_high = np.where(grid.zeros, zero_point, grid.quant_max - grid.zero + zero_point)
    needed = []
    if np.any(levels_low > limits[0]):
        needed.append(("MAXIMUM", grid.nudged_min))
    if np.any(levels_high < limits[1]):
        needed.append(("MINIMUM", grid.nudged_max))
    return needed


def _fake_quant_op(op: Op, lo: np.ndarray, hi: np.ndarray) -> list[Op]:
    # The bounds as given: LiteRT nudges them exactly as TensorFlow does.
    attrs = {"min": float(lo), "max": float(hi), "num_bits": int(op.attrs.get("num_bits", 8)),
             "narrow_range": False}
    return [Op("FAKE_QUANT", op.inputs[:1], op.outputs[:1], attrs, op.name)]


def _new_tensor(graph: Graph, base: str, like: Tensor, dtype: str = "float32",
                quant: QuantParams | None = None) -> str:
    name = graph.unique_name(base)
    graph.add_tensor(Tensor(name, like.shape, dtype, quant=quant))
    return name


def _quantize_dequantize(graph: Graph, op: Op, grid: _Grid) -> list[Op]:
    x = graph.tensors[op.inputs[0]]
    dtype, zero_point, limits = _storage(op, grid)
    ops, current = [], op.inputs[0]
    for kind, bound in _clamps(grid, zero_point, limits):
        clamped = _new_tensor(graph, f"{op.outputs[0]}/{kind.lower()}", x)
        bound_name = graph.add_const(f"{op.outputs[0]}/{kind.lower()}_bound", bound)
        ops.append(Op(kind, [current, bound_name], [clamped], {}, op.name))
        current = clamped
    axis = len(x.shape) - 1 if grid.scale.ndim and x.shape else 0
    params = QuantParams(grid.scale.reshape(-1), zero_point.reshape(-1), axis)
    stored = _new_tensor(graph, f"{op.outputs[0]}/quantized", x, dtype, params)
    ops.append(Op("QUANTIZE", [current], [stored], {}, op.name))
    ops.append(Op("DEQUANTIZE", [stored], op.outputs[:1], {}, op.name))
    return ops


def emulate_fake_quant(graph: Graph, op: Op) -> bool:
    if op.type not in FAKE_QUANT_TYPES or graph.tensors[op.inputs[0]].is_const:
        return False  # constants are folded instead (weights keep the rounding)
    bounds = constant_bounds(graph, op)
    if bounds is None:
        return False  # left for the unsupported-op report, with its hint
    grid = _grid(op, *bounds)
    if _is_fake_quant_exact(op, grid):
        new_ops = _fake_quant_op(op, *bounds)
    else:
        new_ops = _quantize_dequantize(graph, op, grid)
    graph.replace_op(op, new_ops)
    for new in new_ops:
        quant_attrs(graph, new)
    return True


PASS = Pass("emulate_fake_quant", emulate_fake_quant)


# ---- reading the emulation back (a float .tflite quantized later) ---------------------------

def is_emulation(graph: Graph, op: Op) -> bool:
    """A fake quantization in a float model: FAKE_QUANT, or a QUANTIZE of a float tensor that
    only DEQUANTIZEs read (what emulate_fake_quant, and TensorFlow's converter, write)."""
    if op.type == "FAKE_QUANT":
        return True
    if op.type != "QUANTIZE" or graph.tensors[op.inputs[0]].dtype != "float32":
        return False
    stored = op.outputs[0]
    readers = graph.consumers(stored)
    return bool(readers) and stored not in graph.outputs and all(r.type == "DEQUANTIZE" for r in readers)


def emulation_range(graph: Graph, op: Op) -> tuple[float, float]:
    """The values an emulating op can output (over all channels)."""
    if op.type == "FAKE_QUANT":
        _, qmax = quant_range(op)
        nudged_min, nudged_max, *_ = nudge(op.attrs["min"], op.attrs["max"], 0, qmax)
        return float(nudged_min), float(nudged_max)
    stored = graph.tensors[op.outputs[0]]
    info = np.iinfo(stored.dtype)
    scale = np.asarray(stored.quant.scale, np.float64)
    zero = np.asarray(stored.quant.zero_point, np.float64)
    return float(np.min(scale * (info.min - zero))), float(np.max(scale * (info.max - zero)))


def _emulation_end(graph: Graph, op: Op) -> Op | None:
    """The op whose output is the emulated value: FAKE_QUANT itself, or the one DEQUANTIZE of
    a QUANTIZE (as both converters write them); None for other shapes, left alone."""
    if op.type == "FAKE_QUANT":
        return op
    readers = graph.consumers(op.outputs[0])
    return readers[0] if len(readers) == 1 else None


def drop_emulation(graph: Graph) -> int:
    """Removes every fake-quant emulation that can go, keeping its range on the tensor for
    the int8 quantizer, as --quantize int8 does with the .pb's FakeQuant nodes. Returns how
    many went."""
    dropped = 0
    for op in [o for o in graph.ops if is_emulation(graph, o)]:
        end, source = _emulation_end(graph, op), op.inputs[0]
        # As if the end read the float tensor directly: then it passes it through.
        if end is None or not graph.can_bypass(Op(end.type, [source], end.outputs)):
            continue
        bounds, out = emulation_range(graph, op), end.outputs[0]
        graph.set_input(end, 0, source)
        graph.bypass(end)
        graph.tensors[out if out in graph.tensors else source].min_max = bounds
        graph.checkpoint("drop_emulation", end)
        dropped += 1
    graph.remove_dead()
    return dropped


def emulation_tensors(graph: Graph) -> set[str]:
    """The integer tensors of the QUANTIZE + DEQUANTIZE emulations: not a quantized model's."""
    return {op.outputs[0] for op in graph.ops if op.type == "QUANTIZE" and is_emulation(graph, op)}
