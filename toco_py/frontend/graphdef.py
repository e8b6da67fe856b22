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
        raise TocoError(f"{path} is a directory; pass the frozen .pb file itself")
    with open(path, "rb") as f:
        data = f.read()
    return parse_graphdef(data, path)


def parse_graphdef(data: bytes, source: str = "<bytes>") -> GraphDef:
    gd = GraphDef()
    try:
        gd.ParseFromString(data)
    except (message.DecodeError, RuntimeError, ValueError) as err:
        if not _parse_text(gd, data):
            raise TocoError(
                f"{source} is not a TensorFlow GraphDef ({_short(err)}); the file may be "
                "truncated, or be a SavedModel/Keras/TFLite file - pass a frozen graph .pb") from None
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


def _short(err: Exception) -> str:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text[:120]
