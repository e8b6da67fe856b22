"""Converter-only ops: TensorFlow semantics with no TFLite builtin; passes remove or lower them."""
from __future__ import annotations

import numpy as np

from ..ir import Op, Tensor
from .common import need_const, need_shape
from .registry import register


def _infer_passthrough(op: Op, x: Tensor, *rest: Tensor):
    return need_shape(op, x), x.dtype


def _passthrough(op: Op, x: np.ndarray, *rest: np.ndarray) -> np.ndarray:
    return x


# Ops that forward their first input unchanged at inference time.
PASSTHROUGH = ("Identity", "CheckNumerics", "StopGradient", "PreventGradient", "Snapshot",
               "PlaceholderWithDefault", "EnsureShape")
for _name in PASSTHROUGH:
    register(_name, infer=_infer_passthrough, kernel=_passthrough, builtin=False)


def _infer_concat_v2(op: Op, *ins: Tensor):
    from .array import _infer_concat  # the same geometry once the axis is known

    axis = int(np.ravel(need_const(op, ins[-1], "axis"))[0])
    probe = Op("CONCATENATION", op.inputs[:-1], op.outputs, {"axis": axis}, op.name)
    return _infer_concat(probe, *ins[:-1])


def _concat_v2(op: Op, *xs: np.ndarray) -> np.ndarray:
    return np.concatenate(xs[:-1], axis=int(np.ravel(xs[-1])[0]))


register("ConcatV2", infer=_infer_concat_v2, kernel=_concat_v2, builtin=False)
