"""Linear algebra: Einsum and MatrixBandPart (lowered by passes/lower_einsum.py and
passes/lower_band_part.py)."""
from __future__ import annotations

from ...errors import ConversionError
from ..context import NodeContext
from .registry import tf_op


@tf_op("Einsum")
def einsum(ctx: NodeContext) -> None:
    if len(ctx.inputs) != 2:
        raise ConversionError(f"node {ctx.name!r} (Einsum): {len(ctx.inputs)} operands; only "
                              "two-operand einsums convert (write others with tf.transpose or tf.reduce_sum)")
    ctx.emit("Einsum", [ctx.input(0), ctx.input(1)], {"equation": ctx.attr("equation", kind=str)})


@tf_op("MatrixBandPart")
def matrix_band_part(ctx: NodeContext) -> None:
    ctx.emit("MatrixBandPart", [ctx.input(0), ctx.input(1), ctx.input(2)])
