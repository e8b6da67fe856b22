"""Hybrid (dynamic-range) kernels: float activations, int8 weights. As LiteRT runs them, the
input is quantized on the fly (per batch), multiplied in integers with the weights, and the
int32 sums are scaled back to float: results differ from float by that rounding, so emulating
it is what makes the interpreter agree with the runtime."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from .common import apply_activation
from .conv import depthwise_sum, extract_patches, im2col
from .fixed_point import round_half_away_array as _round
from .registry import REGISTRY, register_hybrid


def is_hybrid(graph: Graph, op: Op) -> bool:
    opdef = REGISTRY.get(op.type)
    if opdef is None or opdef.hybrid_kernel is None or len(op.inputs) < 2:
        return False
    x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    return x.dtype == "float32" and w.dtype == "int8" and w.quant is not None


def symmetric_quantize_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tensor_utils::SymmetricQuantizeFloats per row: q in [-127, 127], scale = max|x| / 127."""
    peak = np.max(np.abs(x), axis=1)
    safe = np.where(peak > 0, peak, np.float32(1))
    inverse = np.float32(127) / safe
    q = np.clip(_round(x * inverse[:, None]), -127, 127)
    q = np.where(peak[:, None] > 0, q, 0)
    return q.astype(np.int64), np.where(peak > 0, peak / np.float32(127), np.float32(1)).astype(np.float32)


def asymmetric_quantize_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tensor_utils::AsymmetricQuantizeFloats per row: (q, scale, zero point offset)."""
    lo = np.minimum(x.min(axis=1), 0).astype(np.float64)
    hi = np.maximum(x.max(axis=1), 0).astype(np.float64)
    qmin, qmax = -128.0, 127.0
    empty = lo == hi
    scale = np.where(empty, 1.0, (hi - lo) / (qmax - qmin))
    zero_min = qmin - lo / scale
    zero_max = qmax - hi / scale
    use_min = (np.abs(qmin) + np.abs(lo / scale)) < (np.abs(qmax) + np.abs(hi / scale))
    zero = np.clip(_round(np.where(use_min, zero_min, zero_max)), qmin, qmax)
    scale32 = scale.astype(np.float32)
    inverse = (np.float32(1) / scale32)
    q = np.clip(zero[:, None] + _round(x * inverse[:, None]), qmin, qmax)
    q = np.where(empty[:, None], 0, q)
    zero = np.where(empty, 0, zero)
    return q.astype(np.int64), np.where(empty, np.float32(1), scale32), zero.astype(np.int64)


def _weight_scales(graph: Graph, name: str, channels: int) -> np.ndarray:
    scales = np.asarray(graph.tensors[name].quant.scale, np.float32).ravel()
    return scales if scales.size == channels else np.full(channels, scales[0], np.float32)


def fully_connected_hybrid(op: Op, graph: Graph, x, w, b=None):
    rows = x.reshape(-1, w.shape[1]).astype(np.float32)
    channels = w.shape[0]
    scales = _weight_scales(graph, op.inputs[1], channels)
    if op.attrs.get("asymmetric_quantize_inputs"):
        q, row_scale, zero = asymmetric_quantize_rows(rows)
        q = q - zero[:, None]
    else:
        q, row_scale = symmetric_quantize_rows(rows)
    acc = (q @ w.astype(np.int64).T).astype(np.float32)
    out = acc * (row_scale[:, None] * scales[None, :])
    if b is not None:
        out = out + b
    if op.attrs.get("keep_num_dims"):
        out = out.reshape(x.shape[:-1] + (channels,))
    return apply_activation(out.astype(np.float32), op)


def _quantized_image(x: np.ndarray):
    """Per batch (the whole image), asymmetric: what LiteRT's per-channel hybrid convs do."""
    flat = x.reshape(x.shape[0], -1).astype(np.float32)
    q, scale, zero = asymmetric_quantize_rows(flat)
    return (q - zero[:, None]).reshape(x.shape), scale


def conv_hybrid(op: Op, graph: Graph, x, w, b=None):
    centred, batch_scale = _quantized_image(x)
    o, kh, kw, ci = w.shape
    # Padding contributes zero after the offset: pad the centred values with 0.
    cols, (n, oh, ow) = im2col(extract_patches(centred, kh, kw, op))
    acc = (cols @ w.reshape(o, -1).astype(np.int64).T).reshape(n, oh, ow, o).astype(np.float32)
    scales = _weight_scales(graph, op.inputs[1], o)
    out = acc * scales * batch_scale.reshape(-1, 1, 1, 1)
    if b is not None:
        out = out + b
    return apply_activation(out.astype(np.float32), op)


def depthwise_hybrid(op: Op, graph: Graph, x, w, b=None):
    centred, batch_scale = _quantized_image(x)
    _, kh, kw, oc = w.shape
    multiplier = oc // x.shape[3]
    acc = depthwise_sum(extract_patches(centred, kh, kw, op), w, multiplier, np.int64)
    scales = _weight_scales(graph, op.inputs[1], oc)
    out = acc.astype(np.float32) * (scales * batch_scale.reshape(-1, 1, 1, 1))
    if b is not None:
        out = out + b
    return apply_activation(out.astype(np.float32), op)


register_hybrid("FULLY_CONNECTED", fully_connected_hybrid)
register_hybrid("CONV_2D", conv_hybrid)
register_hybrid("DEPTHWISE_CONV_2D", depthwise_hybrid)


def input_rounding_std(op: Op, graph: Graph, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The standard deviation of a hybrid op's output error when its input is quantized by
    another correct scheme (LiteRT's optimized kernels and XNNPACK each have their own): every
    input element off by a uniform rounding error of up to half the on-the-fly step. Shaped
    to broadcast against the op's output."""
    # The sum of squared real weights per output channel.
    if op.type == "DEPTHWISE_CONV_2D":
        channels = w.shape[3]
        energy = np.sum(w.reshape(-1, channels).astype(np.float64) ** 2, axis=0)
    else:
        channels = w.shape[0]
        energy = np.sum(w.reshape(channels, -1).astype(np.float64) ** 2, axis=1)
    energy *= _weight_scales(graph, op.inputs[1], channels).astype(np.float64) ** 2
    if op.type == "FULLY_CONNECTED":
        rows = x.reshape(-1, w.shape[1]).astype(np.float32)
        if op.attrs.get("asymmetric_quantize_inputs"):
            step = asymmetric_quantize_rows(rows)[1]
        else:
            step = symmetric_quantize_rows(rows)[1]
        std = step.astype(np.float64)[:, None] * np.sqrt(energy / 12.0)[None, :]
        return std.reshape(x.shape[:-1] + (channels,)) if op.attrs.get("keep_num_dims") else std
    step = _quantized_image(x)[1].astype(np.float64)
    return step.reshape(-1, 1, 1, 1) * np.sqrt(energy / 12.0).reshape(1, 1, 1, -1)
