"""Reading a frozen GraphDef file (binary .pb or text .pbtxt) with clear errors.

Binary files are memory-mapped and walked node by node: each NodeDef is parsed on its own,
and the payload of every big constant is viewed in place in the mapping rather than copied
into a protobuf message (a 1.5 GB graph would otherwise sit in memory two or three times).
"""
from __future__ import annotations

import math
import mmap
import os
import re
from dataclasses import dataclass, field

import numpy as np
from google.protobuf import message, text_format

from ..errors import TocoError
from .proto import FunctionDefLibrary, GraphDef, NodeDef, TensorProto
from .tensors import dtype_name, shape_of
from .wire import LENGTH, WireError, field_range, fields

# Constant payloads at least this big are viewed in place instead of copied.
VIEW_THRESHOLD = 4096
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_NODE, _LIBRARY, _ATTR, _ATTR_KEY, _ATTR_VALUE, _ATTR_TENSOR, _TENSOR_CONTENT = 1, 2, 5, 1, 2, 8, 4


@dataclass
class LoadedGraph:
    """A GraphDef as the frontend reads it: NodeDefs (big constant payloads left out) and the
    values of those constants, as read-only numpy views, and the function library (whole:
    functions hold few big constants) that TF2 graphs call."""
    node: list = field(default_factory=list)
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    library: object = field(default_factory=FunctionDefLibrary)


def load_graphdef(path: str, view_constants: bool = True):
    """view_constants=False: a whole GraphDef message, every payload in it (for rewriting)."""
    if not os.path.exists(path):
        raise TocoError(f"{path}: no such file; pass the frozen graph with --graph_def_file")
    if os.path.isdir(path):
        hint = (" (it looks like a SavedModel: freeze it to a GraphDef first)"
                if os.path.exists(os.path.join(path, "saved_model.pb")) else "")
        raise TocoError(f"{path} is a directory{hint}; pass the frozen .pb file itself")
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            raise TocoError(f"{path} holds no graph nodes; pass a frozen graph .pb")
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    return parse_graphdef(mapped, path, view_constants)


def parse_graphdef(data, source: str = "<bytes>", view_constants: bool = True):
    """data: bytes or a read-only mmap of the file."""
    known = _other_format(data[:8])
    if known:
        raise TocoError(f"{source} is {known}, not a TensorFlow GraphDef; pass a frozen graph .pb")
    if not view_constants:
        return _parse_whole(bytes(data), source)
    try:
        loaded = _walk(data)
    except (WireError, message.DecodeError, ValueError):
        loaded = None
    if loaded is not None and loaded.node:
        _check_nodes(loaded.node, source)
        return loaded
    return _parse_whole(bytes(data), source)


def _walk(data) -> LoadedGraph:
    loaded = LoadedGraph()
    for number, wire_type, start, end, _ in fields(data, 0, len(data)):
        if number == _NODE and wire_type == LENGTH:
            loaded.node.append(_node(data, start, end, loaded.constants))
        elif number == _LIBRARY and wire_type == LENGTH:
            loaded.library.MergeFromString(bytes(data[start:end]))
    return loaded


def _node(data, start: int, end: int, constants: dict):
    """One NodeDef; a big constant's 'value' attr is taken out and decoded as a view."""
    for number, wire_type, value_start, value_end, field_start in fields(data, start, end):
        if number != _ATTR or wire_type != LENGTH:
            continue
        key = field_range(data, value_start, value_end, _ATTR_KEY)
        if key is None or bytes(data[key[0]:key[1]]) != b"value":
            continue
        attr = field_range(data, value_start, value_end, _ATTR_VALUE)
        tensor = field_range(data, attr[0], attr[1], _ATTR_TENSOR) if attr else None
        content = field_range(data, tensor[0], tensor[1], _TENSOR_CONTENT) if tensor else None
        if content is None or content[1] - content[0] < VIEW_THRESHOLD:
            continue
        node = NodeDef.FromString(bytes(data[start:field_start]) + bytes(data[value_end:end]))
        # The tensor's own fields, without its payload: a flat message, safe to splice.
        header = TensorProto.FromString(bytes(data[tensor[0]:content[2]]) + bytes(data[content[1]:tensor[1]]))
        constants[node.name] = _view(data, header, content[0], content[1] - content[0], node.name)
        return node
    return NodeDef.FromString(bytes(data[start:end]))


def _view(data, header, offset: int, length: int, name: str) -> np.ndarray:
    dtype = dtype_name(header.dtype)
    shape = shape_of(header.tensor_shape) or ()
    if dtype in ("string", "resource", "variant", "bfloat16") or any(d < 0 for d in shape):
        raise TocoError(f"constant {name!r}: unsupported payload of type {dtype}, shape {list(shape)}")
    count = math.prod(shape)  # a Python int: a corrupt shape must not wrap around
    if count * np.dtype(dtype).itemsize != length:
        raise TocoError(f"constant {name!r} has {length} bytes of data for shape {list(shape)} of {dtype}")
    return np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape)


def _check_nodes(nodes, source: str) -> None:
    for node in nodes:
        if not node.name or not node.op:
            raise TocoError(
                f"{source} does not look like a GraphDef (a node has no name or op); "
                "pass a frozen graph .pb")
        if CONTROL_CHARS.search(node.name) or CONTROL_CHARS.search(node.op):
            # (They would also break the one-line messages that name nodes and op types.)
            raise TocoError(
                f"{source} does not look like a GraphDef (node {node.name!r} of type {node.op!r} "
                "has control characters in its name or type); pass a frozen graph .pb")


def _parse_whole(data: bytes, source: str) -> GraphDef:
    gd = GraphDef()
    try:
        gd.ParseFromString(data)
    except (message.DecodeError, RuntimeError, ValueError):
        if not _parse_text(gd, data):
            raise TocoError(
                f"{source} is not a TensorFlow GraphDef (its bytes are not valid protobuf: the "
                "file may be truncated or of another format); pass a frozen graph .pb") from None
    if not gd.node and not _parse_text(gd, data):
        raise TocoError(f"{source} holds no graph nodes; pass a frozen graph .pb")
    _check_nodes(gd.node, source)
    return gd


def _parse_text(gd: GraphDef, data: bytes) -> bool:
    """Accepts text-format GraphDefs (.pbtxt) too."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if "node" not in text:
        return False
    try:
        gd.Clear()
        text_format.Parse(text, gd)
    except text_format.ParseError:
        return False
    return bool(gd.node)


def _other_format(data: bytes) -> str | None:
    """Names formats users pass by mistake, so the message can say what the file is."""
    if data[4:8] == b"TFL3":
        return "already a TFLite model"
    if data[:8] == b"\x89HDF\r\n\x1a\n":
        return "a Keras HDF5 file"
    if data[:4] == b"PK\x03\x04":
        return "a zip archive (a .keras file?)"
    return None
