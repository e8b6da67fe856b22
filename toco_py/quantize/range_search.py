"""Activation ranges chosen by the quantization error they cause (MSE-optimal clipping).

A range quantizes a value inside it with a rounding error of up to half a step and clips a value
outside it to its nearer end. Narrowing the range makes the steps finer and the clipped tails
longer: the search picks, among candidate ranges, the one whose mean squared error over a
tensor's calibration values is least, with the params the quantizer derives from that range
(schemes.py: int8's range holding 0 with an integer zero point; 16x8's symmetric, zero point 0).

Two stages keep it fast and exact: a histogram of the values scores every candidate (clipping
error from the bins beyond the ends, rounding error step^2 / 12 per nonzero value inside: a
0 is exact), then the best few, and min/max itself, are scored on the values themselves. So the
chosen range never quantizes the calibration values worse than min/max.
"""
from __future__ import annotations

import numpy as np

from ..ir import QuantParams
from ..ops.quantize_ops import dequantize, quantize
from .schemes import INT8, Scheme

BINS = 1024
# Each end is tried at max * RATIO**k: 7% apart near min/max, down to 1.4% of it for long tails.
RATIO, STEPS = 0.93, 60
SHORTLIST = 8  # candidates the histogram ranks first, then scored on the values


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
    if _grid(scheme)[2]:
        peak = max(-lo, hi)
        candidates = [(max(lo, -c), min(hi, c)) for c in peak * fractions]
    else:
        candidates = sorted({(lo * g, hi * f) for g in fractions for f in fractions},
                            key=lambda c: (-(c[1] - c[0]), c))
    estimates = _histogram_estimates(values, lo, hi, candidates, scheme)
    ranked = [candidates[i] for i in np.argsort(estimates, kind="stable")[:SHORTLIST]]
    best, best_error = (lo, hi), quantization_mse(values, scheme.activation_params(lo, hi), scheme)
    for candidate in ranked:  # strictly better only: ties keep min/max, then the wider range
        error = quantization_mse(values, scheme.activation_params(*candidate), scheme)
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
        step = (high[part] - low[part]) / (scheme.range[1] - scheme.range[0])
        out[part] = (counts * (below**2 + above**2)).sum(1) + step**2 / 12 * (counts * inside).sum(1)
    return out


def _grid(scheme: Scheme) -> tuple[int, int, bool, int]:
    """(qmin, qmax, symmetric, levels) of the scheme's activations: the integers a value can
    take, whether its params have zero point 0 (16x8) or fit the range's two ends (int8), and
    the steps its params divide a range into (qmax - qmin; 2 x 32767 for 16x8's narrow range)."""
    qmin, qmax = scheme.range
    probe = scheme.activation_params(0.0, 1.0)
    symmetric = int(probe.zero_point[0]) == 0
    return qmin, qmax, symmetric, round(2 / float(probe.scale[0])) if symmetric else qmax - qmin


def _representable(candidates: np.ndarray, scheme: Scheme) -> tuple[np.ndarray, np.ndarray]:
    """The real interval each candidate range's params represent (after the zero point is
    rounded to an integer), vectorized over candidates."""
    lo, hi = candidates[:, 0], candidates[:, 1]
    qmin, qmax, symmetric, levels = _grid(scheme)
    if symmetric:
        scale = 2 * np.maximum(hi, -lo) / levels
        return scale * qmin, scale * qmax
    scale = (hi - lo) / levels
    zero = np.clip(np.round(qmin - lo / scale), qmin, qmax)
    return scale * (qmin - zero), scale * (qmax - zero)
