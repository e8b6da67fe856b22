"""TensorFlow's LSTM kernel ops: LSTMBlockCell, BlockLSTM, BlockLSTMV2 -> the converter-only
ops of ops/lstm_block.py (lowered by passes/lower_block_lstm.py)."""
from __future__ import annotations

from ...errors import ConversionError
from ...ops.lstm_block import OUTPUTS
from ..context import NodeContext
from .registry import tf_op

# TensorFlow's attribute defaults (lstm_ops.cc's op registrations).
_CELL_CLIP = {"LSTMBlockCell": 3.0, "BlockLSTM": 3.0, "BlockLSTMV2": 0.0}


def _attrs(ctx: NodeContext) -> dict:
    if ctx.dtype_attr("T", "float32") != "float32":
        raise ConversionError(f"node {ctx.name!r} ({ctx.node.op}) computes in {ctx.dtype_attr('T')}; "
                              "export it in float32")
    v2 = ctx.node.op == "BlockLSTMV2"
    return {"gate_order": "ifco" if v2 else "icfo",
            "forget_bias": 0.0 if v2 else ctx.attr("forget_bias", 1.0),
            "cell_clip": ctx.attr("cell_clip", _CELL_CLIP[ctx.node.op]),
            "use_peephole": ctx.attr("use_peephole", False)}


@tf_op("LSTMBlockCell")
def lstm_block_cell(ctx: NodeContext) -> None:
    ctx.emit("LSTMBlockCell", [ctx.input(i) for i in range(8)], _attrs(ctx),
             outputs=[ctx.output(k) for k in range(len(OUTPUTS))])


@tf_op("BlockLSTM", "BlockLSTMV2")
def block_lstm(ctx: NodeContext) -> None:
    ctx.emit("BlockLSTM", [ctx.input(i) for i in range(9)], _attrs(ctx),
             outputs=[ctx.output(k) for k in range(len(OUTPUTS))])
