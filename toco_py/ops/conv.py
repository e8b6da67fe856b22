"""Convolutions in NHWC: CONV_2D (filter OHWI), DEPTHWISE_CONV_2D (filter 1HW(C*M)) and
TRANSPOSE_CONV (filter OHWI)."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import apply_activation, conv_output_size, need_const, need_shape, same_padding
from .registry import register


def window(op: Op) -> tuple[int, int, int, int, str]:
    a = op.attrs
    return (a.get("stride_h", 1), a.get("stride_w", 1), a.get("dilation_h_factor", 1),
            a.get("dilation_w_factor", 1), a.get("padding", "VALID"))


def conv_out_hw(op: Op, h: int, w: int, kh: int, kw: int) -> tuple[int, int]:
    sh, sw, dh, dw, padding = window(op)
    oh = conv_output_size(h, kh, sh, dh, padding)
    ow = conv_output_size(w, kw, sw, dw, padding)
    if 0 <= oh < 1 or 0 <= ow < 1:
        raise ConversionError(f"{op!r}: the window {kh}x{kw} does not fit the input {h}x{w}")
    return oh, ow


def extract_patches(x: np.ndarray, kh: int, kw: int, op: Op, pad_value: float = 0.0):
    """Yields ((i, j), view) for each filter tap: the input pixels that tap sees, [N,OH,OW,C].

    Padding follows TFLite (SAME: extra padding after), so every kernel agrees on geometry.
    """
    sh, sw, dh, dw, padding = window(op)
    n, h, w, c = x.shape
    oh, ow = conv_out_hw(op, h, w, kh, kw)
    pt, pb = same_padding(h, kh, sh, dh, padding)
    pl, pr = same_padding(w, kw, sw, dw, padding)
    if pt or pb or pl or pr:
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=pad_value)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dh, j * dw
            yield (i, j), x[:, r0 : r0 + (oh - 1) * sh + 1 : sh, c0 : c0 + (ow - 1) * sw + 1 : sw, :]


def im2col(patches) -> tuple[np.ndarray, tuple[int, int, int]]:
    """extract_patches' taps side by side: one row of kh * kw * C values per output pixel,
    and (N, OH, OW)."""
    taps = [patch for _, patch in patches]
    n, oh, ow, c = taps[0].shape
    return np.stack(taps, axis=3).reshape(n * oh * ow, len(taps) * c), (n, oh, ow)


def depthwise_sum(patches, w: np.ndarray, multiplier: int, dtype=None) -> np.ndarray:
    """The depthwise sum over extract_patches' taps: output channel c * multiplier + m reads
    input channel c, times its weight w[0, i, j]; dtype: the type to multiply and add in."""
    out = None
    for (i, j), patch in patches:
        if multiplier > 1:
            patch = np.repeat(patch, multiplier, axis=3)
        weights = w[0, i, j]
        if dtype is not None:
            patch, weights = patch.astype(dtype, copy=False), weights.astype(dtype, copy=False)
        term = patch * weights
        out = term if out is None else out + term
    return out


def _infer_conv(op: Op, x: Tensor, w: Tensor, b: Tensor | None = None):
    n, h, wd, _ = need_shape(op, x)
    o, kh, kw, _ = need_shape(op, w)
    oh, ow = conv_out_hw(op, h, wd, kh, kw)
    return (n, oh, ow, o), x.dtype


def conv2d(op: Op, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    o, kh, kw, ci = w.shape
    if x.shape[3] != ci:
        raise ConversionError(f"{op!r}: input has {x.shape[3]} channels, filter expects {ci}")
    cols, (n, oh, ow) = im2col(extract_patches(x, kh, kw, op))
    out = cols @ w.reshape(o, kh * kw * ci).T
    if b is not None:
        out += b
    return apply_activation(out.reshape(n, oh, ow, o).astype(x.dtype, copy=False), op)


def _infer_depthwise(op: Op, x: Tensor, w: Tensor, b: Tensor | None = None):
    n, h, wd, _ = need_shape(op, x)
    _, kh, kw, oc = need_shape(op, w)
    oh, ow = conv_out_hw(op, h, wd, kh, kw)
    return (n, oh, ow, oc), x.dtype


def depthwise_conv2d(op: Op, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    _, kh, kw, oc = w.shape
    multiplier = oc // x.shape[3]
    if multiplier * x.shape[3] != oc:
        raise ConversionError(f"{op!r}: {oc} output channels is not a multiple of {x.shape[3]}")
    out = depthwise_sum(extract_patches(x, kh, kw, op), w, multiplier)
    if b is not None:
        out = out + b
    return apply_activation(out.astype(x.dtype, copy=False), op)


register("CONV_2D", traits={"fused_activation", "affine", "tflm"}, weight_axis=(1, 0),
         infer=_infer_conv, kernel=conv2d, squares="sum",
         sum_length=lambda op, x, w, b=None: w[0].size)
register("DEPTHWISE_CONV_2D", traits={"fused_activation", "affine", "tflm"}, weight_axis=(1, 3),
         infer=_infer_depthwise, kernel=depthwise_conv2d, squares="sum",
         sum_length=lambda op, x, w, b=None: w.shape[1] * w.shape[2])


# ---- TRANSPOSE_CONV: inputs (output_shape, filter OHWI, input, optional bias) ---------------

def _transpose_conv_shape(op: Op, output_shape) -> tuple[int, int, int, int]:
    shape = tuple(int(d) for d in np.ravel(output_shape))
    if len(shape) != 4 or min(shape) < 1:
        raise ConversionError(f"{op!r}: output_shape must be 4 positive sizes, not {list(shape)}")
    if op.attrs.get("dilation_h_factor", 1) != 1 or op.attrs.get("dilation_w_factor", 1) != 1:
        raise ConversionError(f"{op!r}: TRANSPOSE_CONV has no dilation in TFLite")
    return shape


def _infer_transpose_conv(op: Op, output_shape: Tensor, w: Tensor, x: Tensor, b: Tensor | None = None):
    shape = _transpose_conv_shape(op, need_const(op, output_shape, "output_shape"))
    o, _, _, ci = need_shape(op, w)
    xs = need_shape(op, x)
    if len(xs) != 4 or xs[3] not in (ci, -1) or shape[3] != o:
        raise ConversionError(f"{op!r}: input {list(xs)}, filter {list(w.shape)} and output "
                              f"{list(shape)} do not agree on channels")
    return shape, x.dtype


def _transpose_conv_padding(op: Op, out_size: int, kernel: int, stride: int) -> int:
    """Rows (or columns) cropped before the output: LiteRT pads as if the output were the
    input of the forward convolution, so SAME crops total // 2 first."""
    before, _ = same_padding(out_size, kernel, stride, 1, op.attrs.get("padding", "VALID"))
    return before


