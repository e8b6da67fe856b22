"""Fake quantization: TensorFlow's FakeQuant and QuantizeAndDequantize ops (converter-only) and
TFLite's FAKE_QUANT.

Both snap a float tensor to a uniform grid of 2^num_bits levels whose range is "nudged" so
that 0.0 is exactly a level. They share the nudging but not the last steps, so each has
its own kernel, written in float32 step by step as its C++ source computes it:

- FakeQuant (tensorflow/core/kernels/fake_quant_ops_functor.h), from the TF ops
  FakeQuantWithMinMaxArgs (min/max in attrs, one input), FakeQuantWithMinMaxVars (scalar
  min/max inputs) and FakeQuantWithMinMaxVarsPerChannel (min/max vectors along the last axis):
      q = floor((clamp(x) - nudged_min) * inv_scale - quant_zero + 0.5);  y = q * scale
  where Vars divides by scale instead of multiplying by inv_scale, and min == max == 0
  gives zeros. Constant folding of fake-quantized weights uses this kernel.
- QuantizeAndDequantize (tensorflow/core/kernels/quantize_and_dequantize_op.h), from the TF
  ops QuantizeAndDequantizeV2 and V4 with range_given: no nudging; the zero point is level
  0 and the side of [min, max] that needs the coarser step sets it, the other side moves:
      y = round(clamp(x, min', max') * scale) * inverse_scale
  rounding half to even (or half up, round_mode HALF_UP); per tensor only (TensorFlow's
  kernel refuses per-channel bounds with a given range). Its grid is a fake-quant grid
  (fake_quant_grid()), so the passes treat both alike.
- FAKE_QUANT (LiteRT's kernels/fake_quant.cc, reference_ops::FakeQuant): per tensor, no
  narrow range (its Prepare rejects one):
      y = round((clamp(x) - nudged_min) * (1 / scale)) * scale + nudged_min
  The final "+ nudged_min" makes it differ from TensorFlow by an ulp whenever nudged_min is
  not 0 (measured on 100 000 normal samples: 40-70% of the elements), which is why the
  converter only emits it where nudged_min is 0 (passes/emulate_fake_quant.py).
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import need_shape
from .fixed_point import round_half_away_array
from .registry import register

MIN_BITS, MAX_BITS = 2, 16


def quant_range(op: Op) -> tuple[int, int]:
    """The integer levels [quant_min, quant_max] of the op's num_bits and narrow_range."""
    num_bits = int(op.attrs.get("num_bits", 8))
    if not MIN_BITS <= num_bits <= MAX_BITS:
        raise ConversionError(f"{op!r}: fake quantization to {num_bits} bits "
                              f"({MIN_BITS} to {MAX_BITS} are possible)")
    return (1 if op.attrs.get("narrow_range") else 0), (1 << num_bits) - 1


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """std::round of float32 values, in float64, where x + 0.5 is exact (in float32,
    0.49999997 + 0.5 rounds up to 1)."""
    return round_half_away_array(np.asarray(x, np.float64))


def nudge(lo, hi, quant_min: int, quant_max: int):
    """TensorFlow's Nudge (and LiteRT's NudgeQuantizationRange, the same float32 steps):
    the zero point rounded to an integer level. Element-wise over per-channel bounds.
    Returns float32 arrays (nudged_min, nudged_max, scale, inv_scale, zero_point)."""
    lo, hi = np.asarray(lo, np.float32), np.asarray(hi, np.float32)
    qmin, qmax = np.float32(quant_min), np.float32(quant_max)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = (hi - lo) / (qmax - qmin)
        inv_scale = (qmax - qmin) / (hi - lo)
        zero_from_min = qmin - lo / scale
    zero = np.where(zero_from_min < qmin, qmin,
                    np.where(zero_from_min > qmax, qmax, _round_half_away(zero_from_min))).astype(np.float32)
    return (qmin - zero) * scale, (qmax - zero) * scale, scale, inv_scale, zero


