"""Synthetic frozen GraphDefs of any size (stacked dense layers), streamed to disk node by node
so that writing a 1.5 GB graph never holds more than one layer's weights in memory. Used by
the scale benchmark and tests; needs no TensorFlow."""
from __future__ import annotations

import numpy as np

from toco_py.frontend.proto import NodeDef, TensorProto, TensorShapeProto

_DT_FLOAT, _DT_INT32 = 1, 3


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _shape(dims) -> TensorShapeProto:
    return TensorShapeProto(dim=[TensorShapeProto.Dim(size=int(d)) for d in dims])


def _node(name: str, op: str, inputs=(), dtype: int | None = _DT_FLOAT) -> NodeDef:
    node = NodeDef(name=name, op=op, input=list(inputs))
    if dtype is not None:
        node.attr["T" if op not in ("Placeholder", "Const") else "dtype"].type = dtype
    return node


def _const(name: str, value: np.ndarray) -> NodeDef:
    node = _node(name, "Const")
    tensor = TensorProto(dtype=_DT_FLOAT if value.dtype == np.float32 else _DT_INT32,
                         tensor_shape=_shape(value.shape), tensor_content=value.tobytes())
    node.attr["value"].tensor.CopyFrom(tensor)
    return node


def dense_stack_nodes(width: int, layers: int, seed: int = 0):
    """Yields the NodeDefs of x -> (MatMul, BiasAdd, Relu) x layers -> 'output'."""
    rng = np.random.default_rng(seed)
    x = _node("input", "Placeholder")
    x.attr["shape"].shape.CopyFrom(_shape((1, width)))
    yield x
    previous = "input"
    for i in range(layers):
        weights = (rng.standard_normal((width, width), dtype=np.float32) / np.float32(np.sqrt(width)))
        yield _const(f"dense{i}/kernel", weights)
        del weights
        yield _const(f"dense{i}/bias", rng.standard_normal(width, dtype=np.float32) * np.float32(0.1))
        yield _node(f"dense{i}/MatMul", "MatMul", [previous, f"dense{i}/kernel"])
        yield _node(f"dense{i}/BiasAdd", "BiasAdd", [f"dense{i}/MatMul", f"dense{i}/bias"])
        last = i == layers - 1
        yield _node("output" if last else f"dense{i}/Relu", "Relu", [f"dense{i}/BiasAdd"])
        previous = f"dense{i}/Relu"


def write_dense_stack(path: str, width: int, layers: int, seed: int = 0) -> int:
    """Writes the graph to `path` (GraphDef field 1 per node) and returns its size in bytes."""
    size = 0
    with open(path, "wb") as f:
        for node in dense_stack_nodes(width, layers, seed):
            payload = node.SerializeToString()
            record = b"\x0a" + _varint(len(payload))  # field 1 (node), length-delimited
            f.write(record)
            f.write(payload)
            size += len(record) + len(payload)
    return size


def numpy_reference(x: np.ndarray, width: int, layers: int) -> np.ndarray:
    """What the dense stack computes, in float64 from the same seeded weights."""
    from toco_py.frontend.tensors import to_numpy

    out, weights = x.astype(np.float64), {}
    for node in dense_stack_nodes(width, layers):
        if node.op == "Const":
            weights[node.name] = to_numpy(node.attr["value"].tensor)
        elif node.op == "BiasAdd":
            i = node.name.split("/")[0]
            out = out @ weights.pop(f"{i}/kernel") + weights.pop(f"{i}/bias")
        elif node.op == "Relu":
            out = np.maximum(out, 0)
    return out
