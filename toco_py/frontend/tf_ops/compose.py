"""Helpers for mappers that lower one TF op to a few builtins, as TF's converter does in
lower_tf.td (DivNoNan -> EQUAL, DIV, SELECT_V2; Softplus -> EXP, ADD, LOG ...)."""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ..context import NodeContext


def element_type(ctx: NodeContext) -> np.dtype:
    """The node's element type T, which must be a number type for its constants."""
    name = ctx.dtype_attr("T", "float32")
    try:
        dtype = np.dtype(name)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "iuf":
        raise ConversionError(f"node {ctx.name!r} ({ctx.node.op}): element type {name} is not an "
                              "integer or float type this op converts in")
    return dtype


def scalar(ctx: NodeContext, suffix: str, value: float) -> str:
    """A rank-0 constant of the node's element type T, which the op reading it broadcasts."""
    return ctx.const(suffix, np.array(value, dtype=element_type(ctx)))


def integer_type(ctx: NodeContext) -> bool:
    """Whether the node's element type T is an integer (LiteRT's SQUARE, RELU and RELU6 take
    none; its DIV truncates them)."""
    return not ctx.dtype_attr("T", "float32").startswith(("float", "bfloat", "half"))
