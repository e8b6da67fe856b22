"""Activation ranges chosen by the quantization error they cause (MSE-optimal clipping).

A range quantizes a value inside it with a rounding error of up to half a step and clips a value
outside it to its nearer end. Narrowing the range makes the steps finer and the clipped tails
longer: the search picks, among candidate ranges, the one whose mean squared error over a
tensor's calibration values is least, with the params the quantizer derives from that range
(the range holding 0 and an integer zero point, or a symmetric range with zero point 0).

Two stages keep it fast and exact: a histogram of the values scores every candidate (clipping
error from the bins beyond the ends, rounding error step^2 / 12 per nonzero value inside: a
0 is exact), then the best few, and min/max itself, are scored on the values themselves. So the
chosen range never quantizes the calibration values worse than min/max.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import QuantParams
from ..ops.quantize_ops import dequantize, quantize
from .params import activation_params, zero_point_0_params

BINS = 1024
# Each end is tried at max * RATIO**k: 7% apart near min/max, down to 1.4% of it for long tails.
RATIO, STEPS = 0.93, 60
SHORTLIST = 8  # candidates the histogram ranks first, then scored on the values


@dataclass(frozen=True)
class Scheme:
    """The integer grid activations are quantized to: int8 asymmetric today; int16 symmetric
    (zero point 0) for int16x8."""
    bits: int = 8
    symmetric: bool = False

    @property
    def qmin(self) -> int:
        return -(1 << (self.bits - 1))

    @property
    def qmax(self) -> int:
        return (1 << (self.bits - 1)) - 1

    @property
    def dtype(self) -> str:
        return f"int{self.bits}"

    def params(self, lo: float, hi: float) -> QuantParams:
        if self.symmetric:
            return zero_point_0_params(lo, hi, self.qmin, self.qmax)
        return activation_params(lo, hi, self.qmin, self.qmax)


INT8 = Scheme()


def quantization_mse(values: np.ndarray, params: QuantParams, scheme: Scheme) -> float:
    """Mean squared error of the values quantized with the params and read back."""
    q = quantize(values, params.scale, params.zero_point, 0, scheme.dtype)
    return float(np.mean((dequantize(q, params.scale, params.zero_point).astype(np.float64) - values) ** 2))


def mse_range(values: np.ndarray, lo: float, hi: float, scheme: Scheme = INT8) -> tuple[float, float]:
    """The clipping range within [lo, hi] (the tensor's min/max) that quantizes `values` (its
    calibration values, or a sample of them) with the least squared error."""
    values = np.asarray(values, np.float64).ravel()
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if values.size == 0 or hi - lo < 1e-12:
        return lo, hi
    fractions = RATIO ** np.arange(STEPS)
    if scheme.symmetric:
        peak = max(-lo, hi)
        candidates = [(max(lo, -c), min(hi, c)) for c in peak * fractions]
    else:
        candidates = sorted({(lo * g, hi * f) for g in fractions for f in fractions},
                            key=lambda c: (-(c[1] - c[0]), c))
    estimates = _histogram_estimates(values, lo, hi, candidates, scheme)
    ranked = [candidates[i] for i in np.argsort(estimates, kind="stable")[:SHORTLIST]]
    best, best_error = (lo, hi), quantization_mse(values, scheme.params(lo, hi), scheme)
    for candidate in ranked:  # strictly better only: ties keep min/max, then the wider range
        error = quantization_mse(values, scheme.params(*candidate), scheme)
        if error < best_error:
            best, best_error = candidate, error
    return best


def _histogram_estimates(values: np.ndarray, lo: float, hi: float, candidates: list[tuple[float, float]],
                         scheme: Scheme) -> np.ndarray:
    counts, edges = np.histogram(values[values != 0], BINS, (lo, hi))
    centers = (edges[:-1] + edges[1:]) / 2
    low, high = _representable(np.array(candidates), scheme)
    out = np.empty(len(candidates))
    for start in range(0, len(candidates), 256):  # bounded memory: 256 x BINS at a time
        part = slice(start, start + 256)
        below = np.maximum(low[part, None] - centers, 0)
        above = np.maximum(centers - high[part, None], 0)
        inside = (below == 0) & (above == 0)
        step = (high[part] - low[part]) / (scheme.qmax - scheme.qmin)
        out[part] = (counts * (below**2 + above**2)).sum(1) + step**2 / 12 * (counts * inside).sum(1)
    return out


def _representable(candidates: np.ndarray, scheme: Scheme) -> tuple[np.ndarray, np.ndarray]:
    """The real interval each candidate range's params represent (after the zero point is
    rounded to an integer), vectorized over candidates."""
    lo, hi = candidates[:, 0], candidates[:, 1]
    if scheme.symmetric:
        scale = np.maximum(hi / scheme.qmax, lo / scheme.qmin)
        return scale * scheme.qmin, scale * scheme.qmax
    scale = (hi - lo) / (scheme.qmax - scheme.qmin)
    zero = np.clip(np.round(scheme.qmin - lo / scale), scheme.qmin, scheme.qmax)
    return scale * (scheme.qmin - zero), scale * (scheme.qmax - zero)
