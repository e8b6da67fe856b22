"""Compression flags shared by `convert` and `quantize`."""
from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..errors import TocoError

if TYPE_CHECKING:  # the CLI imports this module at startup: numpy loads later
    from .cluster import ClusterOptions


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
