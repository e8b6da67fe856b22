"""inspect's compression section: the file's bytes and gzipped bytes, the savings rows
(savings.Saving) the file itself shows, and the clustered weights with their packed form."""
from __future__ import annotations

from .cluster import weight_ops
from .packing import clustered_weights
from .savings import COLUMNS, Saving, as_json, gzip_size

PACKED = "clustered weights as packed indices (codegen; a .tflite stores them dense)"


def compression_summary(path: str, graph) -> dict:
    with open(path, "rb") as f:
        data = f.read()
    clustered = [row for g in graph.subgraphs or [graph] for row in clustered_weights(g, weight_ops())]
    savings = []
    if clustered:
        savings.append(Saving(PACKED, sum(r["bytes"] - r["packed_bytes"] for r in clustered), None))
    return {"file_bytes": len(data), "gzip_bytes": gzip_size(data), "savings": as_json(savings),
            "clustered_weights": clustered}


def print_compression(summary: dict, print_table) -> None:
    print(f"\ncompression: {summary['file_bytes']} bytes, {summary['gzip_bytes']} gzipped (level 9)")
    if summary["savings"]:
        print()
        print_table("saved by each technique", COLUMNS,
                    [Saving(s["technique"], s["file_bytes_saved"], s["gzip_bytes_saved"]).row()
                     for s in summary["savings"]])
    if summary["clustered_weights"]:
        print()
        print_table("clustered weights (at most K distinct values): their packed form, log2 K-bit indices + "
                    "the value table", ["tensor", "dtype", "K", "K per channel", "bytes", "gzipped", "index bits",
                                        "table", "packed bytes"],
                    [(r["name"], r["dtype"], r["values"], r["values_per_channel"], r["bytes"], r["gzip_bytes"],
                      r["index_bits"], r["table"], r["packed_bytes"]) for r in summary["clustered_weights"]])
