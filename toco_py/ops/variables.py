"""Resource variables: VAR_HANDLE names a variable by (container, shared_name), READ_VARIABLE
and ASSIGN_VARIABLE read and write it through that handle. The values live in the
interpreter's model (interpreter.Model), shared by every subgraph and kept from one run to
the next, as LiteRT keeps them in its interpreter: kernel(op, model, *arrays)."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, Tensor
from .common import ShapeUnknown
from .registry import register

# Never folded: a handle is the model's, and the variables change from run to run.
_STATEFUL = {"foldable": False, "traits": {"runs_model", "tflm"}}


def _var_handle(op: Op, model) -> np.ndarray:
    """The handle: the variable's resource id, an int32 scalar as in LiteRT."""
    return np.array(model.handle(op.attrs.get("container", ""), op.attrs.get("shared_name", "")),
                    dtype=np.int32)


def _infer_read(op: Op, graph: Graph, handle: Tensor):
    # The variable's shape is whatever was last assigned: only the file's shape says it.
    raise ShapeUnknown(op, op.outputs[0], "a variable's value gives its shape")


def _read_variable(op: Op, model, handle: np.ndarray) -> np.ndarray:
    return model.read(int(handle))


def _assign_variable(op: Op, model, handle: np.ndarray, value: np.ndarray) -> list:
    model.assign(int(handle), value)
    return []


register("VAR_HANDLE", infer=lambda op, graph: ((), "resource"), kernel=_var_handle, **_STATEFUL)
register("READ_VARIABLE", infer=_infer_read, kernel=_read_variable, **_STATEFUL)
register("ASSIGN_VARIABLE", infer=lambda op, graph, handle, value: [], kernel=_assign_variable,
         foldable=False, traits={"runs_model", "side_effects", "tflm"})
