"""Reading a frozen GraphDef file (binary .pb or text .pbtxt) with clear errors."""
from __future__ import annotations

import os

from google.protobuf import message, text_format

from ..errors import TocoError
from .proto import GraphDef


def load_graphdef(path: str) -> GraphDef:
    if not os.path.exists(path):
        raise TocoError(f"{path}: no such file; pass the frozen graph with --graph_def_file")
    if os.path.isdir(path):
        hint = (" (it looks like a SavedModel: freeze it to a GraphDef first)"
                if os.path.exists(os.path.join(path, "saved_model.pb")) else "")
        raise TocoError(f"{path} is a directory{hint}; pass the frozen .pb file itself")
    with open(path, "rb") as f:
        return parse_graphdef(f.read(), path)


def parse_graphdef(data: bytes, source: str = "<bytes>") -> GraphDef:
    known = _other_format(data)
    if known:
        raise TocoError(f"{source} is {known}, not a TensorFlow GraphDef; pass a frozen graph .pb")
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
    for node in gd.node:
        if not node.name or not node.op:
            raise TocoError(
                f"{source} does not look like a GraphDef (a node has no name or op); "
                "pass a frozen graph .pb")
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
