"""Our GraphDef subset against TensorFlow's own protos and every TensorProto form TF writes."""
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import (
    attr_value_pb2,
    graph_pb2,
    node_def_pb2,
    tensor_pb2,
    tensor_shape_pb2,
    types_pb2,
)

from toco_py.frontend import proto
from toco_py.frontend.tensors import attr_value, to_numpy


@pytest.mark.parametrize("ours,theirs", [
    (proto.GraphDef, graph_pb2.GraphDef),
    (proto.NodeDef, node_def_pb2.NodeDef),
    (proto.AttrValue, attr_value_pb2.AttrValue),
    (proto.TensorProto, tensor_pb2.TensorProto),
    (proto.TensorShapeProto, tensor_shape_pb2.TensorShapeProto),
])
def test_field_numbers_match_tensorflow(ours, theirs):
    def check(a, b):
        for field in a.fields:
            other = b.fields_by_name.get(field.name)
            assert other is not None, f"{a.full_name}.{field.name} is not in TensorFlow's proto"
            assert field.number == other.number, f"{a.full_name}.{field.name}"
            assert field.type == other.type, f"{a.full_name}.{field.name}"
            if field.message_type is not None and not field.message_type.GetOptions().map_entry:
                check(field.message_type, other.message_type)
    check(ours.DESCRIPTOR, theirs.DESCRIPTOR)


def test_datatype_values_match_tensorflow():
    for value in proto.DataType.values:
        assert types_pb2.DataType.Value(value.name) == value.number


def _roundtrip(tp: tensor_pb2.TensorProto) -> np.ndarray:
    return to_numpy(proto.TensorProto.FromString(tp.SerializeToString()))


DTYPES = [np.float32, np.float16, np.int8, np.uint8, np.int32, np.int64, np.bool_]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_tensor_content(dtype):
    value = (np.random.default_rng(0).normal(0, 50, (3, 4, 5)) > 0 if dtype is np.bool_
             else np.random.default_rng(0).normal(0, 50, (3, 4, 5)).astype(dtype))
    tp = tf.make_tensor_proto(value)
    if dtype is np.bool_:  # make_tensor_proto writes bool_val; TF reads either form
        tp.ClearField("bool_val")
        tp.tensor_content = value.tobytes()
        assert np.array_equal(tf.make_ndarray(tp), value)
    assert tp.tensor_content
    got = _roundtrip(tp)
    assert got.dtype == value.dtype and np.array_equal(got, value)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_typed_value_lists(dtype):
    value = np.array([[1, 0, 3], [4, 5, 0]]).astype(dtype)
    tp = tf.make_tensor_proto(value)
    tp.ClearField("tensor_content")
    field = {np.float32: "float_val", np.float16: "half_val", np.int64: "int64_val",
             np.bool_: "bool_val"}.get(dtype, "int_val")
    flat = value.ravel()
    tp.ClearField(field)
    getattr(tp, field).extend(flat.view(np.uint16).tolist() if dtype is np.float16 else flat.tolist())
    assert np.array_equal(tf.make_ndarray(tp), value)  # what TF itself reads from it
    got = _roundtrip(tp)
    assert got.dtype == value.dtype and np.array_equal(got, value)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_single_value_broadcast(dtype):
    # What tf.fill / tf.zeros graphs store: one value for the whole shape.
    value = np.full((2, 3, 4), 1, dtype=dtype)
    tp = tf.make_tensor_proto(np.array(1, dtype=dtype), shape=[2, 3, 4])
    assert not tp.tensor_content
    got = _roundtrip(tp)
    assert got.dtype == value.dtype and np.array_equal(got, value)


def test_strings():
    tp = tf.make_tensor_proto(np.array([b"ab", b"", b"xyz"], dtype=object))
    got = _roundtrip(tp)
    assert got.tolist() == [b"ab", b"", b"xyz"]


def test_corrupt_content_size_is_an_error():
    tp = tf.make_tensor_proto(np.zeros((4, 4), np.float32))
    tp.tensor_content = tp.tensor_content[:-3]
    with pytest.raises(Exception, match="bytes of data for shape"):
        _roundtrip(tp)


def test_attr_values():
    node = tf.compat.v1.NodeDef()
    node.attr["s"].s = b"SAME"
    node.attr["i"].i = 7
    node.attr["f"].f = 0.5
    node.attr["b"].b = True
    node.attr["t"].type = types_pb2.DT_INT8
    node.attr["l"].list.i.extend([1, 2, 2, 1])
    node.attr["shape"].shape.CopyFrom(tf.TensorShape([None, 3]).as_proto())
    ours = proto.NodeDef.FromString(node.SerializeToString())
    assert {k: attr_value(v) for k, v in ours.attr.items()} == {
        "s": "SAME", "i": 7, "f": 0.5, "b": True, "t": "int8", "l": [1, 2, 2, 1], "shape": (-1, 3)}
