"""Helpers for mappers that lower one TF op to a few builtins, as TF's converter does in
lower_tf.td (DivNoNan -> EQUAL, DIV, SELECT_V2; Softplus -> EXP, ADD, LOG ...)."""
from __future__ import annotations

import numpy as np

from ..context import NodeContext


def scalar(ctx: NodeContext, suffix: str, value: float) -> str:
    """A rank-0 constant of the node's element type T, which the op reading it broadcasts."""
    return ctx.const(suffix, np.array(value, dtype=ctx.dtype_attr("T", "float32")))



def integer_type(ctx: NodeContext) -> bool:
    """Whether the node's element type T is an integer (LiteRT's SQUARE, RELU and RELU6 take
    none; its DIV truncates them)."""
    return not ctx.dtype_attr("T", "float32").startswith(("float", "bfloat", "half"))
