"""QUANTIZE (float32 -> int8 / uint8 / int16, and the requantizations int8 / uint8 ->
int8 / uint8 / int16 and int16 -> int8 / int16) and DEQUANTIZE (int8 / uint8 / int16 / float16 ->
float32), as LiteRT's reference kernels compute them (quantize.cc, dequantize.cc; int16 tensors
with zero point 0 where those requantize int16 to int16 or dequantize int16).

Where the parameters live. A kernel receives the op and its input arrays only, while the
parameters of these two ops belong to a tensor (the QUANTIZE output, the DEQUANTIZE input),
so the op carries a copy of them in its attrs:

    op.attrs["output_quant"] = (scale, zero_point, axis)   QUANTIZE
    op.attrs["output_type"]  = "int8" | "uint8" | "int16"  QUANTIZE (its output dtype)
    op.attrs["input_quant"]  = (scale, zero_point, axis)   DEQUANTIZE of an integer input,
                                                           and QUANTIZE of one (requantizing)

scale and zero_point are 1-D arrays (one value per tensor, or one per channel along
`axis`). `quant_attrs(graph, op)` fills them from the tensors' QuantParams; whatever builds
or reads a graph calls it for these ops before running them. None of these attrs is
written to the .tflite file (QuantizeOptions and DequantizeOptions have no fields): there
the tensors' own quantization parameters say the same thing.

The arithmetic lives in `quantize` and `dequantize`, which take the parameters explicitly
and serve the quantizer as well.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Graph, Op, QuantParams, Tensor
from .common import ShapeUnknown, need_shape
from .fixed_point import quantize_multiplier, round_half_away_array, scale_double_rounding
from .registry import has_trait, register, register_int8, register_int16

QUANTIZED_TYPES = ("int8", "uint8", "int16")
# The requantizations LiteRT's QUANTIZE prepares (quantize.cc), input -> outputs.
REQUANTIZATIONS = {"int8": ("int8", "uint8", "int16"), "uint8": ("int8", "uint8", "int16"),
                   "int16": ("int8", "int16")}


def runs_quantized(graph: Graph, op: Op) -> bool:
    """Whether the op computes on quantized integers, so runs its int8 kernel (numpy and C):
    its first input or output is quantized. QUANTIZE of a float and DEQUANTIZE convert at the
    edge of the quantized part and compute in float; QUANTIZE of an integer requantizes. An
    op whose result depends only on its input's shape (SHAPE, RANK ...) reads no value of it,
    so only a quantized result counts."""
    if op.type == "DEQUANTIZE":
        return False
    if op.type == "QUANTIZE":
        source = op.inputs[0] if op.inputs else ""
        return bool(source) and graph.tensors[source].dtype in QUANTIZED_TYPES
    inputs = [] if has_trait(op.type, "shape_only") else op.inputs[:1]
    return any(is_quantized_tensor(graph.tensors[n]) for n in inputs + op.outputs[:1] if n)


def activation_dtype(graph: Graph, op: Op) -> str | None:
    """The integer type of the quantized values the op computes on (int16 picks the 16x8
    kernel), by the tensor runs_quantized reads; None when it computes in float."""
    if not runs_quantized(graph, op):
        return None
    inputs = [] if has_trait(op.type, "shape_only") else op.inputs[:1]
    return next(graph.tensors[n].dtype for n in inputs + op.outputs[:1]
                if n and is_quantized_tensor(graph.tensors[n]))


def is_quantized_tensor(t: Tensor) -> bool:
    """Integers standing for reals through quantization parameters."""
    return t.quant is not None and t.dtype in QUANTIZED_TYPES


def _per_axis(values, ndim: int, axis: int, dtype) -> np.ndarray:
    """Parameters shaped to broadcast along `axis` (or as a scalar when per tensor)."""
    values = np.asarray(values, dtype).reshape(-1)
    if values.size == 1:
        return values.reshape(())
    shape = [1] * ndim
    shape[axis] = values.size
    return values.reshape(shape)


def quantize(x: np.ndarray, scale, zero_point, axis: int = 0, dtype: str = "int8") -> np.ndarray:
    """q = clamp(round(x / scale) + zero_point), the division in float32 and the rounding
    half away from zero (std::round), as LiteRT's AffineQuantize."""
    info = np.iinfo(dtype)
    scale = _per_axis(scale, x.ndim, axis, np.float32)
    zero = _per_axis(zero_point, x.ndim, axis, np.int64)
    ratio = (x.astype(np.float32) / scale).astype(np.float64)
    rounded = round_half_away_array(ratio)
    # Clamped before converting, so that huge values and infinities saturate.
    rounded = np.clip(rounded, np.iinfo(np.int32).min, np.iinfo(np.int32).max).astype(np.int64)
    return np.clip(rounded + zero, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale, zero_point, axis: int = 0) -> np.ndarray:
    """real = scale * (q - zero_point) as float32."""
    scale = _per_axis(scale, q.ndim, axis, np.float64)
    zero = _per_axis(zero_point, q.ndim, axis, np.int64)
    return (scale * (q.astype(np.int64) - zero)).astype(np.float32)


