"""TensorArray ops (ops/tensor_array.py) with known shapes -> TFLite builtins:

- TensorArray(size) -> FILL of zeros (folded to a constant where the fold limit allows);
- TensorArrayWrite(index, value, flow) -> DYNAMIC_UPDATE_SLICE of value reshaped to one
  element, at [index, 0, ...];
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
    if not array.static_shape or graph.tensors[index].dtype != "int32":
        return False
    out = op.outputs[0]
    element = graph.unique_name(f"{out}/element")
    graph.add_tensor(Tensor(element, (1,) + array.shape[1:], array.dtype))
    element_shape = graph.add_const(f"{element}/shape", np.array((1,) + array.shape[1:], np.int32))
    ops = [Op("RESHAPE", [value, element_shape], [element], {}, op.name)]
    first = graph.unique_name(f"{out}/first")
    graph.add_tensor(Tensor(first, (1,), "int32"))
    ops.append(Op("RESHAPE", [index, graph.add_const(f"{first}/shape", np.array([1], np.int32))],
                  [first], {}, op.name))
    start = first
    if len(array.shape) > 1:
        start = graph.unique_name(f"{out}/start")
        graph.add_tensor(Tensor(start, (len(array.shape),), "int32"))
        rest = graph.add_const(f"{start}/rest", np.zeros(len(array.shape) - 1, np.int32))
        ops.append(Op("CONCATENATION", [first, rest], [start],
                      {"axis": 0, "fused_activation_function": "NONE"}, op.name))
    ops.append(Op("DYNAMIC_UPDATE_SLICE", [flow, element, start], [out], {}, op.name))
    graph.replace_op(op, ops)
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
