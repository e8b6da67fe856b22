"""What several of LiteRT's integer kernels share: the preconditions they impose on their
tensors (checked before computing, so that a model LiteRT would refuse, or silently misread,
fails here with the op named)."""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ...ir import Graph, Op
from .common import params


def require_dtype(op: Op, graph: Graph, name: str, allowed: tuple[str, ...]) -> str:
    dtype = graph.tensors[name].dtype
    if dtype not in allowed:
        raise ConversionError(f"{op!r}: the quantized kernel takes {'/'.join(allowed)} "
                              f"tensors, not {dtype} ({name!r})")
    return dtype


def require_all(op: Op, graph: Graph, names, dtype: str) -> None:
    """Every named tensor of the one type."""
    for name in names:
        require_dtype(op, graph, name, (dtype,))


def require_int8(op: Op, graph: Graph, names: list[str]) -> None:
    require_all(op, graph, names, "int8")


def per_tensor(op: Op, graph: Graph, name: str) -> tuple[np.float32, int]:
    """(scale, zero point) of a per-tensor quantized tensor, the scale as the float32 LiteRT
    holds. Whether a kernel's arithmetic on it runs in float or in double decides
    bit-exactness, so each kernel spells it where it computes, as its LiteRT counterpart
    does: f32(...) operands for float, float(...) for double."""
    q = params(graph, name)
    if q.scale.size != 1:
        raise ConversionError(f"{op!r}: tensor {name!r} must be quantized per tensor, "
                              f"not per channel")
    return np.float32(q.scale.ravel()[0]), int(q.zero_point.ravel()[0])


def same_params(op: Op, graph: Graph, a: str, b: str) -> bool:
    """LiteRT compares the float32 scales and the zero points for exact equality."""
    return per_tensor(op, graph, a) == per_tensor(op, graph, b)


def _describe(op: Op, graph: Graph, name: str) -> str:
    scale, zero = per_tensor(op, graph, name)
    return f"{name!r} has scale {float(scale):.9g}, zero point {zero}"


def require_same_params(op: Op, graph: Graph, names: list[str], why: str) -> None:
    """Every named tensor must share the first one's params (LiteRT's TF_LITE_ENSURE_EQ)."""
    first = names[0]
    for name in names[1:]:
        if not same_params(op, graph, first, name):
            raise ConversionError(
                f"{op!r}: LiteRT's quantized {op.type} needs {why} to share one scale and zero "
                f"point, but {_describe(op, graph, name)} and {_describe(op, graph, first)}; "
                "requantize with a QUANTIZE op first")


def require_zero_points(op: Op, graph: Graph, names: list[str]) -> None:
    """LiteRT's 16-bit kernels check TF_LITE_ENSURE_EQ(zero_point, 0) on these tensors."""
    for name in names:
        _, zero = per_tensor(op, graph, name)
        if zero:
            raise ConversionError(f"{op!r}: LiteRT's 16-bit {op.type} needs zero point 0 on its int16 "
                                  f"tensors, but {name!r} has {zero}; quantize int16 symmetrically")
