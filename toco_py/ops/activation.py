"""Activations: standalone RELU family, LOGISTIC, TANH, SOFTMAX, HARD_SWISH, LEAKY_RELU, PRELU,
ELU, GELU and L2_NORMALIZATION."""
from __future__ import annotations

import math

import numpy as np

from ..ir import Op, Tensor
from .common import RELU_OPS, broadcast_shapes, clamp, infer_same, need_shape
from .registry import APPROXIMATED, register


def _typed(fn):
    def kernel(op: Op, x: np.ndarray) -> np.ndarray:
        return np.asarray(fn(op, x)).astype(x.dtype, copy=False)
    return kernel


# LiteRT's reference LOGISTIC returns exp(x) below -9 (up to 1.2e-4 relative away from the
# true 1/(1+e^-x), so copied rather than improved on) and exactly 1 above the upper cutoff.
LOGISTIC_LOWER = -9.0
LOGISTIC_UPPER = 16.619047164916992


def _logistic(op: Op, x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    middle = 1.0 / (1.0 + np.exp(-np.clip(x, LOGISTIC_LOWER, LOGISTIC_UPPER)))
    return np.where(x < LOGISTIC_LOWER, np.exp(x), np.where(x > LOGISTIC_UPPER, 1.0, middle))


def softmax(x: np.ndarray, beta: float = 1.0, axis: int = -1) -> np.ndarray:
    z = (x - np.max(x, axis=axis, keepdims=True)) * beta
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(op: Op, x: np.ndarray) -> np.ndarray:
    # x - max - log(sum(exp(x - max))): finite for logits far below the maximum, where
    # log(softmax(x)) would be log(0).
    shifted = x.astype(np.float64) - np.max(x, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _hard_swish(op: Op, x: np.ndarray) -> np.ndarray:
    return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0


def _prelu(op: Op, x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, x, x * alpha).astype(x.dtype)


def _infer_prelu(op: Op, x: Tensor, alpha: Tensor):
    return broadcast_shapes(op, need_shape(op, x), need_shape(op, alpha)), x.dtype


# TFLM registers kernels for RELU and RELU6 only.
for _relu in RELU_OPS:
    register(_relu, traits={"elementwise", "tflm"} if _relu in ("RELU", "RELU6") else {"elementwise"},
             infer=infer_same, kernel=_typed(lambda op, x: clamp(x, RELU_OPS[op.type])))
register("TANH", traits={"elementwise", "tflm"}, int8_output=(1.0 / 128, 0),
         infer=infer_same, kernel=_typed(lambda op, x: np.tanh(x)), ulps=APPROXIMATED)
register("LOGISTIC", traits={"elementwise", "tflm"}, int8_output=(1.0 / 256, -128),
         infer=infer_same, kernel=_typed(_logistic), ulps=APPROXIMATED)
register("HARD_SWISH", traits={"elementwise", "tflm"}, infer=infer_same, kernel=_typed(_hard_swish))
register("LEAKY_RELU", traits={"elementwise", "tflm"}, infer=infer_same,
         kernel=_typed(lambda op, x: np.where(x >= 0, x, x * op.attrs.get("alpha", 0.2))))

def _last_axis_length(op: Op, x: np.ndarray) -> int:
    return x.shape[-1] if x.ndim else 1


register("SOFTMAX", traits={"tflm"}, int8_output=(1.0 / 256, -128),
         infer=infer_same, kernel=_typed(lambda op, x: softmax(x, op.attrs.get("beta", 1.0))),
         sum_length=_last_axis_length, ulps=APPROXIMATED)
register("LOG_SOFTMAX", traits={"tflm"}, int8_output=(16.0 / 256, 127),
         infer=infer_same, kernel=_typed(_log_softmax), sum_length=_last_axis_length,
         ulps=APPROXIMATED)
register("PRELU", traits={"tflm"}, infer=_infer_prelu, kernel=_prelu)
# In float in TF 2.21's int8 models (its converter leaves the op out of quantization):
# exact where the int8 table is a step off.
register("ELU", traits={"elementwise", "tflm", "float_in_int8"},
         infer=infer_same, kernel=_typed(lambda op, x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
         ulps=APPROXIMATED)


def _elementwise(fn):
    """A float64 array function from a function of one Python float."""
    ufunc = np.frompyfunc(fn, 1, 1)
    return lambda x: np.asarray(ufunc(np.asarray(x, np.float64)), np.float64)


# numpy has no erf; math's, element by element, is exact to a double. (Also the kernels of
# the converter-only Erf and Erfc, ops/converter_only.py.)
erf, erfc = _elementwise(math.erf), _elementwise(math.erfc)

# The tanh form: 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))).
GELU_TANH_SCALE = math.sqrt(2.0 / math.pi)
GELU_CUBE_COEFFICIENT = 0.044715


def _gelu(op: Op, x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    if op.attrs.get("approximate"):
        return 0.5 * x * (1.0 + np.tanh(GELU_TANH_SCALE * (x + GELU_CUBE_COEFFICIENT * x ** 3)))
    # 0.5 * x * (1 + erf(x / sqrt 2)) written with erfc, which keeps its precision in the
    # far negative tail where 1 + erf(...) cancels.
    return 0.5 * x * erfc(-x / math.sqrt(2.0))


def _gelu_squares(op: Op, x: np.ndarray) -> np.ndarray:
    """Float32 GELU kernels add 0.5 * x and 0.5 * x * t (t the erf or tanh, |t| <= 1), which
    cancel for very negative x (LiteRT's tanh form and its optimized exact form return 0 there):
    their rounding is that of the two terms, whose squares add up to at most x^2 / 2."""
    return 0.5 * np.square(np.asarray(x, np.float64))


register("GELU", traits={"elementwise"}, infer=infer_same, kernel=_typed(_gelu), squares=_gelu_squares,
         ulps=APPROXIMATED)


def _l2_normalize(op: Op, x: np.ndarray) -> np.ndarray:
    # LiteRT's float kernel: x / max(sqrt(sum(x^2)), 1e-6) over the last axis, that is a
    # clamp on the norm (1e-6), not on the sum of squares.
    total = np.sum(np.square(x, dtype=np.float64), axis=-1, keepdims=True)
    return (x / np.maximum(np.sqrt(total), 1e-6)).astype(x.dtype)


register("L2_NORMALIZATION", traits={"tflm"}, int8_output=(1.0 / 128, 0),
         infer=infer_same, kernel=_l2_normalize, sum_length=_last_axis_length)
