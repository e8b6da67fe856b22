"""Ops along one axis: TopKV2, Cumsum, OneHot, UnsortedSegmentSum."""
from __future__ import annotations

from ...errors import ConversionError
from ..context import NodeContext
from .array import int32_input
from .registry import tf_op


@tf_op("TopKV2")
def top_k_v2(ctx: NodeContext) -> None:
    # TFLite's TOPK_V2 always sorts; TensorFlow's sorted=False leaves the order unspecified,
    # so the sorted order is one TensorFlow may give.
    if ctx.dtype_attr("index_type", "int32") != "int32":
        raise ConversionError(f"node {ctx.name!r} (TopKV2): index_type {ctx.dtype_attr('index_type')} "
                              "is not supported; TFLite's TOPK_V2 returns int32 indices")
    ctx.emit("TOPK_V2", [ctx.input(0), int32_input(ctx, 1, "k", "Tk")], outputs=[ctx.output(0), ctx.output(1)])


@tf_op("Cumsum")
def cumsum(ctx: NodeContext) -> None:
    ctx.emit("CUMSUM", [ctx.input(0), int32_input(ctx, 1, "axis", "Tidx")],
             {"exclusive": ctx.attr("exclusive", False), "reverse": ctx.attr("reverse", False)})


@tf_op("OneHot")
def one_hot(ctx: NodeContext) -> None:
    ctx.emit("ONE_HOT", [ctx.input(i) for i in range(4)], {"axis": ctx.attr("axis", -1)})


@tf_op("UnsortedSegmentSum")
def unsorted_segment_sum(ctx: NodeContext) -> None:
    ctx.emit("UNSORTED_SEGMENT_SUM", [ctx.input(0), int32_input(ctx, 1, "segment_ids", "Tindices"),
                                      int32_input(ctx, 2, "num_segments", "Tnumsegments")])
