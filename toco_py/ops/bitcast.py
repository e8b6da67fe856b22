"""BITCAST: the input's bytes read as another type, as LiteRT's kernel copies them.

A wider input type gains a last axis of (its size / the output's size) elements; a narrower
one must end in an axis of (the output's size / its size) elements, which goes. The output
type is the op's attr out_type (the schema stores none: the reader takes it from the output
tensor). The bytes are float32's, never float64's: the interpreter's float64 run feeds it
float32 values (float32_only).
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import need_shape
from .registry import register


def _out_shape(op: Op, shape: tuple, dtype: str) -> tuple:
    size_in, size_out = np.dtype(dtype).itemsize, np.dtype(op.attrs["out_type"]).itemsize
    if size_in > size_out:
        return shape + (size_in // size_out,)
    if size_in < size_out:
        if not shape or shape[-1] not in (size_out // size_in, -1):
            raise ConversionError(f"{op!r}: a {dtype} input read as {op.attrs['out_type']} must end in "
                                  f"an axis of {size_out // size_in}, has shape {list(shape)}")
        return shape[:-1]
    return shape


def _infer_bitcast(op: Op, x: Tensor):
    return _out_shape(op, need_shape(op, x), x.dtype), op.attrs["out_type"]


def _bitcast(op: Op, x: np.ndarray) -> np.ndarray:
    shape = _out_shape(op, x.shape, x.dtype.name)
    return np.ascontiguousarray(x).reshape(-1).view(op.attrs["out_type"]).reshape(shape)


register("BITCAST", infer=_infer_bitcast, kernel=_bitcast, float32_only=True)
