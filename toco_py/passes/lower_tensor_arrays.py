"""TensorArray ops (ops/tensor_array.py) with known shapes -> TFLite builtins:

- TensorArray(size) -> FILL of zeros (folded to a constant where the fold limit allows);
- TensorArrayWrite(index, value, flow) -> DYNAMIC_UPDATE_SLICE of value reshaped to one
  element, at [index, 0, ...] (the index times [1, 0, ...]); into an array of run-time size
  (one of dynamic size, in a loop), after a PAD that grows it to index + 1 elements;
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
    if array.shape is None or not all(d >= 0 for d in array.shape[1:]) or \
            graph.tensors[index].dtype != "int32" or graph.tensors[index].shape != ():
        return False
    out = op.outputs[0]
    grows = array.shape[0] < 0 or graph.tensors[out].shape != array.shape
    grow, target = _grown(graph, op, index, flow) if grows else ([], flow)
    element = graph.unique_name(f"{out}/element")
    graph.add_tensor(Tensor(element, (1,) + array.shape[1:], array.dtype))
    element_shape = graph.add_const(f"{element}/shape", np.array((1,) + array.shape[1:], np.int32))
    # [index, 0, ...] as the scalar index times [1, 0, ...]: one op.
    start = _int_tensor(graph, f"{out}/start", (len(array.shape),))
    axis0 = graph.add_const(f"{start}/axis0", np.eye(1, len(array.shape), dtype=np.int32)[0])
    graph.replace_op(op, grow + [
        Op("RESHAPE", [value, element_shape], [element], {}, op.name),
        Op("MUL", [index, axis0], [start], {"fused_activation_function": "NONE"}, op.name),
        Op("DYNAMIC_UPDATE_SLICE", [target, element, start], [out], {}, op.name)])
    return True


def _grown(graph: Graph, op: Op, index: str, flow: str) -> tuple[list[Op], str]:
    """A dynamic array grows as it is written: the ops padding it with max(index + 1, size) -
    size zero elements along axis 0, and the padded array."""
    array = graph.tensors[flow]
    grown = graph.unique_name(f"{op.outputs[0]}/grown")
    graph.add_tensor(Tensor(grown, graph.tensors[op.outputs[0]].shape, array.dtype))
    shape, size, end, larger, extra = (_int_tensor(graph, f"{grown}/{part}", dims) for part, dims in (
        ("shape", (len(array.shape),)), ("size", ()), ("end", ()), ("larger", ()), ("extra", ())))
    paddings = _int_tensor(graph, f"{grown}/paddings", (len(array.shape), 2))
    first = graph.add_const(f"{grown}/first", np.int32(0))
    one = graph.add_const(f"{grown}/one", np.int32(1))
    after_axis0 = np.zeros((len(array.shape), 2), np.int32)
    after_axis0[0, 1] = 1
    mask = graph.add_const(f"{grown}/after_axis0", after_axis0)
    none = {"fused_activation_function": "NONE"}
    return [Op("SHAPE", [flow], [shape], {"out_type": "int32"}, op.name),
            Op("GATHER", [shape, first], [size], {"axis": 0, "batch_dims": 0}, op.name),
            Op("ADD", [index, one], [end], dict(none), op.name),
            Op("MAXIMUM", [end, size], [larger], {}, op.name),
            Op("SUB", [larger, size], [extra], dict(none), op.name),
            Op("MUL", [extra, mask], [paddings], dict(none), op.name),
            Op("PAD", [flow, paddings], [grown], {}, op.name)], grown


def _int_tensor(graph: Graph, name: str, shape: tuple) -> str:
    name = graph.unique_name(name)
    graph.add_tensor(Tensor(name, shape, "int32"))
    return name


def _scatter(graph: Graph, op: Op) -> bool:
    indices = graph.const_value(op.inputs[0])
    value, size = graph.tensors[op.inputs[1]], _size(graph, op.inputs[2])
    if indices is None or not value.static_shape or size is None or value.shape[0] != size:
        return False
    array = graph.tensors[op.outputs[0]]
    if array.shape is not None and array.shape != value.shape:
        return False
    if not np.array_equal(np.ravel(indices), np.arange(size)):
        return False
    forward(graph, op, 1)
    return True


def _size(graph: Graph, flow: str) -> int | None:
    """The array's size: its first dimension, or the size it was made with when its element
    shape is unknown (a TensorArray made without one, then unstacked)."""
    array = graph.tensors[flow]
    if array.shape is not None:
        return array.shape[0] if array.shape and array.shape[0] >= 0 else None
    producer = graph.producer(flow)
    size = graph.const_value(producer.inputs[0]) if producer is not None and producer.type == "TensorArray" else None
    return int(np.ravel(size)[0]) if size is not None and np.size(size) == 1 else None


_LOWERINGS = {"TensorArray": _fill, "TensorArrayWrite": _write, "TensorArrayScatter": _scatter}


def lower_tensor_arrays(graph: Graph, op: Op) -> bool:
    lowering = _LOWERINGS.get(op.type)
    return lowering is not None and lowering(graph, op)


PASS = Pass("lower_tensor_arrays", lower_tensor_arrays)
