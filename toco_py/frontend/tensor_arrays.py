"""TensorArrays and TensorLists as tensors. A TF1 TensorArray op reads the array through its
resource handle and orders its reads and writes through a float "flow" scalar that every
write returns anew; toco-py makes the flow the array itself, a tensor [size, *element_shape]
(ops/tensor_array.py), so the handle is dropped: each TensorArray op becomes a handle-free
node of the same name reading the flow instead. A TensorList (control flow v2, TF2) is
already a value, a variant tensor each op returns anew: it is the same tensor, and each
TensorList op becomes the same handle-free node, its inputs in that node's order. What a
while loop carries is then a plain tensor, and a handle entering a loop is read by nothing
(frontend/frames.py drops it). TensorListReserve, whose element shape is an input, has a
mapper of its own (frontend/tf_ops/tensor_arrays.py)."""
from __future__ import annotations

from .proto import NodeDef

# TensorFlow op -> (handle-free op, the positions of the data inputs it keeps, in its order).
HANDLE_FREE = {
    # TF1: input 0 is the handle.
    "TensorArrayV3": ("_TensorArray", (0,)),  # (size): outputs (handle, flow)
    "TensorArrayReadV3": ("_TensorArrayRead", (1, 2)),  # (index, flow)
    "TensorArrayWriteV3": ("_TensorArrayWrite", (1, 2, 3)),  # (index, value, flow)
    "TensorArrayScatterV3": ("_TensorArrayScatter", (1, 2, 3)),  # (indices, value, flow)
    "TensorArrayGatherV3": ("_TensorArrayGather", (1, 2)),  # (indices, flow)
    "TensorArraySizeV3": ("_TensorArraySize", (1,)),  # (flow)
    # TensorLists: the list is the flow; element_shape inputs only check what the list holds.
    "TensorListGetItem": ("_TensorArrayRead", (1, 0)),  # (list, index, element_shape)
    "TensorListGather": ("_TensorArrayGather", (1, 0)),  # (list, indices, element_shape)
    "TensorListSetItem": ("_TensorArrayWrite", (1, 2, 0)),  # (list, index, item)
    "TensorListScatterIntoExistingList": ("_TensorArrayScatter", (2, 1, 0)),  # (list, tensor, indices)
    "TensorListLength": ("_TensorArraySize", (0,)),  # (list)
    "TensorListStack": ("Identity", (0,)),  # (list, element_shape): the array
    "TensorListFromTensor": ("Identity", (0,)),  # (tensor, element_shape): the array
}

# The attr of each handle-free op naming its elements' dtype, and its output that is the flow.
_FLOWS = {"_TensorArray": ("dtype", 1), "_TensorArrayWrite": ("T", 0), "_TensorArrayScatter": ("T", 0)}


def flow_type(node, output: int) -> int | None:
    """The dtype (a DataType number) of the array that output of a handle-free node is, if it
    is a TensorArray's flow: TensorFlow types every flow float32, whatever the elements."""
    attr, flow = _FLOWS.get(node.op, (None, None))
    return node.attr[attr].type if attr is not None and output == flow else None


def drop_handles(nodes: list) -> list:
    """The nodes, each TensorArray or TensorList op replaced by its handle-free form (control
    inputs kept)."""
    if not any(node.op in HANDLE_FREE for node in nodes):
        return nodes
    return [_handle_free(node) if node.op in HANDLE_FREE else node for node in nodes]


def _handle_free(node) -> NodeDef:
    op, kept = HANDLE_FREE[node.op]
    data = [ref for ref in node.input if not ref.startswith("^")]
    control = [ref for ref in node.input if ref.startswith("^")]
    free = NodeDef(name=node.name, op=op, input=[data[i] for i in kept if i < len(data)] + control)
    for key, value in node.attr.items():
        free.attr[key].CopyFrom(value)
    return free


def set_element_shape(node, shape: tuple) -> None:
    """Sets a TensorArray (or TensorListReserve) node's element shape (one its writes showed)."""
    node.attr["element_shape"].shape.Clear()
    for d in shape:
        node.attr["element_shape"].shape.dim.add().size = int(d)
