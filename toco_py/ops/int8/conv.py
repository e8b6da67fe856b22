"""int8 CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV, as reference_integer_ops::ConvPerChannel,
DepthwiseConvPerChannel and TransposeConv compute them: sum filter * (input - input zero point) over the taps
that fall inside the image, add the int32 bias, requantize per output channel, add the output
zero point and clamp to the fused activation's range. Measured against the installed LiteRT:
the multipliers come from double products for per-channel and per-tensor filters alike, and
the requantization rounds twice (gemmlowp's MultiplyByQuantizedMultiplier).

Padding: the reference kernels skip taps outside the image. Padding the int8 input with its
zero point gives the same sums, since such a tap contributes filter * 0 after the offset.

The sums and the checks serve the 16x8 kernels too (ops/int16/conv.py), which differ only
after the sums: int64 biases and another requantization.
"""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ...ir import Graph, Op
from ..conv import depthwise_sum, extract_patches, transpose_conv
from ..fixed_point import quantize_multipliers, scale_double_rounding, wrap32
from ..registry import register_int8
from .common import activation_range, params
from .litert import per_tensor, require_dtype, require_zero_points


def _data_input(op: Op) -> str:
    """TRANSPOSE_CONV's inputs are (output shape, filter, input, bias)."""
    return op.inputs[2] if op.type == "TRANSPOSE_CONV" else op.inputs[0]


