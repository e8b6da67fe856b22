"""One definition per IR op: shape inference, float kernel and, where quantizable, int8 kernel.

The same definitions serve constant folding, calibration and the reference interpreter.
Kernels take the op and its input arrays (None for an absent optional input) and return
one array or a tuple of arrays. Shape inference takes the op and its input Tensors (whose
`data` is set when constant) and returns (shape, dtype) for each output.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import ConversionError

InferFn = Callable[..., "tuple | list"]
KernelFn = Callable[..., "object"]


@dataclass(frozen=True)
class OpDef:
    type: str
    infer: InferFn
    kernel: KernelFn | None
    # False for converter-only ops that passes must remove or lower before writing.
    builtin: bool = True
    int8_kernel: KernelFn | None = None
    # False for ops whose value changes from run to run (random draws): never folded.
    foldable: bool = True


REGISTRY: dict[str, OpDef] = {}


def register(type_: str, *, infer: InferFn, kernel: KernelFn | None = None,
             builtin: bool = True, int8_kernel: KernelFn | None = None,
             foldable: bool = True) -> OpDef:
    if type_ in REGISTRY:
        raise ValueError(f"op {type_} is defined twice")
    REGISTRY[type_] = OpDef(type_, infer, kernel, builtin, int8_kernel, foldable)
    return REGISTRY[type_]


def register_int8(type_: str, kernel: KernelFn) -> None:
    """Adds the int8 kernel of an op defined elsewhere: kernel(op, graph, *arrays), where the
    graph gives the tensors' quantization parameters."""
    from dataclasses import replace

    REGISTRY[type_] = replace(get(type_), int8_kernel=kernel)


def get(type_: str) -> OpDef:
    try:
        return REGISTRY[type_]
    except KeyError:
        raise ConversionError(f"no definition for op type {type_}") from None
