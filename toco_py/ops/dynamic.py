"""Ops whose output size depends on the input values: WHERE, UNIQUE, and BROADCAST_ARGS (whose
size does not, but whose values are shapes computed at run time). RANGE, whose size does when
its bounds are not constant, lives with the ops that make tensors (generate.py).

A size known only at run time is -1 in the output's shape: the writer puts it in
shape_signature, and LiteRT resizes the tensors after the op when it runs it."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import need_shape
from .registry import register

# The types LiteRT's UNIQUE kernel writes its indices in (unique.cc).
UNIQUE_INDEX_TYPES = ("int32", "int64")


def _infer_where(op: Op, condition: Tensor):
    return (-1, len(need_shape(op, condition))), "int64"


def _where(op: Op, condition: np.ndarray) -> np.ndarray:
    """The coordinates of the true (non-zero) elements, in row-major order."""
    return np.argwhere(condition).astype(np.int64)


def _infer_unique(op: Op, x: Tensor):
    shape = need_shape(op, x)
    if len(shape) != 1:
        raise ConversionError(f"{op!r}: UNIQUE takes a vector, not a tensor of shape {list(shape)}")
    return [((-1,), x.dtype), (shape, _index_type(op))]


def _index_type(op: Op) -> str:
    index_type = op.attrs.get("idx_out_type", "int32")
    if index_type not in UNIQUE_INDEX_TYPES:
        raise ConversionError(f"{op!r}: UNIQUE writes its indices as int32 or int64, not {index_type}")
    return index_type


def _unique(op: Op, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values in the order they first occur, and where each element's value is
    among them (TensorFlow's order; numpy's unique sorts)."""
    _, first, inverse = np.unique(x, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return x[np.sort(first)], rank[inverse.reshape(-1)].astype(_index_type(op))


def _infer_broadcast_args(op: Op, s0: Tensor, s1: Tensor):
    lengths = [need_shape(op, s)[0] for s in (s0, s1)]
    return (-1 if -1 in lengths else max(lengths),), s0.dtype


def _broadcast_args(op: Op, s0: np.ndarray, s1: np.ndarray) -> np.ndarray:
    try:
        shape = np.broadcast_shapes(tuple(s0.tolist()), tuple(s1.tolist()))
    except ValueError:
        raise ConversionError(f"{op!r}: shapes {s0.tolist()} and {s1.tolist()} do not broadcast") from None
    return np.array(shape, s0.dtype)


register("WHERE", traits={"value_shaped"}, infer=_infer_where, kernel=_where)
register("UNIQUE", traits={"value_shaped", "moves_data"}, infer=_infer_unique, kernel=_unique)
register("BROADCAST_ARGS", traits={"tflm"}, infer=_infer_broadcast_args, kernel=_broadcast_args)
