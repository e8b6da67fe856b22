"""DENSIFY: a constant stored sparse in the .tflite (tflite/sparsity.py) made dense, as
LiteRT's kernel does once, when it first runs (kernels/densify.cc).

The IR holds every constant dense (Tensor.data), the sparse one included: here the kernel
passes the value on. Never folded: folding would store the weight dense again, and keeping
the model's sparse storage is the point of the op (codegen, which has no DENSIFY kernel,
stores the weight dense: codegen/bundle.py).
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import need_shape
from .registry import register, register_int8

# The types LiteRT's kernel densifies (densify.cc, Eval).
DENSIFY_TYPES = ("float32", "float16", "int8")


def _infer_densify(op: Op, x: Tensor):
    if x.dtype not in DENSIFY_TYPES:
        raise ConversionError(f"{op!r}: LiteRT densifies {', '.join(DENSIFY_TYPES)}, not {x.dtype}")
    if x.data is None:
        raise ConversionError(f"{op!r}: its input {x.name!r} is no constant (LiteRT densifies "
                              "sparse constants only)")
    return need_shape(op, x), x.dtype


def _densify(op: Op, x: np.ndarray) -> np.ndarray:
    return np.array(x)


register("DENSIFY", infer=_infer_densify, kernel=_densify, foldable=False, ulps=0.0,
         traits={"moves_data"})
register_int8("DENSIFY", lambda op, graph, x: _densify(op, x))
