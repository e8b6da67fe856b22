"""Custom ops found in published models that the interpreter runs, by custom code.

A CUSTOM op stays a CUSTOM op in the IR (attrs custom_code and the raw custom_options bytes),
so the writer writes it back unchanged; register_custom gives its custom code a shape rule
and a float kernel that read those options. Add one here with register_custom.

Convolution2DTransposeBias (MediaPipe: selfie segmentation, hair segmentation, ...): a
transposed convolution with a bias input, run by MediaPipe's own kernel and, in LiteRT's
Python package, by the XNNPACK delegate only. Inputs: input NHWC, weights OHWI, bias [O];
float32 only; no fused activation. Its custom options are a C struct whose first three
int32 fields are padding (TfLitePadding: 1 SAME, anything else no padding), stride_width and
stride_height (MediaPipe writes TfLitePoolParams, whose next fields its kernel ignores). The
output is stride * (in - 1) + kernel - P rows (and columns), cropped P // 2 at the start,
where P = max(0, kernel - (in - 1) % stride - 1) for SAME and 0 otherwise: exactly what
TRANSPOSE_CONV computes for that output size, so its kernel does the arithmetic.
"""
from __future__ import annotations

import struct

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import need_shape
from .conv import transpose_conv
from .registry import register_custom

_PADDING_SAME = 1  # TfLitePadding: kTfLitePaddingUnknown 0, Same 1, Valid 2


def _transpose_bias_params(op: Op) -> tuple[str, int, int]:
    """(padding, stride_h, stride_w) from the custom options."""
    options = op.attrs.get("custom_options", b"")
    if len(options) < 12:
        raise ConversionError(f"{op!r}: Convolution2DTransposeBias needs 12 bytes of custom "
                              f"options (padding, stride_width, stride_height), has {len(options)}")
    padding, stride_w, stride_h = struct.unpack_from("<3i", options)
    if stride_w < 1 or stride_h < 1:
        raise ConversionError(f"{op!r}: Convolution2DTransposeBias strides must be positive, "
                              f"not {stride_h}x{stride_w}")
    return ("SAME" if padding == _PADDING_SAME else "VALID"), stride_h, stride_w


def _transposed_size(size: int, kernel: int, stride: int, padding: str) -> int:
    crop = max(0, kernel - (size - 1) % stride - 1) if padding == "SAME" else 0
    return stride * (size - 1) + kernel - crop


def _transpose_bias_shape(op: Op, x_shape, w_shape, b_shape) -> tuple[int, int, int, int]:
    if len(x_shape) != 4 or len(w_shape) != 4 or len(b_shape) != 1:
        raise ConversionError(f"{op!r}: Convolution2DTransposeBias takes a 4-D input, 4-D weights "
                              f"and a 1-D bias, not {list(x_shape)}, {list(w_shape)}, {list(b_shape)}")
    n, h, w, c = x_shape
    o, kh, kw, ci = w_shape
    if c not in (ci, -1) or b_shape[0] not in (o, -1):
        raise ConversionError(f"{op!r}: input {list(x_shape)}, weights {list(w_shape)} and bias "
                              f"{list(b_shape)} do not agree on channels")
    padding, sh, sw = _transpose_bias_params(op)
    oh = _transposed_size(h, kh, sh, padding) if h >= 1 else -1
    ow = _transposed_size(w, kw, sw, padding) if w >= 1 else -1
    return n, oh, ow, o


def _infer_transpose_bias(op: Op, x: Tensor, w: Tensor, b: Tensor):
    shape = _transpose_bias_shape(op, need_shape(op, x), need_shape(op, w), need_shape(op, b))
    return shape, x.dtype


def conv2d_transpose_bias(op: Op, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    shape = _transpose_bias_shape(op, x.shape, w.shape, b.shape)
    padding, sh, sw = _transpose_bias_params(op)
    as_builtin = Op("TRANSPOSE_CONV", [], [], {"padding": padding, "stride_h": sh, "stride_w": sw},
                    op.name)
    return transpose_conv(as_builtin, np.array(shape, np.int32), w, x, b)


register_custom("Convolution2DTransposeBias", infer=_infer_transpose_bias,
                kernel=conv2d_transpose_bias, squares="sum",
                sum_length=lambda op, x, w, b: w[0].size + 1)