def check_bounds(op: Op, lo, hi) -> None:
    """Bounds TensorFlow quantizes with: finite, min < max (min == max == 0 is TensorFlow's
    "output zeros"). Others make its kernel fail (Args) or compute NaN or garbage (Vars)."""
    lo, hi = np.asarray(lo, np.float32), np.asarray(hi, np.float32)
    zeros = (lo == 0) & (hi == 0)
    bad = ~(np.isfinite(lo) & np.isfinite(hi) & ((lo < hi) | zeros))
    if np.any(bad):
        i = int(np.flatnonzero(np.ravel(bad))[0])
        where = f" (channel {i})" if lo.ndim else ""
        raise ConversionError(f"fake-quant node {op.name or op.outputs[0]!r}: min "
                              f"{float(np.ravel(lo)[i])} and max {float(np.ravel(hi)[i])}{where} "
                              "quantize nothing; min must be below max, both finite")


def fake_quant_bounds(op: Op, *rest) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) of a FakeQuant op: its attrs (Args) or its two further inputs (Vars and
    PerChannel, given as arrays or as constant Tensors)."""
    if not rest:
        return np.float32(op.attrs["min"]), np.float32(op.attrs["max"])
    lo, hi = (r.data if isinstance(r, Tensor) else r for r in rest[:2])
    return np.asarray(lo, np.float32), np.asarray(hi, np.float32)


def tf_fake_quant(op: Op, x: np.ndarray, *rest: np.ndarray) -> np.ndarray:
    lo, hi = fake_quant_bounds(op, *rest)
    check_bounds(op, lo, hi)
    qmin, qmax = quant_range(op)
    nudged_min, nudged_max, scale, inv_scale, _ = nudge(lo, hi, qmin, qmax)
    half = np.float32(0.5)
    with np.errstate(invalid="ignore", over="ignore"):
        quant_zero = np.floor(-nudged_min * inv_scale + half)
        shifted = np.maximum(np.minimum(x, nudged_max), nudged_min) - nudged_min
        # Vars (scalar min/max inputs) divides; Args and PerChannel multiply by the inverse:
        # the two round differently near ties, as in TensorFlow.
        steps = shifted / scale if rest and np.ndim(lo) == 0 else shifted * inv_scale
        y = (np.floor(steps - quant_zero + half) * scale).astype(np.float32)
    zeros = (lo == 0) & (hi == 0)
    return np.where(zeros, np.float32(0), y) if np.any(zeros) else y


# ---- QuantizeAndDequantize -------------------------------------------------------------------

def _qdq_levels(op: Op) -> tuple[int, int]:
    """The signed or unsigned integer levels of QuantizeAndDequantize (ComputeQuantizationRange)."""
    bits = int(op.attrs.get("num_bits", 8))
    if not op.attrs.get("signed_input", True):
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)) + (1 if op.attrs.get("narrow_range") else 0), (1 << (bits - 1)) - 1


def qdq_range(op: Op, lo, hi):
    """TensorFlow's ComputeQuantizationRange in float32: (min', max', scale, inverse_scale)."""
    lo, hi = np.asarray(lo, np.float32), np.asarray(hi, np.float32)
    qmin, qmax = (np.float32(q) for q in _qdq_levels(op))
    big = np.finfo(np.float32).max
    with np.errstate(divide="ignore", invalid="ignore"):
        from_min = np.where(qmin * lo > 0, qmin / lo, big).astype(np.float32)
        from_max = np.where(qmax * hi > 0, qmax / hi, big).astype(np.float32)
        by_min = from_min < from_max
        inverse = np.where(by_min, lo / qmin, hi / qmax).astype(np.float32)
        low = np.where(by_min, lo, qmin * inverse).astype(np.float32)
        high = np.where(by_min, qmax * inverse, hi).astype(np.float32)
    return low, high, np.where(by_min, from_min, from_max).astype(np.float32), inverse


def check_qdq_bounds(op: Op, lo, hi) -> None:
    """TensorFlow's kernel refuses min > max; others compute NaN."""
    lo, hi = np.asarray(lo, np.float32), np.asarray(hi, np.float32)
    bad = ~(np.isfinite(lo) & np.isfinite(hi) & (lo <= hi))
    if np.any(bad):
        i = int(np.flatnonzero(np.ravel(bad))[0])
        raise ConversionError(f"quantize-and-dequantize node {op.name or op.outputs[0]!r}: min "
                              f"{float(np.ravel(lo)[i])} and max {float(np.ravel(hi)[i])} quantize "
                              "nothing; min must not exceed max, both finite")


