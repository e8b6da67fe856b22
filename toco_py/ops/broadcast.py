"""Ops that repeat or choose data across a shape: TILE, BROADCAST_TO, SELECT, SELECT_V2."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import broadcast_shapes, need_const, need_shape, same_dtype
from .registry import register


def _multiples(op: Op, rank: int, multiples) -> list[int]:
    values = [int(m) for m in np.ravel(multiples)]
    if len(values) != rank or any(m < 0 for m in values):
        raise ConversionError(f"{op!r}: multiples {values} do not fit a rank-{rank} input")
    return values


def _infer_tile(op: Op, x: Tensor, multiples: Tensor):
    shape = need_shape(op, x)
    reps = _multiples(op, len(shape), need_const(op, multiples, "multiples"))
    return tuple(d * m if d >= 0 else -1 for d, m in zip(shape, reps)), x.dtype


def _tile(op: Op, x: np.ndarray, multiples: np.ndarray) -> np.ndarray:
    return np.tile(x, _multiples(op, x.ndim, multiples)).astype(x.dtype, copy=False)


def broadcast_target(op: Op, shape: tuple[int, ...], target) -> tuple[int, ...]:
    target = tuple(int(d) for d in np.ravel(target))
    aligned = zip(shape[::-1], target[::-1])
    if len(shape) > len(target) or any(d not in (1, -1, t) for d, t in aligned):
        raise ConversionError(f"{op!r}: cannot broadcast {list(shape)} to {list(target)}")
    return target


def _infer_broadcast_to(op: Op, x: Tensor, shape: Tensor):
    return broadcast_target(op, need_shape(op, x), need_const(op, shape, "shape")), x.dtype


def _broadcast_to(op: Op, x: np.ndarray, shape: np.ndarray) -> np.ndarray:
    return np.array(np.broadcast_to(x, broadcast_target(op, x.shape, shape)))


def _infer_select_v2(op: Op, cond: Tensor, x: Tensor, y: Tensor):
    shapes = [need_shape(op, t) for t in (cond, x, y)]
    return broadcast_shapes(op, *shapes), same_dtype(op, x, y)


def _select_v2(op: Op, cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where(cond, x, y).astype(x.dtype, copy=False)


def _rows_condition(op: Op, cond: tuple, x: tuple) -> bool:
    """TF1 Select: True when a rank-1 (or scalar) condition picks whole rows of x."""
    if cond == x:
        return False
    if len(cond) == 0 or (len(cond) == 1 and x and cond[0] == x[0]):
        return True
    raise ConversionError(f"{op!r}: a condition of shape {list(cond)} cannot select from "
                          f"{list(x)}; it must match it, be a scalar, or match its first axis")


def _infer_select(op: Op, cond: Tensor, x: Tensor, y: Tensor):
    cond_shape, x_shape, y_shape = (need_shape(op, t) for t in (cond, x, y))
    if x_shape != y_shape:
        raise ConversionError(f"{op!r}: SELECT needs x and y of one shape, not "
                              f"{list(x_shape)} and {list(y_shape)}")
    _rows_condition(op, cond_shape, x_shape)
    return x_shape, same_dtype(op, x, y)


def _select(op: Op, cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if _rows_condition(op, cond.shape, x.shape) and cond.ndim == 1:
        cond = cond.reshape(cond.shape + (1,) * (x.ndim - 1))
    return np.where(cond, x, y).astype(x.dtype, copy=False)


register("TILE", traits={"moves_data"}, infer=_infer_tile, kernel=_tile)
register("BROADCAST_TO", traits={"moves_data", "tflm"}, infer=_infer_broadcast_to, kernel=_broadcast_to)
register("SELECT", traits={"shared_params"}, infer=_infer_select, kernel=_select)
register("SELECT_V2", traits={"broadcasting", "shared_params", "tflm"},
         infer=_infer_select_v2, kernel=_select_v2)
