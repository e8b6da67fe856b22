"""PAD, PADV2 (constant value) and MIRROR_PAD."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import need_const, need_shape
from .registry import register


def _paddings(op: Op, paddings, rank: int) -> np.ndarray:
    p = np.asarray(paddings, dtype=np.int64).reshape(-1, 2)
    if p.shape[0] != rank or (p < 0).any():
        raise ConversionError(f"{op!r}: paddings {p.tolist()} do not fit a rank-{rank} input")
    return p


def _infer_pad(op: Op, x: Tensor, paddings: Tensor, *rest: Tensor):
    shape = need_shape(op, x)
    p = _paddings(op, need_const(op, paddings, "paddings"), len(shape))
    return tuple(d + int(a + b) if d >= 0 else -1 for d, (a, b) in zip(shape, p)), x.dtype


def _pad(op: Op, x: np.ndarray, paddings: np.ndarray, value: np.ndarray | None = None) -> np.ndarray:
    fill = 0 if value is None else np.ravel(value)[0]
    return np.pad(x, _paddings(op, paddings, x.ndim), constant_values=fill)


def _mirror_pad(op: Op, x: np.ndarray, paddings: np.ndarray) -> np.ndarray:
    mode = "reflect" if op.attrs.get("mode", "REFLECT") == "REFLECT" else "symmetric"
    return np.pad(x, _paddings(op, paddings, x.ndim), mode=mode)


register("PAD", traits={"moves_data", "tflm"}, infer=_infer_pad, kernel=_pad)
register("PADV2", traits={"moves_data", "tflm"}, infer=_infer_pad, kernel=_pad)
register("MIRROR_PAD", traits={"moves_data", "tflm"}, infer=_infer_pad, kernel=_mirror_pad)
