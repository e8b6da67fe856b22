"""Helpers shared by op families: fused activations, broadcasting, padding arithmetic."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor

# LiteRT's kernels turn a fused activation into a clamp range; TANH and SIGN_BIT get the
# unbounded one, so they leave the output as it is (measured on CONV_2D, DEPTHWISE_CONV_2D,
# ADD, SUB, MUL, DIV and the pools; FULLY_CONNECTED refuses them instead).
IGNORED_ACTIVATIONS = ("TANH", "SIGN_BIT")


def apply_activation(x: np.ndarray, name: str | None) -> np.ndarray:
    if not name or name == "NONE" or name in IGNORED_ACTIVATIONS:
        return x
    if name == "RELU":
        return np.maximum(x, 0).astype(x.dtype, copy=False)
    if name == "RELU6":
        return np.clip(x, 0, 6).astype(x.dtype, copy=False)
    if name == "RELU_N1_TO_1":
        return np.clip(x, -1, 1).astype(x.dtype, copy=False)
    raise ConversionError(f"unsupported fused activation {name}")


def activation_of(op: Op) -> str:
    return op.attrs.get("fused_activation_function", "NONE")


def broadcast_shapes(op: Op, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """numpy broadcasting with -1 for unknown sizes."""
    rank = max(len(s) for s in shapes)
    out = []
    for dims in zip(*[(1,) * (rank - len(s)) + tuple(s) for s in shapes]):
        known = {d for d in dims if d != 1}
        if not known:
            out.append(1)
        elif len(known) == 1:
            out.append(known.pop())
        elif -1 in known and len(known) == 2:
            out.append(max(known))
        else:
            raise ConversionError(f"{op!r}: shapes {list(shapes)} do not broadcast")
    return tuple(out)


def infer_same(op: Op, x: Tensor, *rest: Tensor):
    """Shape inference of the ops whose output is shaped and typed as their first input."""
    return need_shape(op, x), x.dtype


def need_shape(op: Op, t: Tensor) -> tuple[int, ...]:
    if t.shape is None:
        raise ShapeUnknown(op, t.name)
    return t.shape


def need_const(op: Op, t: Tensor | None, what: str) -> np.ndarray:
    if t is None or t.data is None:
        raise ShapeUnknown(op, t.name if t else "?", f"its {what} is not a constant")
    return t.data


class ShapeUnknown(Exception):
    """Shape inference cannot proceed yet (an input shape or a constant is not known)."""

    def __init__(self, op: Op, tensor: str, why: str = "") -> None:
        self.op, self.tensor, self.why = op, tensor, why
        super().__init__(f"{op!r}: shape of {tensor!r} unknown{'; ' + why if why else ''}")


def normalize_axis(op: Op, axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ConversionError(f"{op!r}: axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def conv_output_size(size: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    if size < 0:
        return -1
    effective = (kernel - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size - effective + stride) // stride


def same_padding(size: int, kernel: int, stride: int, dilation: int, padding: str) -> tuple[int, int]:
    """(before, after) padding of one spatial dimension, TFLite's convention."""
    if padding != "SAME":
        return 0, 0
    out = conv_output_size(size, kernel, stride, dilation, padding)
    effective = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def seeded_rng(op: Op) -> np.random.Generator:
    """A generator repeatable for the op's seed / seed2 attrs. numpy seeds are non-negative;
    TensorFlow's and TFLite's are int64 (two's complement keeps them apart)."""
    return np.random.default_rng([int(op.attrs.get(key, 0)) & 0xFFFFFFFFFFFFFFFF
                                  for key in ("seed", "seed2")])


def same_dtype(op: Op, *tensors: Tensor) -> str:
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) != 1:
        raise ConversionError(f"{op!r}: inputs have different types {sorted(dtypes)}")
    return dtypes.pop()
