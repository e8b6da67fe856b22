"""Array ops: reshape family, transpose, concat, pad, pack/unpack, split."""
from __future__ import annotations

from ..context import NodeContext
from .registry import tf_op


@tf_op("Reshape")
def reshape(ctx: NodeContext) -> None:
    ctx.emit("RESHAPE", [ctx.input(0), ctx.input(1)])


@tf_op("Squeeze")
def squeeze(ctx: NodeContext) -> None:
    ctx.emit("SQUEEZE", [ctx.input(0)], {"squeeze_dims": ctx.ints_attr("squeeze_dims", [])})


@tf_op("ExpandDims")
def expand_dims(ctx: NodeContext) -> None:
    ctx.emit("EXPAND_DIMS", [ctx.input(0), ctx.input(1)])


@tf_op("Transpose")
def transpose(ctx: NodeContext) -> None:
    ctx.emit("TRANSPOSE", [ctx.input(0), ctx.input(1)])


@tf_op("ConcatV2")
def concat_v2(ctx: NodeContext) -> None:
    ctx.emit("ConcatV2", ctx.inputs)


@tf_op("Concat")
def concat_v1(ctx: NodeContext) -> None:
    # Concat (v1) takes the axis first.
    ctx.emit("ConcatV2", ctx.inputs[1:] + ctx.inputs[:1])


@tf_op("Pad")
def pad(ctx: NodeContext) -> None:
    ctx.emit("PAD", [ctx.input(0), ctx.input(1)])


@tf_op("PadV2")
def pad_v2(ctx: NodeContext) -> None:
    ctx.emit("PADV2", [ctx.input(0), ctx.input(1), ctx.input(2)])


@tf_op("MirrorPad")
def mirror_pad(ctx: NodeContext) -> None:
    ctx.emit("MIRROR_PAD", [ctx.input(0), ctx.input(1)], {"mode": ctx.attr("mode", "REFLECT")})


@tf_op("Pack")
def pack(ctx: NodeContext) -> None:
    ctx.emit("PACK", ctx.inputs, {"axis": ctx.attr("axis", 0), "values_count": len(ctx.inputs)})


@tf_op("Unpack")
def unpack(ctx: NodeContext) -> None:
    num = ctx.attr("num", kind=int)
    ctx.emit("UNPACK", [ctx.input(0)], {"axis": ctx.attr("axis", 0), "num": num},
             outputs=ctx.outputs(num, "num"))


@tf_op("Split")
def split(ctx: NodeContext) -> None:
    num = ctx.attr("num_split", kind=int)
    ctx.emit("SPLIT", [ctx.input(0), ctx.input(1)], {"num_splits": num},
             outputs=ctx.outputs(num, "num_split"))


@tf_op("SplitV")
def split_v(ctx: NodeContext) -> None:
    num = ctx.attr("num_split", kind=int)
    ctx.emit("SPLIT_V", [ctx.input(0), ctx.input(1), ctx.input(2)], {"num_splits": num},
             outputs=ctx.outputs(num, "num_split"))


@tf_op("Shape")
def shape(ctx: NodeContext) -> None:
    ctx.emit("SHAPE", [ctx.input(0)], {"out_type": ctx.dtype_attr("out_type", "int32")})


@tf_op("Cast")
def cast(ctx: NodeContext) -> None:
    ctx.emit("CAST", [ctx.input(0)], {"out_data_type": ctx.dtype_attr("DstT")})
