"""TensorArray ops (ops/tensor_array.py) with known shapes -> TFLite builtins:

- TensorArray(size) -> FILL of zeros (folded to a constant where the fold limit allows);
- TensorArrayWrite(index, value, flow) -> DYNAMIC_UPDATE_SLICE of value reshaped to one
  element, at [index, 0, ...] (the index times [1, 0, ...]);
- TensorArrayScatter of indices 0..size-1 (tf.TensorArray.unstack, as dynamic_rnn feeds its
  input) -> its value, which it then is. Other scatters stay, and conversion names them.
And GATHER of every index of an axis in order (tf.TensorArray.stack) reads the whole tensor:
remove_identity_gather drops it."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, Tensor
from .base import Pass, forward


def _fill(graph: Graph, op: Op) -> bool:
    out = graph.tensors[op.outputs[0]]
    if not out.static_shape:
        return False
    shape = graph.add_const(f"{out.name}/shape", np.array(out.shape, np.int32))
    zero = graph.add_const(f"{out.name}/zero", np.zeros((), out.dtype))
    graph.replace_op(op, [Op("FILL", [shape, zero], [out.name], {}, op.name)])
    return True


def _write(graph: Graph, op: Op) -> bool:
    index, value, flow = op.inputs
    array = graph.tensors[flow]
    if not array.static_shape or graph.tensors[index].dtype != "int32" or graph.tensors[index].shape != ():
        return False
    out = op.outputs[0]
    element = graph.unique_name(f"{out}/element")
    graph.add_tensor(Tensor(element, (1,) + array.shape[1:], array.dtype))
    element_shape = graph.add_const(f"{element}/shape", np.array((1,) + array.shape[1:], np.int32))
    # [index, 0, ...] as the scalar index times [1, 0, ...]: one op.
    start = graph.unique_name(f"{out}/start")
    graph.add_tensor(Tensor(start, (len(array.shape),), "int32"))
    axis0 = graph.add_const(f"{start}/axis0", np.eye(1, len(array.shape), dtype=np.int32)[0])
    graph.replace_op(op, [
        Op("RESHAPE", [value, element_shape], [element], {}, op.name),
        Op("MUL", [index, axis0], [start], {"fused_activation_function": "NONE"}, op.name),
        Op("DYNAMIC_UPDATE_SLICE", [flow, element, start], [out], {}, op.name)])
    return True


def _scatter(graph: Graph, op: Op) -> bool:
    indices = graph.const_value(op.inputs[0])
    value, array = graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
    if indices is None or not array.static_shape or value.shape != array.shape:
        return False
    if not np.array_equal(np.ravel(indices), np.arange(array.shape[0])):
        return False
    forward(graph, op, 1)
    return True


_LOWERINGS = {"TensorArray": _fill, "TensorArrayWrite": _write, "TensorArrayScatter": _scatter}


def lower_tensor_arrays(graph: Graph, op: Op) -> bool:
    lowering = _LOWERINGS.get(op.type)
    return lowering is not None and lowering(graph, op)


PASS = Pass("lower_tensor_arrays", lower_tensor_arrays)
