"""TensorProto and AttrValue decoding, without TensorFlow."""
from __future__ import annotations

import math

import numpy as np

from ..errors import ConversionError

# DataType enum value -> IR dtype name (numpy's, plus "string").
DTYPES = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
    8: "complex64", 9: "int64", 10: "bool", 11: "int8", 12: "uint8", 13: "int32",
    15: "int16", 16: "uint16", 17: "uint16", 18: "complex128", 19: "float16", 22: "uint32",
    23: "uint64", 14: "bfloat16", 20: "resource", 21: "variant",
}

# Which typed value list holds each dtype when tensor_content is empty.
_VALUE_FIELD = {
    "float32": "float_val", "float64": "double_val", "int32": "int_val", "uint8": "int_val",
    "int16": "int_val", "int8": "int_val", "uint16": "int_val", "int64": "int64_val",
    "bool": "bool_val", "float16": "half_val", "bfloat16": "half_val", "string": "string_val",
    "complex64": "scomplex_val", "complex128": "dcomplex_val", "uint32": "uint32_val",
    "uint64": "uint64_val",
}

# The most elements a constant may claim, checked before anything is decoded or allocated:
# a corrupt shape must not make us allocate without bound. A guard on decoding, looser than
# TFLite's limit on a tensor (tflite/options.MAX_TENSOR_ELEMENTS), which the shape checks
# apply to what the graph computes.
MAX_DECODED_ELEMENTS = 1 << 32


def dtype_enum(name: str) -> int:
    """The DataType enum value of an IR dtype name (the first DTYPES gives it to)."""
    return next(enum for enum, dtype in DTYPES.items() if dtype == name)


def dtype_name(enum_value: int) -> str:
    base = enum_value - 100 if enum_value > 100 else enum_value
    try:
        return DTYPES[base]
    except KeyError:
        raise ConversionError(f"unknown TensorFlow data type {enum_value}") from None


def shape_of(shape_proto) -> tuple[int, ...] | None:
    """TensorShapeProto -> tuple (-1 for unknown sizes), or None for unknown rank."""
    if shape_proto.unknown_rank:
        return None
    return tuple(int(d.size) for d in shape_proto.dim)


def _bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def to_numpy(tp, name: str = "", expand_limit: int | None = None) -> np.ndarray:
    """Decodes every form TensorFlow writes: tensor_content, a full typed list, or a single
    value broadcast to the whole shape (and an empty list meaning zeros). expand_limit: the
    most bytes a constant stored as fewer values than it has elements (a splat) may expand
    to (the conversion's folding limit); None: no limit but MAX_DECODED_ELEMENTS."""
    dtype = dtype_name(tp.dtype)
    shape = shape_of(tp.tensor_shape) or ()
    if any(d < 0 for d in shape):
        raise ConversionError(f"constant {name!r} has an unknown dimension in {list(shape)}")
    count = math.prod(shape)  # a Python int: a corrupt shape must not wrap around
    if count > MAX_DECODED_ELEMENTS:
        raise ConversionError(f"constant {name!r} claims {count} elements; the file is corrupt")
    if dtype in ("resource", "variant", "complex64", "complex128"):
        raise ConversionError(f"constant {name!r} has type {dtype}, which TFLite cannot hold")

    if tp.tensor_content:
        if dtype == "string":
            raise ConversionError(f"constant {name!r}: string tensor_content is not supported")
        np_dtype = np.uint16 if dtype == "bfloat16" else np.dtype(dtype)
        raw = tp.tensor_content
        if len(raw) != count * np.dtype(np_dtype).itemsize:
            raise ConversionError(
                f"constant {name!r} has {len(raw)} bytes of data for shape {list(shape)} of {dtype}")
        arr = np.frombuffer(raw, dtype=np_dtype).reshape(shape)
        return _bfloat16_to_float32(arr) if dtype == "bfloat16" else arr

    values = getattr(tp, _VALUE_FIELD[dtype])
    _check_expansion(name, len(values), count, dtype, expand_limit)
    if dtype == "string":
        arr = np.array(list(values), dtype=object)
    elif dtype in ("float16", "bfloat16"):
        bits = np.array(values, dtype=np.int32).astype(np.uint16)
        arr = _bfloat16_to_float32(bits) if dtype == "bfloat16" else bits.view(np.float16)
    else:
        arr = np.array(values, dtype=np.dtype(dtype))
    if arr.size == count:
        return arr.reshape(shape)
    if arr.size == 0:
        return np.zeros(shape, dtype=arr.dtype) if dtype != "string" else np.full(shape, b"", object)
    if arr.size == 1 or arr.size < count:
        # TensorFlow stores a splat as one value, and may drop a repeated tail: the last
        # value fills the rest.
        out = np.empty(count, dtype=arr.dtype)
        out[: arr.size] = arr
        out[arr.size :] = arr[-1]
        return out.reshape(shape)
    raise ConversionError(f"constant {name!r} has {arr.size} values for shape {list(shape)}")


def _check_expansion(name: str, stored: int, count: int, dtype: str, limit: int | None) -> None:
    """A constant stored as fewer values than it has elements (a splat) expands under the
    same limit as constant folding (--fold_limit_mb): a few bytes of a corrupt file may claim
    gigabytes."""
    if stored >= count or limit is None:
        return
    itemsize = 8 if dtype == "string" else np.dtype(np.float32 if dtype == "bfloat16" else dtype).itemsize
    nbytes = count * itemsize
    if nbytes > limit:
        raise ConversionError(
            f"constant {name!r} stores {stored} values for its {count} elements: {nbytes} bytes "
            f"once expanded, over the {limit / (1 << 20):g} MiB folding limit; "
            "raise --fold_limit_mb if the model really holds such a constant")


def attr_value(av):
    """AttrValue -> a plain Python value (lists for list attrs, numpy for tensors)."""
    kind = av.WhichOneof("value")
    if kind is None:
        return None
    if kind == "s":
        return av.s.decode("utf-8", "replace")
    if kind in ("i", "f", "b"):
        return getattr(av, kind)
    if kind == "type":
        return dtype_name(av.type)
    if kind == "shape":
        return shape_of(av.shape)
    if kind == "tensor":
        return to_numpy(av.tensor)
    if kind == "list":
        lv = av.list
        if lv.s:
            return [s.decode("utf-8", "replace") for s in lv.s]
        if lv.i:
            return [int(v) for v in lv.i]
        if lv.f:
            return [float(v) for v in lv.f]
        if lv.b:
            return [bool(v) for v in lv.b]
        if lv.type:
            return [dtype_name(v) for v in lv.type]
        if lv.shape:
            return [shape_of(s) for s in lv.shape]
        if lv.tensor:
            return [to_numpy(t) for t in lv.tensor]
        return []
    if kind == "func":
        return av.func.name
    return None
