"""TensorArray and TensorList ops, handle-free (frontend/tensor_arrays.py): the flow input (a
TensorList: the list) is the array, a tensor [size, *element_shape]. Reads and gathers are
GATHERs along axis 0 and the size is the array's first dimension; creating, writing and
scattering are converter-only ops (ops/tensor_array.py) that passes/lower_tensor_arrays.py
lowers once shapes are known. A list that grows or shrinks as it runs has no static shape,
which TFLite's tensors need: refused by name."""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ..context import NodeContext
from ..node_types import shape_attr
from .registry import tf_op

_FIXED_SIZE = ("TFLite's tensors have static shapes: give the TensorArray a fixed size "
               "(tf.TensorArray(dtype, size=n)) and write its elements by index")


@tf_op("_TensorArray")
def tensor_array(ctx: NodeContext) -> None:
    _zeros(ctx, ctx.input(0), shape_attr(ctx.node, "element_shape"), ctx.dtype_attr("dtype"), ctx.output(1),
           dynamic=bool(ctx.attr("dynamic_size", False)))


def _zeros(ctx: NodeContext, size: str, element: tuple | None, dtype: str, output: str,
           dynamic: bool = False) -> None:
    """The array, of its dtype even while its shape is open (what a loop variable's cond and
    body take: frontend/loops.py); dynamic: it grows as it is written (ops/tensor_array.py)."""
    ctx.emit("TensorArray", [size], {"element_shape": element, "dtype": dtype, "dynamic_size": dynamic},
             outputs=[output])
    ctx.graph.tensors[output].dtype = dtype


@tf_op("TensorListReserve")
def reserve(ctx: NodeContext) -> None:
    """(element_shape, num_elements): zeros, as the TF1 TensorArray; an element shape its
    writes showed (frontend/array_elements.py) is set as an attr, over the input's."""
    size = ctx.const_input(1)
    if size is not None and int(np.ravel(size)[0]) < 0:
        raise ConversionError(
            f"node {ctx.name!r} (TensorListReserve): a TensorList of unknown size "
            f"(num_elements {int(np.ravel(size)[0])}); {_FIXED_SIZE}")
    if "element_shape" in ctx.node.attr:
        element = shape_attr(ctx.node, "element_shape")
    else:
        given = ctx.require_const(0, "element shape")
        element = None if given.ndim == 0 else tuple(int(d) for d in given)  # -1: unknown rank
    _zeros(ctx, ctx.input(1), element, ctx.dtype_attr("element_dtype"), ctx.output(0))


@tf_op("EmptyTensorList", "TensorListPushBack", "TensorListPopBack", "TensorListPushBackBatch",
       "TensorListResize", "TensorListConcat", "TensorListConcatV2", "TensorListConcatLists",
       "TensorListSplit")
def changing_size(ctx: NodeContext) -> None:
    raise ConversionError(
        f"node {ctx.name!r} ({ctx.node.op}) makes a TensorList whose size changes as the graph "
        f"runs; {_FIXED_SIZE}")


@tf_op("TensorListElementShape")
def element_shape(ctx: NodeContext) -> None:
    shape = ctx.temp("shape")
    ctx.emit("SHAPE", [ctx.input(0)], {"out_type": ctx.dtype_attr("shape_type", "int32")}, outputs=[shape])
    ctx.emit("SLICE", [shape, ctx.const("begin", np.int32([1])), ctx.const("size", np.int32([-1]))])


@tf_op("_TensorArrayRead", "_TensorArrayGather")
def read(ctx: NodeContext) -> None:
    ctx.emit("GATHER", [ctx.input(1), ctx.input(0)], {"axis": 0, "batch_dims": 0})


@tf_op("_TensorArrayWrite")
def write(ctx: NodeContext) -> None:
    if ctx.attr("resize_if_index_out_of_bounds", False):
        raise ConversionError(
            f"node {ctx.name!r} (TensorListSetItem) writes a TensorList of dynamic size, which "
            f"grows as it is written; {_FIXED_SIZE}")
    ctx.emit("TensorArrayWrite", [ctx.input(0), ctx.input(1), ctx.input(2)])


@tf_op("_TensorArrayScatter")
def scatter(ctx: NodeContext) -> None:
    ctx.emit("TensorArrayScatter", [ctx.input(0), ctx.input(1), ctx.input(2)])


@tf_op("_TensorArraySize")
def size(ctx: NodeContext) -> None:
    shape = ctx.temp("shape")
    ctx.emit("SHAPE", [ctx.input(0)], {"out_type": "int32"}, outputs=[shape])
    ctx.emit("GATHER", [shape, ctx.const("first", np.int32(0))], {"axis": 0, "batch_dims": 0})
