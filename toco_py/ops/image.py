"""Image ops in NHWC: RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR, DEPTH_TO_SPACE, SPACE_TO_DEPTH.

Resizing follows LiteRT's reference kernels, including their float32 arithmetic: source
coordinates are computed in float32, where a float64 computation would floor some of them
to a different pixel.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import need_const, need_shape
from .registry import register


def _nhwc(op: Op, x: Tensor) -> tuple[int, ...]:
    shape = need_shape(op, x)
    if len(shape) != 4:
        raise ConversionError(f"{op!r}: needs a 4-D NHWC input, not shape {list(shape)}")
    return shape


# ---- resizing ---------------------------------------------------------------------------

def _check_resize_flags(op: Op) -> None:
    # LiteRT's RESIZE_BILINEAR refuses the pair, as TensorFlow does for both resize ops.
    if op.attrs.get("align_corners") and op.attrs.get("half_pixel_centers"):
        raise ConversionError(f"{op!r}: align_corners and half_pixel_centers cannot both be set")


def _target_size(op: Op, size) -> tuple[int, int]:
    values = [int(v) for v in np.ravel(size)]
    if len(values) != 2 or min(values) < 1:
        raise ConversionError(f"{op!r}: the size must be two positive numbers, not {values}")
    return values[0], values[1]


def _infer_resize(op: Op, x: Tensor, size: Tensor):
    _check_resize_flags(op)
    n, _, _, c = _nhwc(op, x)
    oh, ow = _target_size(op, need_const(op, size, "size"))
    return (n, oh, ow, c), x.dtype


def _resize_scale(op: Op, in_size: int, out_size: int) -> np.float32:
    if op.attrs.get("align_corners") and out_size > 1:
        return np.float32(in_size - 1) / np.float32(out_size - 1)
    return np.float32(in_size) / np.float32(out_size)


def _bilinear_axis(op: Op, in_size: int, out_size: int):
    """Per output index: (lower source index, upper source index, distance from the lower)."""
    scale = _resize_scale(op, in_size, out_size)
    out = np.arange(out_size, dtype=np.float32)
    if op.attrs.get("half_pixel_centers"):
        src = (out + np.float32(0.5)) * scale - np.float32(0.5)
    else:
        src = out * scale
    lower = np.maximum(np.floor(src).astype(np.int64), 0)
    upper = np.minimum(np.ceil(src).astype(np.int64), in_size - 1)
    # Measured from the clamped lower index, as LiteRT does: where the source falls before
    # the first pixel, lower == upper and the two weights still sum to one.
    return lower, upper, src - lower.astype(np.float32)


def resize_bilinear(op: Op, x: np.ndarray, size: np.ndarray) -> np.ndarray:
    _check_resize_flags(op)
    oh, ow = _target_size(op, size)
    y0, y1, dy = _bilinear_axis(op, x.shape[1], oh)
    x0, x1, dx = _bilinear_axis(op, x.shape[2], ow)
    dy, dx = dy[None, :, None, None], dx[None, None, :, None]
    one = np.float32(1)
    data = x.astype(np.float32)
    rows0, rows1 = data[:, y0], data[:, y1]
    # LiteRT's expression, term by term and in float32, so that integer outputs round the
    # same way: v00*(1-dy)*(1-dx) + v10*dy*(1-dx) + v01*(1-dy)*dx + v11*dy*dx.
    out = rows0[:, :, x0] * (one - dy) * (one - dx)
    out = out + rows1[:, :, x0] * dy * (one - dx)
    out = out + rows0[:, :, x1] * (one - dy) * dx
    out = out + rows1[:, :, x1] * dy * dx
    if np.issubdtype(x.dtype, np.integer):
        # LiteRT's reference kernel for raw integers adds 0.5 and converts (truncating).
        return np.trunc(out + np.float32(0.5)).astype(x.dtype)
    return out.astype(x.dtype, copy=False)


def _nearest_axis(op: Op, in_size: int, out_size: int) -> np.ndarray:
    scale = _resize_scale(op, in_size, out_size)
    offset = np.float32(0.5) if op.attrs.get("half_pixel_centers") else np.float32(0)
    src = (np.arange(out_size, dtype=np.float32) + offset) * scale
    if op.attrs.get("align_corners"):
        index = np.trunc(src + np.float32(0.5))  # std::round of a non-negative value
    else:
        index = np.floor(src)
    return np.clip(index.astype(np.int64), 0, in_size - 1)


def resize_nearest(op: Op, x: np.ndarray, size: np.ndarray) -> np.ndarray:
    _check_resize_flags(op)
    oh, ow = _target_size(op, size)
    rows, cols = _nearest_axis(op, x.shape[1], oh), _nearest_axis(op, x.shape[2], ow)
    return np.ascontiguousarray(x[:, rows][:, :, cols])


# An interpolation sums four weighted inputs (weights at most 1, so the kernel on squares
# bounds the squared terms from above): it rounds relative to what it interpolates, which can
# cancel.
register("RESIZE_BILINEAR", traits={"moves_data", "tflm"}, infer=_infer_resize, kernel=resize_bilinear, squares="sum",
         sum_length=lambda op, x, size: 4)
register("RESIZE_NEAREST_NEIGHBOR", traits={"moves_data", "tflm"},
         infer=_infer_resize, kernel=resize_nearest)


# ---- depth <-> space -----------------------------------------------------------------------

def _block(op: Op) -> int:
    block = int(op.attrs.get("block_size", 0))
    if block < 1:
        raise ConversionError(f"{op!r}: block_size must be positive, not {block}")
    return block


def _scaled(size: int, factor: int) -> int:
    return size * factor if size >= 0 else -1


def _divided(op: Op, size: int, divisor: int, what: str) -> int:
    if size < 0:
        return -1
    if size % divisor:
        raise ConversionError(f"{op!r}: {what} of size {size} is not a multiple of {divisor}")
    return size // divisor


def _depth_to_space_shape(op: Op, shape: tuple[int, ...]) -> tuple[int, ...]:
    n, h, w, c = shape
    b = _block(op)
    return n, _scaled(h, b), _scaled(w, b), _divided(op, c, b * b, "the channel axis")


def _space_to_depth_shape(op: Op, shape: tuple[int, ...]) -> tuple[int, ...]:
    n, h, w, c = shape
    b = _block(op)
    return n, _divided(op, h, b, "the height"), _divided(op, w, b, "the width"), _scaled(c, b * b)


def depth_to_space(op: Op, x: np.ndarray) -> np.ndarray:
    n, oh, ow, oc = _depth_to_space_shape(op, x.shape)
    b = _block(op)
    # Channel index = (block row * b + block column) * oc + c, TensorFlow's (DCR) order.
    blocks = x.reshape(n, oh // b, ow // b, b, b, oc).transpose(0, 1, 3, 2, 4, 5)
    return np.ascontiguousarray(blocks).reshape(n, oh, ow, oc)


def space_to_depth(op: Op, x: np.ndarray) -> np.ndarray:
    n, oh, ow, oc = _space_to_depth_shape(op, x.shape)
    b = _block(op)
    blocks = x.reshape(n, oh, b, ow, b, x.shape[3]).transpose(0, 1, 3, 2, 4, 5)
    return np.ascontiguousarray(blocks).reshape(n, oh, ow, oc)


register("DEPTH_TO_SPACE", traits={"moves_data", "tflm"}, kernel=depth_to_space,
         infer=lambda op, x: (_depth_to_space_shape(op, _nhwc(op, x)), x.dtype))
register("SPACE_TO_DEPTH", traits={"moves_data", "tflm"}, kernel=space_to_depth,
         infer=lambda op, x: (_space_to_depth_shape(op, _nhwc(op, x)), x.dtype))
