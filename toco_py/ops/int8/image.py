"""int8 RESIZE_BILINEAR (reference_ops::ResizeBilinearInteger): source positions in 1/1024
steps, the four weighted neighbours summed in int64 and rounded back from 2^20. The output
is read with the input's params (the quantizer's "moves_data"), as LiteRT computes on the raw
integers whatever the output says."""
from __future__ import annotations

import numpy as np

from ...ir import Graph, Op
from ..image import _check_resize_flags, _target_size
from ..registry import register_int8
from .litert import require_all, require_same_params

ONE = 1 << 10


def _axis(op: Op, in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ComputeInterpolationValuesInteger for every output index: (lower, upper, the scaled
    position's distance from lower in 1/1024 steps)."""
    if op.attrs.get("align_corners") and out_size > 1:
        scale = (ONE * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    else:
        scale = (ONE * in_size + out_size // 2) // out_size
    position = np.arange(out_size, dtype=np.int64) * scale
    if op.attrs.get("half_pixel_centers"):
        position = position + scale // 2 - (1 << 9)
    # C division truncates toward zero.
    lower = np.maximum(np.trunc(position / ONE).astype(np.int64), 0)
    upper = np.minimum(np.trunc((position + ONE - 1) / ONE).astype(np.int64), in_size - 1)
    return lower, upper, position - ONE * lower


def resize_bilinear_quantized(op: Op, graph: Graph, x: np.ndarray, size: np.ndarray,
                              dtype: str = "int8") -> np.ndarray:
    """ResizeBilinearInteger, which LiteRT instantiates for int8 and int16 alike."""
    _check_resize_flags(op)
    require_all(op, graph, [op.inputs[0], op.outputs[0]], dtype)
    require_same_params(op, graph, [op.inputs[0], op.outputs[0]], "its input and output")
    oh, ow = _target_size(op, size)
    y0, y1, dy = _axis(op, x.shape[1], oh)
    x0, x1, dx = _axis(op, x.shape[2], ow)
    dy, dx = dy[None, :, None, None], dx[None, None, :, None]
    data = x.astype(np.int64)
    rows0, rows1 = data[:, y0], data[:, y1]
    total = (rows0[:, :, x0] * (ONE - dy) * (ONE - dx) + rows1[:, :, x0] * dy * (ONE - dx)
             + rows0[:, :, x1] * (ONE - dy) * dx + rows1[:, :, x1] * dy * dx)
    # Half away from zero: LiteRT's build without TFLITE_SINGLE_ROUNDING (measured: the
    # half-up variant differs on negative sums).
    rounding = np.where(total > 0, 1 << 19, -(1 << 19))
    return np.trunc((total + rounding) / (1 << 20)).astype(dtype)


def resize_bilinear_int8(op: Op, graph: Graph, x: np.ndarray, size: np.ndarray) -> np.ndarray:
    return resize_bilinear_quantized(op, graph, x, size)


register_int8("RESIZE_BILINEAR", resize_bilinear_int8)
