"""16x8 CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV, as LiteRT's reference kernels compute
them (reference_integer_ops ConvPerChannel, DepthwiseConvPerChannel, TransposeConv for int16
inputs): the int8 kernels' sums of filter * input in 64 bits (the zero points are 0), plus the
int64 bias (wrapping as int64 does), requantized per output channel by the 64-bit
MultiplyByQuantizedMultiplier (fixed_point.scale_int64, one rounding with a Q15 multiplier)
and clamped to the fused activation's int16 range. The multipliers are the int8 kernels'
(PopulateConvolutionQuantizationParams, double products).
"""
from __future__ import annotations

import numpy as np

from ...ir import Graph, Op
from ..fixed_point import scale_int64
from ..int8.common import activation_range
from ..int8.conv import (
    channel_multipliers,
    check_tensors,
    conv2d_sums,
    depthwise_sums,
    transpose_conv_sums,
)
from ..int8.litert import per_tensor
from ..registry import register_int16


def _requantize(op: Op, graph: Graph, acc: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """int64 sums [N,OH,OW,O] -> int16 outputs."""
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    multiplier, shift = channel_multipliers(op, graph, acc.shape[-1])
    out_scale, _ = per_tensor(op, graph, op.outputs[0])
    lo, hi = activation_range(op, float(out_scale), 0, "int16")
    return np.clip(scale_int64(acc, multiplier, shift), lo, hi).astype(np.int16)


def conv2d_int16(op: Op, graph: Graph, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None):
    check_tensors(op, graph, b, w.shape[0], "int16")
    return _requantize(op, graph, conv2d_sums(op, graph, x, w), b)


def depthwise_conv2d_int16(op: Op, graph: Graph, x: np.ndarray, w: np.ndarray,
                           b: np.ndarray | None = None):
    # Measured: the installed LiteRT takes the multiplier from the shapes here too, whatever
    # the depth_multiplier option says (absent, smaller or larger).
    check_tensors(op, graph, b, w.shape[3], "int16")
    return _requantize(op, graph, depthwise_sums(op, graph, x, w), b)


def transpose_conv_int16(op: Op, graph: Graph, output_shape: np.ndarray, w: np.ndarray,
                         x: np.ndarray, b: np.ndarray | None = None):
    check_tensors(op, graph, b, w.shape[0], "int16")
    return _requantize(op, graph, transpose_conv_sums(op, graph, output_shape, w, x), b)


register_int16("CONV_2D", conv2d_int16)
register_int16("DEPTHWISE_CONV_2D", depthwise_conv2d_int16)
register_int16("TRANSPOSE_CONV", transpose_conv_int16)
