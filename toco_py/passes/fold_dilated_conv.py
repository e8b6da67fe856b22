"""SPACE_TO_BATCH_ND -> VALID CONV_2D / DEPTHWISE_CONV_2D -> BATCH_TO_SPACE_ND, how
tf.nn.atrous_conv2d and tf.nn.convolution spell a dilated convolution -> one conv with the
block shape as its dilation (TF's converter does the same: dilated_conv.h). The 1-D form
(3-D blocks, the conv between a RESHAPE that adds a unit axis and one that removes it)
becomes RESHAPE -> dilated conv -> RESHAPE.

Exact, not a guess from the op types: padding x by P, splitting it into block-phase images,
convolving each VALID and interleaving them back is the dilated VALID conv of the padded x;
cropping C from that is the dilated conv of x with padding (before, after) = P - C per axis.
The fold applies when P - C is what VALID or SAME pads on both axes.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, Tensor
from ..ops.common import same_padding
from .base import Pass
from .patterns import private, producer_of

_CONVS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def _plain(conv: Op) -> bool:
    """Stride 1, no dilation, VALID: the conv the pattern runs on each block phase."""
    a = conv.attrs
    return a.get("padding") == "VALID" and all(
        a.get(key, 1) == 1 for key in ("stride_h", "stride_w", "dilation_h_factor", "dilation_w_factor"))


def _blocks(graph: Graph, stb: Op, bts: Op) -> tuple[list[int], list[tuple[int, int]]] | None:
    """(block per spatial axis, paddings minus crops per spatial axis), when both constant
    and the two ops' blocks agree."""
    block, pads, crops, bts_block = (graph.const_value(name) for name in (
        stb.inputs[1], stb.inputs[2], bts.inputs[2], bts.inputs[1]))
    if any(v is None for v in (block, pads, crops, bts_block)) or not np.array_equal(block, bts_block):
        return None
    m = np.size(block)
    net = (np.reshape(pads, (m, 2)) - np.reshape(crops, (m, 2))).tolist()
    return [int(b) for b in np.ravel(block)], [tuple(p) for p in net]


def _padding(dilations: list[int], net: list[tuple[int, int]], kernel: tuple[int, int]) -> str | None:
    """VALID or SAME when the paddings minus the crops are what it pads on both conv axes."""
    for padding in ("VALID", "SAME"):
        # At stride 1 what SAME pads does not depend on the input size.
        if net == [same_padding(1, k, 1, d, padding) for k, d in zip(kernel, dilations)]:
            return padding
    return None


def _unit_axis(graph: Graph, expand: Op, squeeze: Op) -> int | None:
    """The conv axis (0: height, 1: width) a RESHAPE pair adds and removes around the conv."""
    before, inside = graph.tensors[expand.inputs[0]].shape, graph.tensors[expand.outputs[0]].shape
    out, after = graph.tensors[squeeze.inputs[0]].shape, graph.tensors[squeeze.outputs[0]].shape
    if None in (before, inside, out, after) or len(before) != 3 or len(inside) != 4:
        return None
    for axis in (0, 1):
        if inside[1 + axis] == 1 and inside[:1 + axis] + inside[2 + axis:] == before \
                and out[1 + axis] == 1 and out[:1 + axis] + out[2 + axis:] == after:
            return axis
    return None


def _match(graph: Graph, bts: Op):
    """(conv, its input and output RESHAPEs or None, the SPACE_TO_BATCH_ND, the unit conv axis
    of the 1-D form or None)."""
    inner = producer_of(graph, bts.inputs[0], *_CONVS, "RESHAPE")
    squeeze = inner if inner is not None and inner.type == "RESHAPE" else None
    conv = producer_of(graph, squeeze.inputs[0], *_CONVS) if squeeze else inner
    if conv is None or not _plain(conv):
        return None
    expand = producer_of(graph, conv.inputs[0], "RESHAPE") if squeeze else None
    stb = producer_of(graph, (expand or conv).inputs[0], "SPACE_TO_BATCH_ND")
    chain = [op for op in (stb, expand, conv, squeeze) if op is not None]
    if stb is None or (squeeze is not None and expand is None) or not all(
            private(graph, op.outputs[0], nxt) for op, nxt in zip(chain, chain[1:] + [bts])):
        return None
    unit = _unit_axis(graph, expand, squeeze) if squeeze else None
    if squeeze is not None and unit is None:
        return None
    return conv, expand, squeeze, stb, unit


def fold_dilated_conv(graph: Graph, bts: Op) -> bool:
    if bts.type != "BATCH_TO_SPACE_ND":
        return False
    match = _match(graph, bts)
    filt = graph.tensors[match[0].inputs[1]].shape if match else None
    blocks = _blocks(graph, match[3], bts) if match else None
    if filt is None or len(filt) != 4 or blocks is None:
        return False
    conv, expand, squeeze, stb, unit = match
    dilations, net = blocks
    if unit is not None:  # the unit axis: no block, no padding
        dilations.insert(unit, 1)
        net.insert(unit, (0, 0))
    padding = _padding(dilations, net, (filt[1], filt[2])) if len(dilations) == 2 else None
    x, y = graph.tensors[stb.inputs[0]], graph.tensors[bts.outputs[0]]
    if padding is None or (unit is not None and not (x.static_shape and y.static_shape)):
        return False
    attrs = conv.attrs | {"padding": padding, "dilation_h_factor": dilations[0], "dilation_w_factor": dilations[1]}
    if unit is None:
        ops = [Op(conv.type, [stb.inputs[0], *conv.inputs[1:]], list(bts.outputs), attrs, conv.name)]
    else:
        ops = _one_d(graph, conv, attrs, x, y, unit)
    graph.replace_op(bts, ops)
    for op in (squeeze, conv, expand, stb):
        if op is not None:
            graph.remove_op(op)
    graph.drop_unused([t for op in (stb, expand, conv, squeeze) if op for t in op.outputs + op.inputs[1:]]
                      + bts.inputs[1:])
    return True


def _one_d(graph: Graph, conv: Op, attrs: dict, x: Tensor, y: Tensor, unit: int) -> list[Op]:
    """RESHAPE (a unit conv axis in) -> the dilated conv -> RESHAPE (out again)."""
    def with_unit(shape, suffix):
        name = graph.unique_name(f"{y.name}/{suffix}")
        graph.add_tensor(Tensor(name))
        return name, graph.add_const(f"{name}/shape", np.array(shape[:1 + unit] + (1,) + shape[1 + unit:], np.int32))
    expanded, expanded_shape = with_unit(x.shape, "expanded")
    conv_out, _ = with_unit(y.shape, "conv")
    y_shape = graph.add_const(f"{y.name}/shape", np.array(y.shape, np.int32))
    return [Op("RESHAPE", [x.name, expanded_shape], [expanded], {}, conv.name),
            Op(conv.type, [expanded, *conv.inputs[1:]], [conv_out], attrs, conv.name),
            Op("RESHAPE", [conv_out, y_shape], [y.name], {}, conv.name)]


PASS = Pass("fold_dilated_conv", fold_dilated_conv)
