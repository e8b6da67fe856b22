"""SPACE_TO_BATCH_ND -> VALID CONV_2D / DEPTHWISE_CONV_2D -> BATCH_TO_SPACE_ND, how
tf.nn.atrous_conv2d and tf.nn.convolution spell a dilated convolution -> one conv with the
block shape as its dilation (TF's converter does the same: dilated_conv.h).

Exact, not a guess from the op types: padding x by P, splitting it into block-phase images,
convolving each VALID and interleaving them back is the dilated VALID conv of the padded x;
cropping C from that is the dilated conv of x with padding (before, after) = P - C per axis.
The fold applies when P - C is what VALID or SAME pads on both axes.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops.common import same_padding
from .base import Pass
from .patterns import private, producer_of

_CONVS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def _plain(conv: Op) -> bool:
    """Stride 1, no dilation, VALID: the conv the pattern runs on each block phase."""
    a = conv.attrs
    return a.get("padding") == "VALID" and all(
        a.get(key, 1) == 1 for key in ("stride_h", "stride_w", "dilation_h_factor", "dilation_w_factor"))


def _padding(graph: Graph, stb: Op, bts: Op, kernel: tuple[int, int]) -> str | None:
    """VALID or SAME when the paddings minus the crops are what it pads on both axes."""
    block, pads, crops = (graph.const_value(name) for name in (stb.inputs[1], stb.inputs[2], bts.inputs[2]))
    bts_block = graph.const_value(bts.inputs[1])
    if any(v is None for v in (block, pads, crops, bts_block)) or np.size(block) != 2 \
            or not np.array_equal(block, bts_block):
        return None
    net = [tuple(p) for p in (np.reshape(pads, (2, 2)) - np.reshape(crops, (2, 2))).tolist()]
    for padding in ("VALID", "SAME"):
        # At stride 1 what SAME pads does not depend on the input size.
        want = [same_padding(1, k, 1, int(d), padding) for k, d in zip(kernel, np.ravel(block))]
        if net == want:
            return padding
    return None


def fold_dilated_conv(graph: Graph, bts: Op) -> bool:
    if bts.type != "BATCH_TO_SPACE_ND":
        return False
    conv = producer_of(graph, bts.inputs[0], *_CONVS)
    if conv is None or not _plain(conv) or not private(graph, conv.outputs[0], bts):
        return False
    stb = producer_of(graph, conv.inputs[0], "SPACE_TO_BATCH_ND")
    filt = graph.tensors[conv.inputs[1]].shape
    if stb is None or not private(graph, stb.outputs[0], conv) or filt is None or len(filt) != 4:
        return False
    padding = _padding(graph, stb, bts, (filt[1], filt[2]))
    if padding is None:
        return False
    dh, dw = (int(d) for d in np.ravel(graph.const_value(stb.inputs[1])))
    attrs = conv.attrs | {"padding": padding, "dilation_h_factor": dh, "dilation_w_factor": dw}
    folded = Op(conv.type, [stb.inputs[0], *conv.inputs[1:]], list(bts.outputs), attrs, conv.name)
    graph.replace_op(bts, [folded])
    graph.remove_op(conv)
    graph.remove_op(stb)
    graph.drop_unused([stb.outputs[0], conv.outputs[0], *stb.inputs[1:], *bts.inputs[1:]])
    return True


PASS = Pass("fold_dilated_conv", fold_dilated_conv)
