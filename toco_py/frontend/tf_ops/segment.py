"""Segment reductions: SegmentSum and UnsortedSegmentSum / Max / Min / Prod, each one builtin
with int32 ids (TF's converter casts int64 ones, as int32_input does)."""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ...ops.segment import litert_sorted
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
    ids = ctx.const_input(1)
    if ids is None or litert_sorted(ids):
        ctx.emit("SEGMENT_SUM", [ctx.input(0), int32_input(ctx, 1, "segment_ids", "Tindices")])
        return
    # Constant ids that skip a segment: TensorFlow leaves it 0, LiteRT's SEGMENT_SUM fails on
    # them (TF's converter makes one anyway), its UNSORTED_SEGMENT_SUM takes them.
    flat = np.ravel(ids)
    if flat.min() < 0 or np.any(np.diff(flat) < 0):
        raise ConversionError(f"node {ctx.name!r} (SegmentSum): its segment ids must be sorted and not "
                              "negative (TensorFlow fails on others); use UnsortedSegmentSum")
    ctx.emit("UNSORTED_SEGMENT_SUM", [ctx.input(0), int32_input(ctx, 1, "segment_ids", "Tindices"),
                                      ctx.const("num_segments", np.int32(flat.max() + 1))])