def _round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(x + np.float32(0.5))  # Eigen's scalar_round_up_op, in float32


def tf_quantize_dequantize(op: Op, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    check_qdq_bounds(op, lo, hi)
    low, high, scale, inverse = qdq_range(op, lo, hi)
    round_ = _round_half_up if op.attrs.get("round_mode") == "HALF_UP" else np.rint
    with np.errstate(invalid="ignore", over="ignore"):
        return (round_(np.maximum(np.minimum(x, high), low) * scale) * inverse).astype(np.float32)


def _infer_qdq(op: Op, x: Tensor, lo: Tensor, hi: Tensor):
    # TensorFlow 2.21's kernel refuses per-channel bounds with a given range ("input_min
    # must be a scalar", whatever the axis), so there is no per-channel form to reproduce.
    for bound in (lo, hi):
        if bound.shape not in (None, ()):
            raise ConversionError(f"quantize-and-dequantize node {op.name or op.outputs[0]!r}: bounds "
                                  f"of shape {list(bound.shape)}; TensorFlow's kernel takes one min and max")
    return need_shape(op, x), x.dtype


FAKE_QUANT_TYPES = ("FakeQuant", "QuantizeAndDequantize")


def fake_quant_grid(op: Op, lo, hi):
    """The grid a FakeQuant or QuantizeAndDequantize snaps to, element-wise over (FakeQuant's)
    per-channel bounds: (lowest value, highest value, step, level of 0.0, quant_min, quant_max) in
    FakeQuant's terms, whose levels run from quant_min to quant_max, 0-based."""
    if op.type == "FakeQuant":
        qmin, qmax = quant_range(op)
        low, high, scale, _, zero = nudge(lo, hi, qmin, qmax)
        return low, high, scale, zero, qmin, qmax
    qmin, qmax = _qdq_levels(op)
    low, high, _, inverse = qdq_range(op, lo, hi)
    return low, high, inverse, np.full(np.shape(low), -qmin, np.float32), 0, qmax - qmin


def _infer_tf_fake_quant(op: Op, x: Tensor, *rest: Tensor):
    shape = need_shape(op, x)
    if rest:
        lo, hi = rest[:2]
        channels = shape[-1] if shape else None
        for bound in (lo, hi):
            if bound.shape is not None and bound.shape not in ((), (channels,)):
                raise ValueError(f"fake-quant bounds of shape {list(bound.shape)} for a tensor "
                                 f"of shape {list(shape)}: give one value, or one per last-axis channel")
    return shape, x.dtype


def litert_fake_quant(op: Op, x: np.ndarray) -> np.ndarray:
    if op.attrs.get("narrow_range"):
        raise ConversionError(f"{op!r}: LiteRT's FAKE_QUANT has no narrow range")
    _, qmax = quant_range(op)
    nudged_min, nudged_max, scale, _, _ = nudge(op.attrs["min"], op.attrs["max"], 0, qmax)
    inv_scale = np.float32(1) / scale
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        shifted = np.minimum(nudged_max, np.maximum(nudged_min, x)) - nudged_min
        steps = _round_half_away(shifted * inv_scale).astype(np.float32)
        return (steps * scale + nudged_min).astype(np.float32)


def _infer_litert_fake_quant(op: Op, x: Tensor):
    if x.dtype != "float32":
        raise ConversionError(f"{op!r}: FAKE_QUANT takes float32, not {x.dtype}")
    return need_shape(op, x), "float32"


# Both kernels are float32 step by step: a float64 run of a model feeds them float32.
register("FakeQuant",
         infer=_infer_tf_fake_quant, kernel=tf_fake_quant, builtin=False, float32_only=True)
register("QuantizeAndDequantize", infer=_infer_qdq, kernel=tf_quantize_dequantize, builtin=False,
         float32_only=True)
register("FAKE_QUANT", infer=_infer_litert_fake_quant, kernel=litert_fake_quant, float32_only=True)