def _params(op: Op, key: str) -> tuple[np.ndarray, np.ndarray, int]:
    if key not in op.attrs:
        raise ConversionError(f"{op!r}: its quantization parameters are not attached "
                              f"(attrs[{key!r}]; see toco_py.ops.quantize_ops)")
    scale, zero_point, axis = op.attrs[key]
    return np.asarray(scale), np.asarray(zero_point), int(axis)


def _infer_quantize(op: Op, x: Tensor):
    # Integer inputs (a requantization) are left to the kernel to check: models that hold
    # an unsupported one can still be read and inspected.
    dtype = op.attrs.get("output_type")
    if dtype is None:
        # Not known from the op alone: keep whatever type the output tensor declares.
        raise ShapeUnknown(op, op.outputs[0], "its output type is not attached")
    if dtype not in QUANTIZED_TYPES:
        raise ConversionError(f"{op!r}: cannot quantize to {dtype}")
    return need_shape(op, x), dtype


def requantize_multiplier(in_scale, out_scale) -> tuple[int, int]:
    """QuantizeMultiplier of double(in_scale) / double(out_scale), the scales as float32 values."""
    return quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))


def requantize(q: np.ndarray, in_scale, in_zero: int, out_scale, out_zero: int,
               dtype: str) -> np.ndarray:
    """reference_ops::Requantize: (q - in_zero) * requantize_multiplier + out_zero, clamped.
    Equal scales give multiplier 2^30, shift 1: an exact identity, so the kernel's XOR fast
    path for int8 <-> uint8 (a zero point shift of 128) gives the same bytes."""
    multiplier, shift = requantize_multiplier(in_scale, out_scale)
    # Measured: LiteRT's Requantize rounds twice (gemmlowp), unlike its FULLY_CONNECTED.
    scaled = scale_double_rounding(q.astype(np.int64) - in_zero, multiplier, shift)
    info = np.iinfo(dtype)
    return np.clip(scaled + out_zero, info.min, info.max).astype(dtype)


def _per_tensor_attr(op: Op, key: str) -> tuple[np.float32, int]:
    scale, zero_point, _ = _params(op, key)
    if scale.size != 1:
        raise ConversionError(f"{op!r}: requantization needs per-tensor parameters, "
                              f"not {scale.size} scales")
    return np.float32(scale[0]), int(zero_point[0])


def _requantize_kernel(op: Op, x: np.ndarray) -> np.ndarray:
    dtype = op.attrs.get("output_type", "int8")
    if dtype not in REQUANTIZATIONS.get(x.dtype.name, ()):
        raise ConversionError(f"{op!r}: LiteRT cannot requantize {x.dtype.name} to {dtype}")
    if "input_quant" not in op.attrs:
        raise ConversionError(f"{op!r}: requantizing {x.dtype.name} needs the input's params, which "
                              "are not attached (attrs['input_quant']; see toco_py.ops.quantize_ops)")
    in_scale, in_zero = _per_tensor_attr(op, "input_quant")
    out_scale, out_zero = _per_tensor_attr(op, "output_quant")
    if x.dtype == np.int16 and dtype == "int16" and (in_zero or out_zero):
        raise ConversionError(f"{op!r}: int16 -> int16 requantization needs zero points of 0")
    return requantize(x, in_scale, in_zero, out_scale, out_zero, dtype)


