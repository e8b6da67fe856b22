"""Operator versions, from the features each op uses, as TFLite's op_version rules set them."""
from __future__ import annotations

from ..ir import Graph, Op


def op_version(graph: Graph, op: Op) -> int:
    rule = _RULES.get(op.type)
    return rule(graph, op) if rule else 1


def _conv(graph: Graph, op: Op) -> int:
    if op.attrs.get("dilation_w_factor", 1) != 1 or op.attrs.get("dilation_h_factor", 1) != 1:
        return 2
    return 1


def _fully_connected(graph: Graph, op: Op) -> int:
    if op.attrs.get("keep_num_dims"):
        return 5
    if len(op.inputs) == 2 or (len(op.inputs) == 3 and not op.inputs[2]):
        return 6
    return 1


def _depthwise(graph: Graph, op: Op) -> int:
    if op.attrs.get("dilation_w_factor", 1) != 1 or op.attrs.get("dilation_h_factor", 1) != 1:
        return 2
    return 1


_RULES = {
    # LiteRT registers BROADCAST_TO from version 2 only.
    "BROADCAST_TO": lambda graph, op: 2,
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _depthwise,
    "FULLY_CONNECTED": _fully_connected,
}
