"""Image ops: resizing, depth <-> space, and Conv2DBackpropInput as TRANSPOSE_CONV."""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ..context import NodeContext
from .registry import tf_op


def _resize_attrs(ctx: NodeContext) -> dict:
    return {"align_corners": ctx.attr("align_corners", False),
            "half_pixel_centers": ctx.attr("half_pixel_centers", False)}


@tf_op("ResizeBilinear")
def resize_bilinear(ctx: NodeContext) -> None:
    images = ctx.input(0)
    if ctx.dtype_attr("T", "float32") != "float32":
        # TensorFlow's ResizeBilinear always returns float32; TFLite's keeps the input type.
        images = ctx.temp("images_float")
        ctx.emit("CAST", [ctx.input(0)], {"out_data_type": "float32"}, outputs=[images])
    ctx.emit("RESIZE_BILINEAR", [images, ctx.input(1)], _resize_attrs(ctx))


@tf_op("ResizeNearestNeighbor")
def resize_nearest_neighbor(ctx: NodeContext) -> None:
    ctx.emit("RESIZE_NEAREST_NEIGHBOR", [ctx.input(0), ctx.input(1)], _resize_attrs(ctx))


@tf_op("DepthToSpace", "SpaceToDepth")
def depth_space(ctx: NodeContext) -> None:
    ctx.data_format_nhwc()
    op_type = "DEPTH_TO_SPACE" if ctx.node.op == "DepthToSpace" else "SPACE_TO_DEPTH"
    ctx.emit(op_type, [ctx.input(0)], {"block_size": ctx.attr("block_size", kind=int)})


@tf_op("Conv2DBackpropInput")
def conv2d_backprop_input(ctx: NodeContext) -> None:
    """Inputs (input_sizes, filter HWOI, out_backprop) -> TRANSPOSE_CONV (output_shape,
    filter OHWI, input)."""
    ctx.data_format_nhwc()
    padding = ctx.attr("padding", kind=str)
    if padding not in ("SAME", "VALID"):
        raise ConversionError(f"node {ctx.name!r}: TRANSPOSE_CONV has no {padding} padding")
    if ctx.spatial("dilations", unit_batch_channel=True) != (1, 1):
        raise ConversionError(f"node {ctx.name!r}: TRANSPOSE_CONV has no dilation")
    sh, sw = ctx.spatial("strides", unit_batch_channel=True)
    # TF's filter is [H, W, out, in]; TFLite's [out, H, W, in]: a transpose that constant
    # folding applies once.
    filt = ctx.temp("filter_ohwi")
    ctx.emit("TRANSPOSE", [ctx.input(1), ctx.const("perm", np.array([2, 0, 1, 3], np.int32))],
             outputs=[filt])
    ctx.emit("TRANSPOSE_CONV", [ctx.input(0), filt, ctx.input(2)],
             {"padding": padding, "stride_h": sh, "stride_w": sw})
