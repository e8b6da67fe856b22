"""Segment reductions: SegmentSum and UnsortedSegmentSum / Max / Min / Prod, each one builtin
with int32 ids (TF's converter casts int64 ones, as int32_input does)."""
from __future__ import annotations

from ..context import NodeContext
from .array import int32_input
from .registry import tf_op

_UNSORTED = {"UnsortedSegmentSum": "UNSORTED_SEGMENT_SUM", "UnsortedSegmentMax": "UNSORTED_SEGMENT_MAX",
             "UnsortedSegmentMin": "UNSORTED_SEGMENT_MIN", "UnsortedSegmentProd": "UNSORTED_SEGMENT_PROD"}


@tf_op(*_UNSORTED)
def unsorted_segment(ctx: NodeContext) -> None:
    ctx.emit(_UNSORTED[ctx.node.op], [ctx.input(0), int32_input(ctx, 1, "segment_ids", "Tindices"),
                                      int32_input(ctx, 2, "num_segments", "Tnumsegments")])


@tf_op("SegmentSum")
def segment_sum(ctx: NodeContext) -> None:
    ctx.emit("SEGMENT_SUM", [ctx.input(0), int32_input(ctx, 1, "segment_ids", "Tindices")])