def _quantize_kernel(op: Op, x: np.ndarray) -> np.ndarray:
    if x.dtype.name in QUANTIZED_TYPES:
        return _requantize_kernel(op, x)
    if x.dtype != np.float32:
        raise ConversionError(f"{op!r}: cannot quantize {x.dtype} input (float32, int8, uint8 "
                              "or int16 only)")
    scale, zero_point, axis = _params(op, "output_quant")
    return quantize(x, scale, zero_point, axis, op.attrs.get("output_type", "int8"))


def _infer_dequantize(op: Op, x: Tensor):
    if x.dtype not in QUANTIZED_TYPES + ("float16",):
        raise ConversionError(f"{op!r}: cannot dequantize {x.dtype}")
    return need_shape(op, x), "float32"


def _dequantize_kernel(op: Op, x: np.ndarray) -> np.ndarray:
    if x.dtype == np.float16:
        return x.astype(np.float32)
    scale, zero_point, axis = _params(op, "input_quant")
    if x.dtype == np.int16 and np.any(zero_point != 0):
        raise ConversionError(f"{op!r}: LiteRT dequantizes int16 with a zero point of 0 only")
    return dequantize(x, scale, zero_point, axis)


def _as_attr(quant: QuantParams) -> tuple[np.ndarray, np.ndarray, int]:
    return (np.asarray(quant.scale, np.float32).reshape(-1),
            np.asarray(quant.zero_point, np.int64).reshape(-1), int(quant.axis))


def _requantized_input_attrs(graph: Graph, op: Op) -> None:
    """A QUANTIZE of an integer input requantizes: its kernel needs the input's params too."""
    src = graph.tensors[op.inputs[0]]
    if src.dtype not in QUANTIZED_TYPES:
        return
    if src.quant is None:
        raise ConversionError(f"{op!r}: its integer input {src.name!r} has no quantization parameters")
    op.attrs["input_quant"] = _as_attr(src.quant)


def quant_attrs(graph: Graph, op: Op) -> None:
    """Copies the parameters a QUANTIZE / DEQUANTIZE kernel needs from the graph's tensors
    into op.attrs (see the module docstring); other ops are left alone."""
    if op.type == "QUANTIZE":
        out = graph.tensors[op.outputs[0]]
        if out.quant is None:
            raise ConversionError(f"{op!r}: its output {out.name!r} has no quantization parameters")
        op.attrs["output_quant"] = _as_attr(out.quant)
        op.attrs["output_type"] = out.dtype
        _requantized_input_attrs(graph, op)
    elif op.type == "DEQUANTIZE":
        src = graph.tensors[op.inputs[0]]
        if src.quant is not None:
            op.attrs["input_quant"] = _as_attr(src.quant)
        elif src.dtype != "float16":
            raise ConversionError(f"{op!r}: its input {src.name!r} has no quantization parameters")


# Never folded: a DEQUANTIZE of constant int8 or float16 weights exists to keep them small,
# and folding it (or a QUANTIZE) would undo the quantization.
register("QUANTIZE", traits={"tflm"},
         infer=_infer_quantize, kernel=_quantize_kernel, foldable=False, float32_only=True)
# Its params are attrs, so the one kernel also serves as the int8 kernel of a requantization.
register_int8("QUANTIZE", lambda op, graph, x: _quantize_kernel(op, x))
register_int16("QUANTIZE", lambda op, graph, x: _quantize_kernel(op, x))
register("DEQUANTIZE", traits={"tflm"},
         infer=_infer_dequantize, kernel=_dequantize_kernel, foldable=False)
