"""Weight rounding chosen by the output error it causes (GPTQ: Frantar et al., "GPTQ: Accurate
Post-Training Quantization for Generative Pre-trained Transformers", 2022, after Optimal Brain
Quantization).

Rounding each weight to its nearest int8 step is best only when an op's inputs are
uncorrelated. The error an output channel's rounding causes is e H e^T, e the rounding error of
its weights and H = E[x x^T] the second moment of the input vectors they multiply (a
convolution's patches). GPTQ rounds one input position at a time and moves the error it made
onto the weights not yet rounded, in proportion to their correlation with it (the inverse of H
through its Cholesky factor), so the later roundings undo part of it. The scales stay those of
the weight ranges (min/max or mse), so only the integers change.

H comes from the calibration runs (InputMoments, calibrate's `observe`), summed over every op
that reads the weight (an unrolled cell's steps share theirs). DAMPING adds a share of H's mean
diagonal to it, as GPTQ does, so an input direction the samples never explored is rounded to
nearest rather than trusted.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops.conv import conv_out_hw, extract_patches, im2col
from ..ops.registry import definition
from .float_ops import float_reasons
from .full_integer import Int8Options
from .params import narrow_max
from .weight_ranges import weight_params

ROUNDED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
DAMPING = 0.01  # GPTQ's default share of the mean diagonal
# H is trusted from this many input vectors per input value (the rank of H needs at least 1):
# dropout_mlp's FCs, calibrated on 32 batch-1 samples of 32 or 64 values, came out worse than
# rounded to nearest on held-out inputs (16x8: 0.257 against 0.221 of TF's int8 error) until
# they were left to nearest; 4 kept every gain measured on the convolutions.
VECTORS_PER_INPUT = 4


def input_moments(op: Op, x: np.ndarray, weight_shape: tuple[int, ...]) -> np.ndarray:
    """Sum of x x^T over the op's input vectors: [D, D] for a convolution's patches (in the
    filter's kh, kw, C order) or FC rows; [C, T, T] per input channel over a depthwise
    convolution's T taps."""
    x = np.asarray(x, np.float64)
    if op.type == "FULLY_CONNECTED":
        rows = x.reshape(-1, weight_shape[-1])
        return rows.T @ rows
    kh, kw = weight_shape[1:3]
    if op.type == "CONV_2D":
        cols, _ = im2col(extract_patches(x, kh, kw, op))
        return cols.T @ cols
    taps = np.stack([patch for _, patch in extract_patches(x, kh, kw, op)], axis=3)
    taps = taps.reshape(-1, kh * kw, x.shape[3])
    return np.einsum("ptc,puc->ctu", taps, taps)


def vector_count(op: Op, x_shape: tuple[int, ...], weight_shape: tuple[int, ...]) -> int:
    """How many input vectors one run of the op multiplies its weights with."""
    if op.type == "FULLY_CONNECTED":
        return int(np.prod(x_shape)) // weight_shape[-1]
    n, h, w, _ = x_shape
    return n * int(np.prod(conv_out_hw(op, h, w, *weight_shape[1:3])))


class InputMoments:
    """Per (subgraph, weight tensor): the summed input moments of every CONV_2D,
    DEPTHWISE_CONV_2D and FULLY_CONNECTED that reads it during calibration."""

    def __init__(self) -> None:
        self.sums: dict[tuple[int, str], np.ndarray] = {}
        self.counts: dict[tuple[int, str], int] = {}  # input vectors summed

    def __call__(self, index, op: Op, args: list, outputs: list) -> None:
        if op.type not in ROUNDED or len(args) < 2 or args[1] is None:
            return
        key = (index[0] if isinstance(index, tuple) else 0, op.inputs[1])
        moments = input_moments(op, args[0], np.shape(args[1]))
        if key in self.sums and self.sums[key].shape != moments.shape:
            return  # not the same weight layout: leave it to nearest rounding
        self.sums[key] = self.sums.get(key, 0) + moments
        self.counts[key] = self.counts.get(key, 0) + vector_count(op, np.shape(args[0]), np.shape(args[1]))


def round_weights(graph: Graph, moments: InputMoments, options: Int8Options) -> dict[tuple[int, str], np.ndarray]:
    """The int8 weights GPTQ chooses, per (subgraph, weight tensor) with moments, for the
    quantized (not kept in float) ops; the scales are weight_params' for options.weight_ranges."""
    rounded = {}
    for s, g in enumerate(graph.subgraphs or [graph]):
        kept_float = set(float_reasons(g, options))
        for op in g.ops:
            key = (s, op.inputs[1] if len(op.inputs) > 1 else None)
            if op.type not in ROUNDED or id(op) in kept_float or key in rounded or key not in moments.sums:
                continue
            if moments.counts[key] < VECTORS_PER_INPUT * moments.sums[key].shape[-1]:
                continue  # too few samples to tell the inputs' correlations: to nearest
            w = g.tensors[key[1]]
            if not w.is_const or w.dtype != "float32":
                continue
            rounded[key] = _round(op, w.data, moments.sums[key], definition(op).weight_axis[1], options.weight_ranges)
    return rounded


def _round(op: Op, w: np.ndarray, h: np.ndarray, axis: int, method: str) -> np.ndarray:
    """The weights' int8 values: per output channel (the rows below), GPTQ over its inputs."""
    params = weight_params(w, axis, method)
    scale = np.asarray(params.scale, np.float64)
    if op.type == "DEPTHWISE_CONV_2D":  # [1, kh, kw, C*M]: channel o reads input channel o // M
        taps = w.reshape(-1, w.shape[-1]).T
        upper = inverse_cholesky(h)[np.arange(w.shape[-1]) // (w.shape[-1] // h.shape[0])]
        return _gptq(taps, scale, upper).T.reshape(w.shape)
    rows = w.reshape(w.shape[0], -1)
    return _gptq(rows, scale, inverse_cholesky(h)[None]).reshape(w.shape)


def inverse_cholesky(h: np.ndarray) -> np.ndarray:
    """The upper Cholesky factor of the damped H's inverse, per matrix of h ([..., D, D])."""
    h = np.array(h, np.float64)
    d = np.arange(h.shape[-1])
    diag = h[..., d, d]
    live = diag > 0
    mean = np.where(live, diag, 0).sum(-1, keepdims=True) / np.maximum(live.sum(-1, keepdims=True), 1)
    # An input that was always 0 gets a diagonal of its own: its weight is rounded to nearest.
    h[..., d, d] = np.where(live, diag, 1.0) + DAMPING * np.where(mean > 0, mean, 1.0)
    return np.swapaxes(np.linalg.cholesky(np.linalg.inv(h)), -1, -2)


def _gptq(rows: np.ndarray, scale: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """rows [O, D] rounded column by column, each column's error spread over the later ones by
    the upper factor ([O or 1, D, D])."""
    top = narrow_max(8)
    rows = np.array(rows, np.float64)
    q = np.zeros(rows.shape, np.int8)
    for j in range(rows.shape[1]):
        q[:, j] = np.clip(np.round(rows[:, j] / scale), -top, top)
        error = (rows[:, j] - q[:, j] * scale) / upper[:, j, j]
        rows[:, j + 1:] -= error[:, None] * upper[:, j, j + 1:]
    return q
