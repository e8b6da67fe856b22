"""CONV_3D: NDHWC input, DHWIO filter (TensorFlow's layout, which LiteRT keeps), optional
bias, fused activation."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import apply_activation, conv_output_size, need_shape, same_padding
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
