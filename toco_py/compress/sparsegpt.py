"""Pruning that compensates for what it removes (`--prune_method sparsegpt`; Frantar and Alistarh,
"SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot", 2023, after Optimal
Brain Surgeon).

Magnitude pruning drops the smallest weights and leaves the rest as they were. The error that
dropping causes in an output channel is e H e^T, e the weights removed and H = E[x x^T] the
second moment of the input vectors the weights multiply (a convolution's patches), so the
weights left can take up much of it. As GPTQ rounds (quantize/weight_rounding.py), SparseGPT
walks the inputs in order and moves each removed weight's value onto the weights not yet
visited, through the Cholesky factor of H's inverse. Which weights go is chosen per block of
MASK_BLOCK inputs, when the walk reaches it, by w^2 / [H^-1]_jj^2 (the output error removing w
alone costs), over the whole tensor's rows, so each tensor still loses the share asked of it,
in 1xB runs when asked.

H comes from the float model's runs on the calibration data, summed over the ops that read a
weight, damped by 1% of its mean diagonal (weight_rounding's moments and factor). A weight
seen by fewer than weight_rounding.VECTORS_PER_INPUT input vectors per input value, and a
depthwise filter pruned in runs (which span channels, each with its own H), are pruned by
magnitude.
"""
from __future__ import annotations

import numpy as np

from ..interpreter import Interpreter
from ..ir import Graph, Op
from ..quantize.weight_rounding import VECTORS_PER_INPUT, InputMoments, inverse_cholesky

# Inputs whose pruning mask is chosen together (SparseGPT's Bs); a multiple of every block B.
MASK_BLOCK = 128


def input_moments(graph: Graph, samples: list[dict[str, np.ndarray]]) -> InputMoments:
    """The float model's input moments of every conv and FC weight over the samples."""
    moments = InputMoments()
    interpreter = Interpreter(graph)
    for feeds in samples:
        interpreter.run(feeds, on_op=moments)
    return moments


def trusted(op: Op, moments: InputMoments, key: tuple[int, str], block: int) -> bool:
    """Whether SparseGPT prunes this weight: its op's input moments were seen often enough, and
    a depthwise filter is not cut in runs (they would span channels, each with its own H)."""
    h = moments.sums.get(key)
    return (h is not None and moments.counts[key] >= VECTORS_PER_INPUT * h.shape[-1]
            and op.type in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
            and not (op.type == "DEPTHWISE_CONV_2D" and block > 1))


def obs_prune(op: Op, weights: np.ndarray, moments: InputMoments, key: tuple[int, str], sparsity: float,
              block: int) -> np.ndarray | None:
    """The weights pruned to the sparsity by SparseGPT, or None when their moments cannot be
    trusted (the caller prunes by magnitude)."""
    if not trusted(op, moments, key, block):
        return None
    rows, _, upper = _rows(op, weights, moments.sums[key])
    pruned = _sparsegpt(rows, upper, sparsity, 1 if op.type == "DEPTHWISE_CONV_2D" else block)
    return _unrows(op, pruned, weights.shape)


def measured_sparsities(layers: list[tuple[Op, np.ndarray, tuple[int, str]]], moments: InputMoments,
                        sparsity: float) -> list[float]:
    """Per layer (op, weights, moments key), the share to prune so that `sparsity` of all their
    weights goes, those whose removal costs the least share of their own layer's output energy
    first: w^2 / [H^-1]_jj^2 (as the masks rank them) over trace(W H W^T). A layer with few
    inputs per output keeps more: at 50%, the example digits CNN's first convolution (3x3 taps
    of one channel) came out 6% pruned, its second 54%, its logits 14%, and its top-1 kept
    float's 0.990, against 0.909 with 50% of each. Ranked one weight at a time, whatever the
    block."""
    scores = []
    for op, weights, key in layers:
        rows, h, upper = _rows(op, weights, moments.sums[key])
        diagonal = np.diagonal(upper, axis1=-2, axis2=-1)
        energy = float(np.einsum("od,de,oe->", rows, h[0], rows) if len(h) == 1
                       else np.einsum("od,ode,oe->", rows, h, rows))
        scores.append((rows ** 2 / np.broadcast_to(diagonal, rows.shape) ** 2).ravel() / max(energy, 1e-30))
    order = np.argsort(np.concatenate(scores), kind="stable")[:int(round(sparsity * sum(map(len, scores))))]
    owner = np.repeat(np.arange(len(scores)), [len(s) for s in scores])
    counts = np.bincount(owner[order], minlength=len(scores))
    return [float(c) / len(s) for c, s in zip(counts, scores)]


