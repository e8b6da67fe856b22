"""Broadcasting binary ops, elementwise unary math, and the elementwise ops that do not
broadcast (ADD_N, ATAN2) or map values to buckets (BUCKETIZE)."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import (
    apply_activation,
    broadcast_shapes,
    infer_same,
    need_shape,
    same_dtype,
)
from .registry import APPROXIMATED, register


def _infer_binary(result_dtype: str | None = None):
    def infer(op: Op, a: Tensor, b: Tensor):
        shape = broadcast_shapes(op, need_shape(op, a), need_shape(op, b))
        return shape, result_dtype or same_dtype(op, a, b)
    return infer


def _binary(fn, fused: bool):
    def kernel(op: Op, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # IEEE results, as LiteRT's
            out = np.asarray(fn(a, b))
        if out.dtype != a.dtype and out.dtype != np.bool_:
            out = out.astype(a.dtype)
        return apply_activation(out, op) if fused else out
    return kernel


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.integer):
        # TFLite's integer DIV truncates like C.
        return np.trunc(a / b).astype(a.dtype)
    return np.divide(a, b)


def _floor_mod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.mod(a, b)


def _right_shift(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # LiteRT clamps the shift to [0, bits - 1] (a C shift past the width is undefined);
    # numpy's right_shift of a signed type is arithmetic, as LiteRT's.
    return np.right_shift(a, np.clip(b, 0, a.dtype.itemsize * 8 - 1).astype(a.dtype))


_FUSED_BINARY = {
    "ADD": np.add,
    "SUB": np.subtract,
    "MUL": np.multiply,
    "DIV": _divide,
}
# name: (function, traits beyond "broadcasting")
_PLAIN_BINARY = {
    "MAXIMUM": (np.maximum, {"shared_params", "tflm"}),
    "MINIMUM": (np.minimum, {"shared_params", "tflm"}),
    "SQUARED_DIFFERENCE": (lambda a, b: np.square(a - b), {"tflm"}),
    "POW": (np.power, set()),
    "FLOOR_DIV": (np.floor_divide, {"tflm"}),
    "FLOOR_MOD": (_floor_mod, {"tflm"}),
    "BITWISE_XOR": (np.bitwise_xor, set()),
    "RIGHT_SHIFT": (_right_shift, set()),
}
_COMPARISONS = {
    "LESS": np.less,
    "LESS_EQUAL": np.less_equal,
    "GREATER": np.greater,
    "GREATER_EQUAL": np.greater_equal,
    "EQUAL": np.equal,
    "NOT_EQUAL": np.not_equal,
    "LOGICAL_AND": np.logical_and,
    "LOGICAL_OR": np.logical_or,
}

for _name, _fn in _FUSED_BINARY.items():
    register(_name, infer=_infer_binary(), kernel=_binary(_fn, fused=True),
             traits={"broadcasting", "fused_activation", "tflm"})
for _name, (_fn, _traits) in _PLAIN_BINARY.items():
    register(_name, infer=_infer_binary(), kernel=_binary(_fn, fused=False),
             traits={"broadcasting", *_traits}, ulps=APPROXIMATED if _name == "POW" else 1.0)
for _name, _fn in _COMPARISONS.items():
    register(_name, infer=_infer_binary("bool"), kernel=_binary(_fn, fused=False),
             traits={"broadcasting", "tflm"})


def _infer_unary(op: Op, x: Tensor):
    # Exactly one input: a second one makes check_shapes report a malformed graph.
    return infer_same(op, x)


def _unary(fn):
    def kernel(op: Op, x: np.ndarray) -> np.ndarray:
        # IEEE results as LiteRT's (LOG of 0 is -inf, SQRT of -1 NaN), without numpy's warnings.
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.asarray(fn(x)).astype(x.dtype, copy=False)
    return kernel


def _rsqrt(x: np.ndarray) -> np.ndarray:
    return 1.0 / np.sqrt(x)


_UNARY = {
    "EXP": np.exp,
    "LOG": np.log,
    "SQRT": np.sqrt,
    "RSQRT": _rsqrt,
    "NEG": np.negative,
    "ABS": np.abs,
    "SQUARE": np.square,
    "SIN": np.sin,
    "COS": np.cos,
    "FLOOR": np.floor,
    "CEIL": np.ceil,
    "ROUND": np.round,  # half to even, as TFLite's ROUND
    "SIGN": np.sign,
    "LOGICAL_NOT": np.logical_not,
}
for _name, _fn in _UNARY.items():
    register(_name, infer=_infer_unary, kernel=_unary(_fn),
             traits={"elementwise"} if _name == "SIGN" else {"elementwise", "tflm"},
             ulps=APPROXIMATED if _name in ("EXP", "LOG", "RSQRT", "SIN", "COS") else 1.0)


def _infer_same_shapes(op: Op, *inputs: Tensor):
    """The shape and type shared by all inputs: LiteRT's ATAN2 and ADD_N do not broadcast."""
    shapes = {need_shape(op, t) for t in inputs}
    if len(shapes) != 1:
        raise ConversionError(f"{op!r}: inputs have different shapes {sorted(shapes)}; {op.type} "
                              "does not broadcast, so broadcast them first (tf.broadcast_to)")
    return shapes.pop(), same_dtype(op, *inputs)


def _add_n(op: Op, *xs: np.ndarray) -> np.ndarray:
    # LiteRT adds the inputs one after another into the first, in its type.
    total = xs[0].copy()
    for x in xs[1:]:
        total += x
    return total


register("ADD_N", traits={"tflm"}, infer=_infer_same_shapes, kernel=_add_n, squares="sum",
         sum_length=lambda op, *xs: len(xs))
register("ATAN2", infer=_infer_same_shapes, kernel=_binary(np.arctan2, fused=False), ulps=APPROXIMATED)


def _bucketize(op: Op, x: np.ndarray) -> np.ndarray:
    # LiteRT: the index of the first boundary above x (std::upper_bound), as an int32.
    boundaries = np.asarray(op.attrs["boundaries"], np.float32)
    return np.searchsorted(boundaries, x, side="right").astype(np.int32)


register("BUCKETIZE", infer=lambda op, x: (need_shape(op, x), "int32"), kernel=_bucketize)
