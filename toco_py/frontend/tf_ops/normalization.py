"""Batch normalization and fake quantization (ops folded or dropped by the passes)."""
from __future__ import annotations

from ...errors import ConversionError
from ..context import NodeContext
from .registry import tf_op


@tf_op("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def fused_batch_norm(ctx: NodeContext) -> None:
    ctx.data_format_nhwc()
    # Outputs besides y (batch statistics, reserve spaces) only matter in training.
    count = 6 if ctx.node.op == "FusedBatchNormV3" else 5
    ctx.emit("FusedBatchNorm", ctx.inputs[:5],
             {"epsilon": ctx.attr("epsilon", 1e-3), "is_training": ctx.attr("is_training", True),
              "exponential_avg_factor": ctx.attr("exponential_avg_factor", 1.0)},
             outputs=[ctx.output(i) for i in range(count)])


def _fake_quant_attrs(ctx: NodeContext) -> dict:
    num_bits = ctx.attr("num_bits", 8)
    if not 2 <= num_bits <= 16:
        raise ConversionError(f"node {ctx.name!r}: fake quantization to {num_bits} bits")
    return {"num_bits": num_bits, "narrow_range": ctx.attr("narrow_range", False)}


@tf_op("FakeQuantWithMinMaxArgs")
def fake_quant_args(ctx: NodeContext) -> None:
    attrs = _fake_quant_attrs(ctx) | {"min": ctx.attr("min", -6.0), "max": ctx.attr("max", 6.0)}
    ctx.emit("FakeQuant", [ctx.input(0)], attrs)


@tf_op("FakeQuantWithMinMaxVars", "FakeQuantWithMinMaxVarsPerChannel")
def fake_quant_vars(ctx: NodeContext) -> None:
    ctx.emit("FakeQuant", [ctx.input(0), ctx.input(1), ctx.input(2)], _fake_quant_attrs(ctx))


@tf_op("QuantizeAndDequantizeV2", "QuantizeAndDequantizeV4")
def quantize_and_dequantize(ctx: NodeContext) -> None:
    num_bits = ctx.attr("num_bits", 8)
    if not 2 <= num_bits <= 16:
        raise ConversionError(f"node {ctx.name!r}: quantize-and-dequantize to {num_bits} bits")
    if not ctx.attr("range_given", False):
        raise ConversionError(f"node {ctx.name!r}: {ctx.node.op} without range_given quantizes on the "
                              "range of each input it sees, which no TFLite op computes; give it "
                              "constant min/max and range_given=true")
    ctx.emit("QuantizeAndDequantize", [ctx.input(0), ctx.input(1), ctx.input(2)],
             {"num_bits": num_bits, "signed_input": ctx.attr("signed_input", True),
              "narrow_range": ctx.attr("narrow_range", False),
              "round_mode": ctx.attr("round_mode", "HALF_TO_EVEN")})
