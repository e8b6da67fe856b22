"""CONV_3D and CONV_3D_TRANSPOSE: NDHWC input, DHWIO filter (TensorFlow's layout, which LiteRT
keeps; for the transpose, I and O are the forward convolution's: DHW, output, input), optional
bias, fused activation."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import apply_activation, conv_output_size, need_const, need_shape, same_padding
from .registry import register

_AXES = ("d", "h", "w")


def _window(op: Op) -> list[tuple[int, int]]:
    """(stride, dilation) of the depth, height and width axes."""
    return [(int(op.attrs.get(f"stride_{a}", 1)), int(op.attrs.get(f"dilation_{a}_factor", 1))) for a in _AXES]


def _out_sizes(op: Op, sizes, kernel) -> list[int]:
    padding = op.attrs.get("padding", "VALID")
    out = [conv_output_size(size, k, s, d, padding) for size, k, (s, d) in zip(sizes, kernel, _window(op))]
    if any(0 <= o < 1 for o in out):
        raise ConversionError(f"{op!r}: the window {list(kernel)} does not fit the input {list(sizes)}")
    return out


def _infer_conv3d(op: Op, x: Tensor, w: Tensor, b: Tensor | None = None):
    shape, wshape = need_shape(op, x), need_shape(op, w)
    if len(shape) != 5 or len(wshape) != 5:
        raise ConversionError(f"{op!r}: needs a 5-D NDHWC input and a 5-D DHWIO filter, "
                              f"has shapes {list(shape)} and {list(wshape)}")
    return (shape[0], *_out_sizes(op, shape[1:4], wshape[:3]), wshape[4]), x.dtype


def conv3d(op: Op, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    kernel, ci = w.shape[:3], w.shape[3]
    if x.shape[4] != ci:
        raise ConversionError(f"{op!r}: input has {x.shape[4]} channels, filter expects {ci}")
    out_sizes = _out_sizes(op, x.shape[1:4], kernel)
    window = _window(op)
    pads = [same_padding(size, k, s, d, op.attrs.get("padding", "VALID"))
            for size, k, (s, d) in zip(x.shape[1:4], kernel, window)]
    padded = np.pad(x.astype(np.float64), [(0, 0), *pads, (0, 0)])
    out = np.zeros((x.shape[0], *out_sizes, w.shape[4]))
    for tap in np.ndindex(*kernel):
        # The input values this filter tap meets at every output position.
        picked = padded[(slice(None),) + tuple(
            slice(t * d, t * d + (o - 1) * s + 1, s) for t, o, (s, d) in zip(tap, out_sizes, window))]
        out += picked @ w[tap].astype(np.float64)
    if b is not None:
        out += b
    return apply_activation(out.astype(x.dtype), op)


register("CONV_3D", traits={"fused_activation"}, infer=_infer_conv3d, kernel=conv3d, squares="sum",
         sum_length=lambda op, x, w, b=None: int(np.prod(w.shape[:4])))


# ---- CONV_3D_TRANSPOSE: inputs (output_shape, filter DHWOI, input, optional bias) ----------

def _transpose_shape(op: Op, output_shape) -> tuple[int, ...]:
    shape = tuple(int(d) for d in np.ravel(output_shape))
    if len(shape) != 5 or min(shape) < 1:
        raise ConversionError(f"{op!r}: output_shape must be 5 positive sizes, not {list(shape)}")
    return shape


def _check_transpose(op: Op, shape, wshape, xshape) -> None:
    """What LiteRT's Prepare checks: channels agree, and the forward convolution of the output
    has the input's size (else the sizes are not a convolution's gradient)."""
    if len(xshape) != 5 or len(wshape) != 5 or xshape[4] != wshape[4] or shape[4] != wshape[3] \
            or shape[0] != xshape[0]:
        raise ConversionError(f"{op!r}: input {list(xshape)}, filter {list(wshape)} and output "
                              f"{list(shape)} do not agree on batch and channels")
    if _out_sizes(op, shape[1:4], wshape[:3]) != list(xshape[1:4]):
        raise ConversionError(f"{op!r}: output {list(shape)} does not convolve back to the input "
                              f"{list(xshape)} with filter {list(wshape[:3])}")


def _infer_conv3d_transpose(op: Op, output_shape: Tensor, w: Tensor, x: Tensor, b: Tensor | None = None):
    shape = _transpose_shape(op, need_const(op, output_shape, "output_shape"))
    _check_transpose(op, shape, need_shape(op, w), need_shape(op, x))
    return shape, x.dtype


def conv3d_transpose(op: Op, output_shape: np.ndarray, w: np.ndarray, x: np.ndarray,
                     b: np.ndarray | None = None) -> np.ndarray:
    shape = _transpose_shape(op, output_shape)
    _check_transpose(op, shape, w.shape, x.shape)
    kernel, window, sizes = w.shape[:3], _window(op), x.shape[1:4]
    # Output position o = i * stride - pad + tap * dilation; pad is the forward convolution's.
    crop = [same_padding(o, k, s, d, op.attrs.get("padding", "VALID"))[0]
            for o, k, (s, d) in zip(shape[1:4], kernel, window)]
    # Every tap's reach, and the cropped output window, fit on this canvas.
    canvas = np.zeros((shape[0], *(max((i - 1) * s + (k - 1) * d + 1, c + o)
                                   for i, k, (s, d), c, o in zip(sizes, kernel, window, crop, shape[1:4])),
                       shape[4]))
    values = x.astype(np.float64)
    for tap in np.ndindex(*kernel):
        reach = tuple(slice(t * d, t * d + (i - 1) * s + 1, s) for t, i, (s, d) in zip(tap, sizes, window))
        canvas[(slice(None),) + reach] += values @ w[tap].T.astype(np.float64)
    out = canvas[(slice(None),) + tuple(slice(c, c + o) for c, o in zip(crop, shape[1:4]))]
    if b is not None:
        out = out + b
    return apply_activation(out.astype(x.dtype), op)


register("CONV_3D_TRANSPOSE", traits={"fused_activation"}, infer=_infer_conv3d_transpose,
         kernel=conv3d_transpose, squares="sum",
         sum_length=lambda op, output_shape, w, x, b=None: int(np.prod(w.shape[:3])) * w.shape[4])
