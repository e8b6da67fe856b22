"""Ops that make tensors from shapes or scalars: SHAPE, RANK, FILL, RANGE, CAST, *_LIKE,
RANDOM_UNIFORM."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import ShapeUnknown, need_const, need_shape, seeded_rng
from .registry import register


def _infer_shape(op: Op, x: Tensor):
    if x.shape is None:
        raise ShapeUnknown(op, x.name)
    return (len(x.shape),), op.attrs.get("out_type", "int32")


def _infer_fill(op: Op, dims: Tensor, value: Tensor):
    d = need_const(op, dims, "dims")
    return tuple(int(v) for v in np.ravel(d)), value.dtype


def range_values(op: Op, start, limit, delta) -> np.ndarray:
    start, limit, delta = (np.ravel(v)[0] for v in (start, limit, delta))
    if delta == 0:
        raise ConversionError(f"{op!r}: RANGE with a step of 0")
    return np.arange(start, limit, delta).astype(np.result_type(start, limit, delta))


def _infer_range(op: Op, start: Tensor, limit: Tensor, delta: Tensor):
    if not all(t.is_const for t in (start, limit, delta)):
        return (-1,), start.dtype  # its length is known at run time only
    return range_values(op, start.data, limit.data, delta.data).shape, start.dtype


def _infer_cast(op: Op, x: Tensor):
    return need_shape(op, x), op.attrs["out_data_type"]


def _cast(op: Op, x: np.ndarray) -> np.ndarray:
    to = op.attrs["out_data_type"]
    if np.issubdtype(x.dtype, np.floating) and np.issubdtype(np.dtype(to), np.integer):
        x = np.trunc(x)  # C-style conversion, as TFLite's CAST
    return x.astype(to)


register("SHAPE", traits={"shape_only", "tflm"}, infer=_infer_shape,
         kernel=lambda op, x: np.array(x.shape, dtype=op.attrs.get("out_type", "int32")))
register("RANK", traits={"shape_only"}, infer=lambda op, x: ((), "int32"),
         kernel=lambda op, x: np.array(x.ndim, dtype=np.int32), builtin=True)
# int8: the value shares the output's params (shared_params), the kernel copies its integer.
register("FILL", traits={"tflm", "shared_params"}, infer=_infer_fill,
         kernel=lambda op, dims, value: np.full(tuple(int(d) for d in np.ravel(dims)), np.ravel(value)[0],
                                                dtype=value.dtype))
register("RANGE", traits={"value_shaped"}, infer=_infer_range, kernel=lambda op, a, b, c: range_values(op, a, b, c))
register("CAST", traits={"tflm"}, infer=_infer_cast, kernel=_cast)
register("ZEROS_LIKE", traits={"shape_only", "tflm"}, infer=lambda op, x: (need_shape(op, x), x.dtype),
         kernel=lambda op, x: np.zeros_like(x))
register("OnesLike", traits={"shape_only"}, builtin=False,
         infer=lambda op, x: (need_shape(op, x), x.dtype),
         kernel=lambda op, x: np.ones_like(x))


def _infer_random_uniform(op: Op, shape: Tensor):
    if shape.dtype != "int32":
        # LiteRT's kernel fails to prepare with any other shape type.
        raise ConversionError(f"{op!r}: RANDOM_UNIFORM needs an int32 shape, not {shape.dtype}")
    return tuple(int(d) for d in np.ravel(need_const(op, shape, "shape"))), "float32"


def random_uniform(op: Op, shape: np.ndarray) -> np.ndarray:
    """float32 in [0, 1), repeatable for given seed / seed2. LiteRT draws from Philox and
    reseeds when both seeds are 0; neither its values nor that are reproduced."""
    return seeded_rng(op).random(tuple(int(d) for d in np.ravel(shape)), dtype=np.float32)


# Never folded: a draw is a new value on every run.
register("RANDOM_UNIFORM", infer=_infer_random_uniform, kernel=random_uniform, foldable=False)