def _rows(op: Op, weights: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows [O, D] the walk prunes, each row's H ([1 or O, D, D]), the upper factor of its
    damped inverse, likewise): output channels over their inputs, or for a depthwise filter
    ([1, kh, kw, C*M], channel o reading input channel o // M) each channel over its taps."""
    if op.type == "DEPTHWISE_CONV_2D":
        channel = np.arange(weights.shape[-1]) // (weights.shape[-1] // h.shape[0])
        return weights.reshape(-1, weights.shape[-1]).T.astype(np.float64), h[channel], inverse_cholesky(h)[channel]
    return weights.reshape(weights.shape[0], -1).astype(np.float64), h[None], inverse_cholesky(h)[None]


def _unrows(op: Op, rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return (rows.T if op.type == "DEPTHWISE_CONV_2D" else rows).reshape(shape).astype(np.float32)


def _sparsegpt(rows: np.ndarray, upper: np.ndarray, sparsity: float, block: int) -> np.ndarray:
    """rows [O, D] with round(sparsity * runs) 1 x block runs zeroed in all, chosen per mask
    block as the walk reaches it, each removed value's error spread over the later columns by
    the upper factor ([O or 1, D, D])."""
    rows = np.array(rows, np.float64)
    width = rows.shape[1]
    runs = -(-width // block)
    starts = list(range(0, width, MASK_BLOCK))
    # Each mask block drops its share of the total, in proportion to its runs; the remainder
    # goes one run each to the first blocks.
    total = int(round(sparsity * runs * rows.shape[0]))
    run_counts = np.array([-(-(min(start + MASK_BLOCK, width) - start) // block) for start in starts])
    shares = (run_counts * total) // runs
    shares[: total - shares.sum()] += 1
    diagonal = np.diagonal(upper, axis1=-2, axis2=-1)
    pruned = np.zeros(rows.shape, bool)
    for start, share in zip(starts, shares):
        stop = min(start + MASK_BLOCK, width)
        pruned[:, start:stop] = _mask(rows[:, start:stop], diagonal[..., start:stop], share, block)
        for j in range(start, stop):
            error = np.where(pruned[:, j], rows[:, j], 0.0) / upper[:, j, j]
            rows[:, j + 1:] -= error[:, None] * upper[:, j, j + 1:]
            rows[pruned[:, j], j] = 0.0
    return rows


def _mask(rows: np.ndarray, diagonal: np.ndarray, count: int, block: int) -> np.ndarray:
    """The `count` 1 x block runs of least summed w^2 / d^2 (ties to the first), as a mask."""
    score = rows ** 2 / np.broadcast_to(diagonal, rows.shape) ** 2
    width = rows.shape[1]
    runs = -(-width // block)
    padded = np.zeros((rows.shape[0], runs * block))
    padded[:, :width] = score
    order = np.argsort(padded.reshape(rows.shape[0], runs, block).sum(-1).ravel(), kind="stable")[:count]
    chosen = np.zeros(rows.shape[0] * runs, bool)
    chosen[order] = True
    return np.repeat(chosen.reshape(rows.shape[0], runs), block, axis=1)[:, :width]
