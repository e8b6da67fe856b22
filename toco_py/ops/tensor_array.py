"""TF1 TensorArrays as tensors: the frontend drops each TensorArray's handle and makes its
"flow" the array itself, a tensor of shape [size, *element_shape] (frontend/tensor_arrays.py).
These converter-only ops stand for the TensorArray ops that have no one-op builtin form until
the shapes are known; passes/lower_tensor_arrays.py lowers them. Reads, gathers and sizes
are GATHER and SHAPE from the start (frontend/tf_ops/tensor_arrays.py).

- TensorArray(size): zeros of [size, *element_shape] (attrs element_shape, dtype,
  dynamic_size), what TensorFlow's reads of unwritten elements give; an array of dynamic size
  (raw_rnn's outputs) starts at its size and grows as it is written, so a loop carries it as
  [-1, *element_shape] (frontend/loops.py);
- TensorArrayWrite(index, value, flow): flow with element `index` replaced by value, grown
  with zeros up to it where the array is smaller (only a dynamic array is ever written there:
  TensorFlow refuses the write to a fixed one);
- TensorArrayScatter(indices, value, flow): flow with element indices[i] replaced by value[i].
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import ShapeUnknown, need_const, need_shape
from .registry import register


def _infer_array(op: Op, size: Tensor):
    """[size, *element_shape], where the element's open sizes stay -1 (writes settle them)."""
    count = need_const(op, size, "size")
    element = op.attrs.get("element_shape")
    if element is None:
        raise ShapeUnknown(op, op.outputs[0], "its element shape is unknown")
    return (int(np.ravel(count)[0]),) + tuple(element), op.attrs["dtype"]


def _zeros(op: Op, size: np.ndarray) -> np.ndarray:
    element = tuple(op.attrs["element_shape"])
    return np.zeros((int(np.ravel(size)[0]),) + element, op.attrs["dtype"])


def _merged(op: Op, flow: tuple, element: tuple) -> tuple:
    """The array's shape with its elements' open sizes taken from an element written to it."""
    if len(flow) != len(element) + 1 or any(a >= 0 and b >= 0 and a != b for a, b in zip(flow[1:], element)):
        raise ConversionError(f"{op!r}: writes elements of shape {list(element)} into a "
                              f"TensorArray of elements {list(flow[1:])}")
    return (flow[0],) + tuple(a if a >= 0 else b for a, b in zip(flow[1:], element))


def _infer_write(op: Op, index: Tensor, value: Tensor, flow: Tensor):
    shape = _merged(op, need_shape(op, flow), need_shape(op, value))
    at = index.data if index is not None and index.is_const else None
    if at is not None and shape[0] >= 0 and int(np.ravel(at)[0]) >= shape[0]:
        shape = (int(np.ravel(at)[0]) + 1,) + shape[1:]  # a dynamic array grows to the write
    return shape, flow.dtype


def _write(op: Op, index: np.ndarray, value: np.ndarray, flow: np.ndarray) -> np.ndarray:
    at = int(np.ravel(index)[0])
    if at < 0:
        raise ConversionError(f"{op!r}: writes element {at} of a TensorArray")
    out = np.concatenate([flow, np.zeros((max(0, at + 1 - flow.shape[0]),) + flow.shape[1:], flow.dtype)])
    out[at] = value
    return out


def _infer_scatter(op: Op, indices: Tensor, value: Tensor, flow: Tensor):
    return _merged(op, need_shape(op, flow), need_shape(op, value)[1:]), flow.dtype


def _scatter(op: Op, indices: np.ndarray, value: np.ndarray, flow: np.ndarray) -> np.ndarray:
    positions = np.ravel(indices).astype(np.int64)
    if positions.size and (positions.min() < 0 or positions.max() >= flow.shape[0]):
        raise ConversionError(f"{op!r}: scatters outside a TensorArray of {flow.shape[0]}")
    out = flow.copy()
    out[positions] = value
    return out


# Not folded: lower_tensor_arrays makes a FILL of it once its shape is known.
register("TensorArray", builtin=False, infer=_infer_array, kernel=_zeros, foldable=False)
register("TensorArrayWrite", builtin=False, infer=_infer_write, kernel=_write)
register("TensorArrayScatter", builtin=False, infer=_infer_scatter, kernel=_scatter)
