"""Message classes for the GraphDef subset in graph.proto, built from its descriptor set.

The descriptors live in a private pool, so they never collide with TensorFlow's when both
are imported in one process (tests do that).
"""
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_POOL = descriptor_pool.DescriptorPool()
for _file in descriptor_pb2.FileDescriptorSet.FromString(
    (Path(__file__).parent / "graph.desc").read_bytes()
).file:
    _POOL.Add(_file)


def _message(name: str):
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"toco_py.tf.{name}"))


GraphDef = _message("GraphDef")
NodeDef = _message("NodeDef")
AttrValue = _message("AttrValue")
TensorProto = _message("TensorProto")
TensorShapeProto = _message("TensorShapeProto")
DataType = _POOL.FindEnumTypeByName("toco_py.tf.DataType")
FunctionDefLibrary = _message("FunctionDefLibrary")
FunctionDef = _message("FunctionDef")
