"""Helpers shared by op families: fused activations, broadcasting, padding arithmetic."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor

# The op attr that names a fused activation (the schema's FusedActivationFunction field).
ACTIVATION_ATTR = "fused_activation_function"
Bounds = tuple[float | None, float | None]
UNBOUNDED: Bounds = (None, None)
# The schema's fused activations (ActivationFunctionType, in its order), each as the real
# clamp LiteRT's kernels apply (CalculateActivationRange): (lowest, highest) output, None
# where unbounded (the bounds are whole numbers, written as ints so that numpy clamps an
# integer tensor in its own type). TANH and SIGN_BIT get the unbounded range, so they leave
# the output as it is (measured on CONV_2D, DEPTHWISE_CONV_2D, ADD, SUB, MUL, DIV and the
# pools; FULLY_CONNECTED refuses them instead).
FUSED_ACTIVATIONS: dict[str, Bounds] = {
    "NONE": UNBOUNDED,
    "RELU": (0, None),
    "RELU_N1_TO_1": (-1, 1),
    "RELU6": (0, 6),
    "TANH": UNBOUNDED,
    "SIGN_BIT": UNBOUNDED,
}
IGNORED_ACTIVATIONS = tuple(name for name, bounds in FUSED_ACTIVATIONS.items()
                            if name != "NONE" and bounds == UNBOUNDED)
# The RELU ops are these clamps as ops of their own: each fused activation that clamps (a
# RELU op can fuse into its producer as that option) and RELU_0_TO_1, which has no fused form.
FUSABLE_RELUS = tuple(name for name, bounds in FUSED_ACTIVATIONS.items() if bounds != UNBOUNDED)
RELU_OPS: dict[str, Bounds] = {**{name: FUSED_ACTIVATIONS[name] for name in FUSABLE_RELUS},
                               "RELU_0_TO_1": (0, 1)}


def activation_of(op: Op) -> str:
    return op.attrs.get(ACTIVATION_ATTR, "NONE")


def set_activation(op: Op, name: str) -> None:
    op.attrs[ACTIVATION_ATTR] = name


def activation_bounds(op: Op) -> Bounds:
    """The real clamp of the op's fused activation."""
    name = activation_of(op)
    if name not in FUSED_ACTIVATIONS:
        raise ConversionError(f"unsupported fused activation {name}")
    return FUSED_ACTIVATIONS[name]


def clamp(x: np.ndarray, bounds: Bounds) -> np.ndarray:
    """x clamped to the bounds, in x's dtype."""
    return x if bounds == UNBOUNDED else np.clip(x, *bounds)


def apply_activation(x: np.ndarray, op: Op) -> np.ndarray:
    """The op's fused activation applied to its float (or integer) result."""
    return clamp(x, activation_bounds(op))


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
