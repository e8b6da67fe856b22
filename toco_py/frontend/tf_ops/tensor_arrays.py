"""TF1 TensorArray ops, handle-free (frontend/tensor_arrays.py): the flow input is the array,
a tensor [size, *element_shape]. Reads and gathers are GATHERs along axis 0 and the size is
the array's first dimension; creating, writing and scattering are converter-only ops
(ops/tensor_array.py) that passes/lower_tensor_arrays.py lowers once shapes are known."""
from __future__ import annotations

import numpy as np

from ..context import NodeContext
from ..node_types import shape_attr
from .registry import tf_op


@tf_op("_TensorArray")
def tensor_array(ctx: NodeContext) -> None:
    element = shape_attr(ctx.node, "element_shape")
    ctx.emit("TensorArray", [ctx.input(0)],
             {"element_shape": element, "dtype": ctx.dtype_attr("dtype"),
              "dynamic_size": bool(ctx.attr("dynamic_size", False))}, outputs=[ctx.output(1)])


@tf_op("_TensorArrayRead", "_TensorArrayGather")
def read(ctx: NodeContext) -> None:
    ctx.emit("GATHER", [ctx.input(1), ctx.input(0)], {"axis": 0, "batch_dims": 0})


@tf_op("_TensorArrayWrite")
def write(ctx: NodeContext) -> None:
    ctx.emit("TensorArrayWrite", [ctx.input(0), ctx.input(1), ctx.input(2)])


@tf_op("_TensorArrayScatter")
def scatter(ctx: NodeContext) -> None:
    ctx.emit("TensorArrayScatter", [ctx.input(0), ctx.input(1), ctx.input(2)])


@tf_op("_TensorArraySize")
def size(ctx: NodeContext) -> None:
    shape = ctx.temp("shape")
    ctx.emit("SHAPE", [ctx.input(0)], {"out_type": "int32"}, outputs=[shape])
    ctx.emit("GATHER", [shape, ctx.const("first", np.int32(0))], {"axis": 0, "batch_dims": 0})
