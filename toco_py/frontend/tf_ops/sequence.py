"""Ops along one axis: TopKV2, ApproxTopK, Cumsum, OneHot, ReverseSequence, Roll."""
from __future__ import annotations

import numpy as np

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


@tf_op("ApproxTopK")
def approx_top_k(ctx: NodeContext) -> None:
    # As TF's converter (LegalizeApproxTopK): exact top k of the largest values along the last
    # axis, which is what TensorFlow computes on a CPU; recall_target and the size override
    # only tune an accelerator's search.
    if not ctx.attr("is_max_k", True):
        raise ConversionError(f"node {ctx.name!r} (ApproxTopK): is_max_k=False (approx_min_k) does "
                              "not convert; negate the input and use approx_max_k")
    k = ctx.attr("k", kind=int)
    if not 0 <= k <= np.iinfo(np.int32).max:
        raise ConversionError(f"node {ctx.name!r} (ApproxTopK): k = {k} is not a count TOPK_V2 takes")
    # TOPK_V2's shape rule checks k and the axis once the input's shape is known.
    ctx.emit("TOPK_V2", [ctx.input(0), ctx.const("k", np.int32(k))],
             {"axis": ctx.attr("reduction_dimension", -1)}, outputs=[ctx.output(0), ctx.output(1)])


@tf_op("ReverseSequence")
def reverse_sequence(ctx: NodeContext) -> None:
    ctx.emit("REVERSE_SEQUENCE", [ctx.input(0), ctx.input(1)],
             {"seq_dim": ctx.attr("seq_dim", kind=int), "batch_dim": ctx.attr("batch_dim", 0)})


@tf_op("Roll")
def roll(ctx: NodeContext) -> None:
    shift, axis = ctx.require_const(1, "shift"), ctx.require_const(2, "axis")
    ctx.emit("Roll", [ctx.input(0)], {"shift": [int(v) for v in np.ravel(shift)],
                                      "axis": [int(v) for v in np.ravel(axis)]})
