"""Object-detection ops: NonMaxSuppressionV4 / V5 as TFLite's builtins, as TensorFlow's
converter legalizes them (legalize_patterns.td): the same inputs, pad_to_max_output_size
dropped, since TFLite's outputs always have max_output_size entries, zero-padded."""
from __future__ import annotations

from ..context import NodeContext
from .registry import tf_op

_NMS = {"NonMaxSuppressionV4": "NON_MAX_SUPPRESSION_V4", "NonMaxSuppressionV5": "NON_MAX_SUPPRESSION_V5"}
# V5 adds the Soft-NMS sigma input and the selected scores output.
_INPUTS_OUTPUTS = {"NonMaxSuppressionV4": (5, 2), "NonMaxSuppressionV5": (6, 3)}


@tf_op(*_NMS)
def non_max_suppression(ctx: NodeContext) -> None:
    inputs, outputs = _INPUTS_OUTPUTS[ctx.node.op]
    ctx.emit(_NMS[ctx.node.op], [ctx.input(i) for i in range(inputs)],
             outputs=[ctx.output(i) for i in range(outputs)])
