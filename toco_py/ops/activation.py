"""Activations: standalone RELU family, LOGISTIC, TANH, SOFTMAX, HARD_SWISH, LEAKY_RELU, PRELU."""
from __future__ import annotations

import numpy as np

from ..ir import Op, Tensor
from .common import broadcast_shapes, need_shape
from .registry import register


def _infer_same(op: Op, x: Tensor, *rest: Tensor):
    return need_shape(op, x), x.dtype


def _typed(fn):
    def kernel(op: Op, x: np.ndarray) -> np.ndarray:
        return np.asarray(fn(op, x)).astype(x.dtype, copy=False)
    return kernel


def _logistic(op: Op, x: np.ndarray) -> np.ndarray:
    # Split by sign so large magnitudes neither overflow nor lose precision.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(x: np.ndarray, beta: float = 1.0, axis: int = -1) -> np.ndarray:
    z = (x - np.max(x, axis=axis, keepdims=True)) * beta
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def _hard_swish(op: Op, x: np.ndarray) -> np.ndarray:
    return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0


def _prelu(op: Op, x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, x, x * alpha).astype(x.dtype)


def _infer_prelu(op: Op, x: Tensor, alpha: Tensor):
    return broadcast_shapes(op, need_shape(op, x), need_shape(op, alpha)), x.dtype


register("RELU", infer=_infer_same, kernel=_typed(lambda op, x: np.maximum(x, 0)))
register("RELU6", infer=_infer_same, kernel=_typed(lambda op, x: np.clip(x, 0, 6)))
register("RELU_N1_TO_1", infer=_infer_same, kernel=_typed(lambda op, x: np.clip(x, -1, 1)))
register("RELU_0_TO_1", infer=_infer_same, kernel=_typed(lambda op, x: np.clip(x, 0, 1)))
register("TANH", infer=_infer_same, kernel=_typed(lambda op, x: np.tanh(x)))
register("LOGISTIC", infer=_infer_same, kernel=_typed(_logistic))
register("HARD_SWISH", infer=_infer_same, kernel=_typed(_hard_swish))
register("LEAKY_RELU", infer=_infer_same,
         kernel=_typed(lambda op, x: np.where(x >= 0, x, x * op.attrs.get("alpha", 0.2))))
register("SOFTMAX", infer=_infer_same,
         kernel=_typed(lambda op, x: softmax(x, op.attrs.get("beta", 1.0))))
register("LOG_SOFTMAX", infer=_infer_same,
         kernel=_typed(lambda op, x: np.log(softmax(x))))
register("PRELU", infer=_infer_prelu, kernel=_prelu)
register("ELU", infer=_infer_same, kernel=_typed(lambda op, x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))))


def _l2_normalize(op: Op, x: np.ndarray) -> np.ndarray:
    # TFLite's float kernel: x / sqrt(max(sum(x^2), 1e-6)) over the last axis.
    total = np.sum(np.square(x, dtype=np.float64), axis=-1, keepdims=True)
    return (x / np.sqrt(np.maximum(total, 1e-6))).astype(x.dtype)


register("L2_NORMALIZATION", infer=_infer_same, kernel=_l2_normalize)