def channel_multipliers(op: Op, graph: Graph, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """(multiplier, shift) per output channel, as PopulateConvolutionQuantizationParams makes
    them for int8 convolutions: double(input scale) * double(filter scale) / double(output
    scale), a per-tensor filter scale repeated for every channel. (FULLY_CONNECTED's
    per-tensor rule, a float32 product, does not apply here.)"""
    in_scale, _ = per_tensor(op, graph, _data_input(op))
    out_scale, _ = per_tensor(op, graph, op.outputs[0])
    w_scales = np.asarray(params(graph, op.inputs[1]).scale, np.float32).ravel().astype(np.float64)
    if w_scales.size == 1:
        w_scales = np.repeat(w_scales, channels)
    elif w_scales.size != channels:
        raise ConversionError(f"{op!r}: the filter has {w_scales.size} scales for {channels} "
                              "output channels")
    return quantize_multipliers(float(in_scale) * w_scales / float(out_scale))


# The bias type each activation type's kernels read (16x8: LiteRT reads int64 unless the op's
# quantized_bias_type option, which our writer never stores, says int32).
BIAS_DTYPES = {"int8": np.int32, "int16": np.int64}


def check_tensors(op: Op, graph: Graph, bias: np.ndarray | None, channels: int,
                  activations: str = "int8") -> None:
    """The tensor types and params LiteRT's quantized convolutions require (int8 or 16x8)."""
    require_dtype(op, graph, _data_input(op), (activations,))
    require_dtype(op, graph, op.outputs[0], (activations,))
    require_dtype(op, graph, op.inputs[1], ("int8",))
    # The kernels never subtract a filter zero point (weights_offset is 0): a non-zero
    # one would be silently ignored by LiteRT, so refuse it rather than compute it wrong.
    if np.any(np.asarray(params(graph, op.inputs[1]).zero_point) != 0):
        raise ConversionError(f"{op!r}: int8 filters must be symmetric (zero point 0)")
    if activations == "int16":
        require_zero_points(op, graph, [_data_input(op), op.outputs[0]])
        # LiteRT's CONV_2D needs one in int8 too, but the int8 C bundles run without (tests).
        if bias is None and op.type == "CONV_2D":
            raise ConversionError(f"{op!r}: LiteRT's quantized CONV_2D needs a bias; add a zero one")
    bias_dtype = BIAS_DTYPES[activations]
    if bias is not None and (bias.dtype != bias_dtype or bias.size != channels):
        raise ConversionError(f"{op!r}: the bias must be {channels} {np.dtype(bias_dtype).name} "
                              f"values with {activations} activations, not {bias.size} {bias.dtype}")


def _offset_taps(op: Op, graph: Graph, x: np.ndarray, kh: int, kw: int):
    """Yields ((i, j), input - zero point as int32 [N,OH,OW,C]) for each filter tap."""
    _, zero = per_tensor(op, graph, op.inputs[0])
    for tap, patch in extract_patches(x, kh, kw, op, pad_value=zero):
        yield tap, patch.astype(np.int32) - zero


def _requantize(op: Op, graph: Graph, acc: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """int64 accumulators [N,OH,OW,O] -> int8 outputs. The kernel accumulates in int32 and
    casts the requantized value to int32: wrapping where those overflow (only with absurd
    sizes or scales) keeps the results equal even then."""
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    multiplier, shift = channel_multipliers(op, graph, acc.shape[-1])
    out_scale, out_zero = per_tensor(op, graph, op.outputs[0])
    # Measured: these reference kernels round twice (gemmlowp), unlike FULLY_CONNECTED.
    scaled = wrap32(scale_double_rounding(wrap32(acc), multiplier, shift))
    out = wrap32(scaled + out_zero)
    lo, hi = activation_range(op, float(out_scale), out_zero)
    return np.clip(out, lo, hi).astype(np.int8)


def conv2d_sums(op: Op, graph: Graph, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Sum of filter * (input - zero point) over each output's taps, int64 [N,OH,OW,O]."""
    o, kh, kw, ci = w.shape
    if x.shape[3] != ci:
        raise ConversionError(f"{op!r}: input has {x.shape[3]} channels, filter expects {ci}")
    acc = None
    for (i, j), taps in _offset_taps(op, graph, x, kh, kw):
        # One matrix product per tap, in float64: every product is below 2^23 in magnitude
        # (int16 inputs included) and every partial sum an integer far below 2^53, so the
        # result is exact whatever order BLAS adds in, and much faster than an int64 product.
        term = taps.reshape(-1, ci).astype(np.float64) @ w[:, i, j, :].T.astype(np.float64)
        term = term.astype(np.int64)
        acc = term if acc is None else acc + term
    n, oh, ow, _ = taps.shape
    return acc.reshape(n, oh, ow, o)


def depthwise_sums(op: Op, graph: Graph, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    _, kh, kw, oc = w.shape
    multiplier = oc // x.shape[3]
    if multiplier * x.shape[3] != oc:
        raise ConversionError(f"{op!r}: {oc} output channels is not a multiple of {x.shape[3]}")
    return depthwise_sum(_offset_taps(op, graph, x, kh, kw), w, multiplier, np.int64)


def transpose_conv_sums(op: Op, graph: Graph, output_shape: np.ndarray, w: np.ndarray,
                        x: np.ndarray) -> np.ndarray:
    _, zero = per_tensor(op, graph, _data_input(op))
    # The float kernel's scatter on the offset integers (exact in float64), without its
    # activation: the clamp comes after requantizing.
    plain = Op(op.type, op.inputs, op.outputs, {**op.attrs, "fused_activation_function": "NONE"}, op.name)
    return transpose_conv(plain, output_shape, w.astype(np.int64), x.astype(np.int64) - zero)


def conv2d_int8(op: Op, graph: Graph, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None):
    check_tensors(op, graph, b, w.shape[0])
    return _requantize(op, graph, conv2d_sums(op, graph, x, w), b)


def depthwise_conv2d_int8(op: Op, graph: Graph, x: np.ndarray, w: np.ndarray,
                          b: np.ndarray | None = None):
    # LiteRT derives the multiplier from the shapes (ComputeDepthMultiplier), not the option.
    check_tensors(op, graph, b, w.shape[3])
    return _requantize(op, graph, depthwise_sums(op, graph, x, w), b)


def transpose_conv_int8(op: Op, graph: Graph, output_shape: np.ndarray, w: np.ndarray, x: np.ndarray,
                        b: np.ndarray | None = None):
    check_tensors(op, graph, b, w.shape[0])
    return _requantize(op, graph, transpose_conv_sums(op, graph, output_shape, w, x), b)


register_int8("CONV_2D", conv2d_int8)
register_int8("DEPTHWISE_CONV_2D", depthwise_conv2d_int8)
register_int8("TRANSPOSE_CONV", transpose_conv_int8)
