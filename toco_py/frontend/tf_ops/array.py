"""Array ops: reshape family, transpose, concat, pad, pack/unpack, split."""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
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


# The types both TensorFlow's Bitcast and LiteRT's BITCAST take that numpy can reinterpret.
_BITCAST_TYPES = ("float16", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32",
                  "uint32", "int64", "uint64", "complex64", "complex128")


@tf_op("Bitcast")
def bitcast(ctx: NodeContext) -> None:
    for dtype in (ctx.dtype_attr("T"), ctx.dtype_attr("type")):
        if dtype not in _BITCAST_TYPES:
            raise ConversionError(f"node {ctx.name!r} (Bitcast): type {dtype} does not convert; "
                                  f"BITCAST takes {', '.join(_BITCAST_TYPES)}")
    ctx.emit("BITCAST", [ctx.input(0)], {"out_type": ctx.dtype_attr("type")})


def int32_input(ctx: NodeContext, i: int, what: str, type_attr: str) -> str:
    """Input i as int32, the only index type of LiteRT's kernels where TensorFlow also takes
    int64 (type_attr names the input's type: a constant is rewritten, a computed tensor cast)."""
    value = ctx.const_input(i)
    if value is not None and value.dtype != np.int32:
        return ctx.const(what, np.asarray(value).astype(np.int32))
    if value is not None or ctx.dtype_attr(type_attr, "int32") == "int32":
        return ctx.input(i)
    cast = ctx.temp(f"{what}_int32")
    ctx.emit("CAST", [ctx.input(i)], {"out_data_type": "int32"}, outputs=[cast])
    return cast


@tf_op("ReverseV2")
def reverse_v2(ctx: NodeContext) -> None:
    ctx.emit("REVERSE_V2", [ctx.input(0), int32_input(ctx, 1, "axis", "Tidx")])


@tf_op("SpaceToBatchND")
def space_to_batch_nd(ctx: NodeContext) -> None:
    ctx.emit("SPACE_TO_BATCH_ND", [ctx.input(0), int32_input(ctx, 1, "block_shape", "Tblock_shape"),
                                   int32_input(ctx, 2, "paddings", "Tpaddings")])


@tf_op("BatchToSpaceND")
def batch_to_space_nd(ctx: NodeContext) -> None:
    ctx.emit("BATCH_TO_SPACE_ND", [ctx.input(0), int32_input(ctx, 1, "block_shape", "Tblock_shape"),
                                   int32_input(ctx, 2, "crops", "Tcrops")])