def transpose_conv(op: Op, output_shape: np.ndarray, w: np.ndarray, x: np.ndarray,
                   b: np.ndarray | None = None) -> np.ndarray:
    n, oh, ow, oc = _transpose_conv_shape(op, output_shape)
    o, kh, kw, ci = w.shape
    if x.shape[3] != ci or o != oc:
        raise ConversionError(f"{op!r}: input {list(x.shape)}, filter {list(w.shape)} and output "
                              f"{[n, oh, ow, oc]} do not agree on channels")
    sh, sw = op.attrs.get("stride_h", 1), op.attrs.get("stride_w", 1)
    top = _transpose_conv_padding(op, oh, kh, sh)
    left = _transpose_conv_padding(op, ow, kw, sw)
    _, h, wd, _ = x.shape
    # Scatter every input pixel into a canvas large enough for each tap's reach and for
    # the cropped output window, one filter tap at a time (a strided slice per tap).
    canvas = np.zeros((n, max((h - 1) * sh + kh, top + oh), max((wd - 1) * sw + kw, left + ow), o))
    flat = x.reshape(-1, ci).astype(np.float64)
    for i in range(kh):
        for j in range(kw):
            contribution = (flat @ w[:, i, j, :].T.astype(np.float64)).reshape(n, h, wd, o)
            canvas[:, i : i + (h - 1) * sh + 1 : sh, j : j + (wd - 1) * sw + 1 : sw, :] += contribution
    out = canvas[:, top : top + oh, left : left + ow, :]
    if b is not None:
        out = out + b
    return apply_activation(out.astype(x.dtype), op)


register("TRANSPOSE_CONV", traits={"tflm"}, weight_axis=(1, 0),
         infer=_infer_transpose_conv, kernel=transpose_conv, squares="sum",
         sum_length=lambda op, output_shape, w, x, b=None: w[0].size)
