"""One-dimensional k-means: the centroids of a set of weights and each weight's centroid.

The centroids start from k-means++ (as TF-MOT's clustering does by default,
CentroidInitialization.KMEANS_PLUS_PLUS), seeded, then Lloyd's iterations run to a fixed point.
In one dimension the clusters are runs of the sorted values, split at the midpoints between
neighbouring centroids, so an iteration is a binary search per centroid and a prefix sum.
"""
from __future__ import annotations

import numpy as np

MAX_ITERATIONS = 300  # Lloyd's iterations; 1-D k-means on weights settles in far fewer


def kmeans_1d(values: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(centroids, index of each value's centroid) for at most k centroids, increasing, float64.
    Values with at most k distinct values keep them exactly."""
    flat = np.asarray(values, np.float64).reshape(-1)
    distinct, inverse = np.unique(flat, return_inverse=True)
    if distinct.size <= k:
        return distinct, inverse.reshape(-1)
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    sums = np.concatenate([[0.0], np.cumsum(ordered)])
    centroids = np.sort(_plus_plus(distinct, np.bincount(inverse), k, rng))
    bounds = _bounds(ordered, centroids)
    for _ in range(MAX_ITERATIONS):
        counts = np.diff(bounds)
        live = counts > 0  # an emptied cluster is dropped: fewer than k values, never more
        centroids = (sums[bounds[1:]] - sums[bounds[:-1]])[live] / counts[live]
        moved = _bounds(ordered, centroids)
        settled = np.array_equal(moved, bounds[np.concatenate([[True], live])])
        bounds = moved
        if settled:
            break
    index = np.empty(flat.size, np.int64)
    index[order] = np.repeat(np.arange(centroids.size), np.diff(bounds))
    return centroids, index


def _bounds(ordered: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Where each centroid's run of the sorted values starts, and the end: a value exactly
    between two centroids goes to the upper one."""
    midpoints = (centroids[:-1] + centroids[1:]) / 2
    return np.concatenate([[0], np.searchsorted(ordered, midpoints, side="left"), [ordered.size]])


def _plus_plus(distinct: np.ndarray, counts: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++: the first centroid drawn by frequency, each next one with probability
    proportional to the squared distance to the nearest centroid chosen (counted per value)."""
    chosen = [rng.choice(distinct.size, p=counts / counts.sum())]
    nearest = (distinct - distinct[chosen[0]]) ** 2
    for _ in range(k - 1):
        weight = nearest * counts
        chosen.append(rng.choice(distinct.size, p=weight / weight.sum()))
        nearest = np.minimum(nearest, (distinct - distinct[chosen[-1]]) ** 2)
    return distinct[chosen]
