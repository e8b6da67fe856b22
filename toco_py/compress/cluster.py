"""Weight clustering (--cluster K): each weight tensor of the ops with per-channel weights
(OpDef.weight_axis: conv, depthwise conv, fully connected, transpose conv) is replaced by its
k-means centroids, per tensor or per output channel, so it keeps its dtype and shape but holds
at most K distinct values, which gzip and a packed index form (log2 K bits per weight plus the
table) store compactly. It runs on the float graph, before any quantization: the int8 scales then
come from the centroids, and a tensor clustered as a whole shares one scale over its channels
(Int8Options.shared_weight_scales), so its K centroids stay K integers."""
from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from ..errors import TocoError
from ..ir import Graph
from ..ops.registry import REGISTRY
from .kmeans import kmeans_1d

if TYPE_CHECKING:
    from ..quantize.driver import QuantizeOptions

MAX_CLUSTERS = 256  # the values an 8-bit index can name


@dataclass(frozen=True)
class ClusterOptions:
    clusters: int
    per_channel: bool = False
    seed: int = 0
    # Exact zeros stay zero and count as one of the K values (TF-MOT's preserve_sparsity), so
    # that clustering keeps a pruned model's zeros.
    keep_zeros: bool = False

    def __post_init__(self) -> None:
        if not 2 <= self.clusters <= MAX_CLUSTERS:
            raise TocoError(f"--cluster {self.clusters}: give a number of clusters from 2 to {MAX_CLUSTERS} "
                            "(the values an 8-bit index can name)")

    def describe(self) -> str:
        return f"K={self.clusters}" + (" per channel" if self.per_channel else " per tensor")


@dataclass
class ClusteredTensor:
    subgraph: int
    name: str
    axis: int               # the output-channel axis
    per_channel: bool
    values: int             # distinct values: in the tensor, or in its fullest channel
    relative_error: float   # RMS of (clustered - original) over RMS of the original weights


def weight_ops() -> dict[str, tuple[int, int]]:
    """Op type -> (weight input index, output-channel axis), from the registry."""
    return {t: d.weight_axis for t, d in REGISTRY.items() if d.weight_axis is not None}


def cluster_graph(graph: Graph, options: ClusterOptions) -> list[ClusteredTensor]:
    """Clusters every float32 constant weight, in every subgraph, in place."""
    specs = weight_ops()
    done: list[ClusteredTensor] = []
    for s, g in enumerate(graph.subgraphs or [graph]):
        for name, axis in _weights(g, specs).items():
            t = g.tensors[name]
            rng = np.random.default_rng([options.seed, zlib.crc32(name.encode())])
            clustered = cluster_values(t.data, options.clusters, axis if options.per_channel else None,
                                       rng, options.keep_zeros)
            done.append(ClusteredTensor(s, name, axis, options.per_channel,
                                        distinct_values(clustered, axis if options.per_channel else None),
                                        _relative_error(t.data, clustered)))
            g.tensors[name].data = clustered
    if not done:
        raise TocoError(f"--cluster {options.clusters}: the model has no constant float32 weights of "
                        f"{', '.join(sorted(specs))} to cluster; drop --cluster")
    return done


def _weights(g: Graph, specs: dict[str, tuple[int, int]]) -> dict[str, int]:
    """The float32 constant weights that only weighted ops read, as weights: name -> channel axis."""
    found: dict[str, int] = {}
    for op in g.ops:
        spec = specs.get(op.type)
        if spec is None or len(op.inputs) <= spec[0] or not op.inputs[spec[0]]:
            continue
        name = op.inputs[spec[0]]
        t = g.tensors[name]
        if name in found or not t.is_const or t.dtype != "float32" or t.data.ndim <= spec[1]:
            continue
        readers = g.consumers(name)
        if all(specs.get(u.type) is not None and u.inputs.index(name) == specs[u.type][0]
               and specs[u.type][1] == spec[1] for u in readers):
            found[name] = spec[1]
    return found


def cluster_values(weights: np.ndarray, k: int, axis: int | None, rng: np.random.Generator,
                   keep_zeros: bool = False) -> np.ndarray:
    """The weights with each replaced by its centroid: at most k distinct values in the tensor
    (axis None) or in each slice along axis; same dtype and shape."""
    w = np.asarray(weights)
    if axis is None:
        return _cluster(w, k, rng, keep_zeros)
    moved = np.moveaxis(w, axis, 0)
    return np.moveaxis(np.stack([_cluster(c, k, rng, keep_zeros) for c in moved]), 0, axis).copy()


def _cluster(w: np.ndarray, k: int, rng: np.random.Generator, keep_zeros: bool) -> np.ndarray:
    flat = w.reshape(-1)
    out = np.zeros_like(flat)
    live = flat != 0 if keep_zeros else np.ones(flat.size, bool)
    if live.any():
        centroids, index = kmeans_1d(flat[live], k - int(not live.all()), rng)
        out[live] = centroids.astype(w.dtype)[index]
    return out.reshape(w.shape)


def distinct_values(w: np.ndarray, axis: int | None) -> int:
    """Distinct values in the tensor (axis None), or in its fullest slice along axis."""
    if axis is None:
        return int(np.unique(w).size)
    return max(int(np.unique(c).size) for c in np.moveaxis(w, axis, 0))


def _relative_error(before: np.ndarray, after: np.ndarray) -> float:
    b = np.asarray(before, np.float64)
    rms = float(np.sqrt(np.mean(b * b)))
    return float(np.sqrt(np.mean((np.asarray(after, np.float64) - b) ** 2))) / rms if rms > 0 else 0.0


def quantizing_clustered(quantize: QuantizeOptions, clustered: list[ClusteredTensor]) -> QuantizeOptions:
    """The quantization options that keep the clustered weights' K values: the channels of a
    tensor clustered as a whole share one scale (per channel, each channel's K centroids give
    at most K integers with the channel's own scale, taken from the centroids)."""
    if quantize.weight_rounding != "nearest":
        raise TocoError(f"--weight-rounding {quantize.weight_rounding} rounds equal weights to different "
                        "integers, so clustered weights would lose their K values: drop it or --cluster")
    shared = frozenset((c.subgraph, c.name) for c in clustered if not c.per_channel)
    return replace(quantize, int8=replace(quantize.int8, shared_weight_scales=shared))


def clustering_note(clustered: list[ClusteredTensor], options: ClusterOptions) -> str:
    """One line for the user: how many tensors, their values, the error clustering made."""
    worst = max(clustered, key=lambda c: c.relative_error)
    where = "per channel" if options.per_channel else "in each"
    return (f"clustering {options.describe()} (seed {options.seed}): {len(clustered)} weight tensors, at most "
            f"{max(c.values for c in clustered)} values {where}; RMS change of the weights up to "
            f"{worst.relative_error:.1%} of their RMS ({worst.name})")
