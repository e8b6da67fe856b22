"""Compression flags shared by `convert` and `quantize`."""
from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..errors import TocoError

if TYPE_CHECKING:  # the CLI imports this module at startup: numpy loads later
    from .cluster import ClusterOptions
    from .prune import PruneOptions


def prune_options(fn):
    options = [
        click.option("--prune", "prune", type=float, metavar="SPARSITY",
                     help="Set this share (0-1) of each conv / FC weight tensor's values, those of least "
                          "magnitude, to zero; stored sparse where that makes the file smaller."),
        click.option("--prune_schedule", "--prune-schedule", "prune_schedule", metavar="FILE.json",
                     help="Per-layer sparsity: a JSON object of op, weight or output name (or scope) -> "
                          "share, overriding --prune for those layers."),
        click.option("--prune_block", "--prune-block", "prune_block", type=click.Choice(["1x1", "1x4", "1x16"]),
                     help="Prune whole runs of 1 x B weights along the input channels (default 1x1: "
                          "single weights), as LiteRT's sparse FC kernels read them."),
        click.option("--prune_method", "--prune-method", "prune_method", type=click.Choice(["magnitude", "sparsegpt"]),
                     help="magnitude (default): drop the smallest weights; sparsegpt: drop those whose loss the "
                          "layer's outputs feel least on --calibration-data, the weights kept compensating."),
        click.option("--prune_allocation", "--prune-allocation", "prune_allocation",
                     type=click.Choice(["layer", "measured"]),
                     help="layer (default): --prune's share of each layer; measured (with sparsegpt): that share "
                          "of all of them, taken where the layers' outputs lose least."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def build_prune_options(sparsity: float | None, schedule_file: str | None, block: str | None,
                        method: str | None = None, allocation: str | None = None,
                        quantization: dict | None = None) -> PruneOptions | None:
    """quantization: the quantization flags, whose --calibration-data (and how to read it)
    --prune_method sparsegpt runs."""
    from .prune import prune_options as build

    q = quantization or {}
    calibration = (q.get("calibration_data"), q.get("calibration_mean", 0.0), q.get("calibration_std", 1.0),
                   q.get("calibration_samples"))
    return build(sparsity, schedule_file, block, method, calibration, allocation)


def cluster_options(fn):
    options = [
        click.option("--cluster", "cluster", type=int, metavar="K",
                     help="Weight clustering: each conv / depthwise / FC / transpose-conv weight tensor "
                          "takes at most K (2..256) distinct values, its k-means centroids, so the file "
                          "gzips smaller (and packs as log2 K-bit indices). Runs before --quantize: int8 "
                          "weights keep at most K integers."),
        click.option("--cluster_per_channel", "--cluster-per-channel", "cluster_per_channel", is_flag=True,
                     help="With --cluster: K values per output channel instead of per tensor."),
        click.option("--cluster_seed", "--cluster-seed", "cluster_seed", type=click.IntRange(min=0),
                     metavar="N",
                     help="With --cluster: the seed of the k-means++ initialisation  [default: 0]."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def build_cluster_options(cluster: int | None, cluster_per_channel: bool,
                          cluster_seed: int | None) -> ClusterOptions | None:
    if cluster is None:
        if cluster_per_channel or cluster_seed is not None:
            raise TocoError("--cluster_per_channel and --cluster_seed tune clustering: add --cluster K")
        return None
    from .cluster import ClusterOptions

    return ClusterOptions(cluster, cluster_per_channel, 0 if cluster_seed is None else cluster_seed)
