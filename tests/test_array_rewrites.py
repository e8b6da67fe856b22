"""Rewrites that leave fewer or simpler array ops, as TF's converter does: StridedSlice's
ellipsis written out (legalize_strided_slice), and an ExpandDims undone by a Squeeze removed
(squeeze_to_reshape, merge_reshapes, remove_identity_reshape). TF graphs converted, run by
LiteRT against TensorFlow, with no more ops than TF's converter makes."""

import numpy as np
import pytest
import tensorflow as tf

from tests.support.irgraph import build, run_passes
from tests.support.oracle import freeze
from tests.support.tf_compare import convert_tf
from toco_py import api
from toco_py.errors import ConversionError
from toco_py.ir import Tensor
from toco_py.passes import legalize_strided_slice

v1 = tf.compat.v1
pytestmark = pytest.mark.usefixtures("repeatable_draws")  # conftest: RNG reseeded per test
RNG = np.random.default_rng(5)


def _x(shape, name="x"):
    return v1.placeholder(tf.float32, shape, name=name)


# ---- StridedSlice's ellipsis ------------------------------------------------------------

ELLIPSES = {
    "covers_none": (lambda x: x[..., 0, 1, 2], (2, 3, 4)),
    "leading": (lambda x: x[..., 1:], (2, 3, 4)),
    "middle": (lambda x: x[0, ..., ::-2], (2, 3, 4, 5)),
    "with_new_axis": (lambda x: x[..., None, 1], (2, 3, 4)),
    "trailing": (lambda x: x[1, ...], (3, 4)),
}


@pytest.mark.parametrize("name", list(ELLIPSES))
def test_tf_ellipsis_written_out(tmp_path, name):
    index, shape = ELLIPSES[name]
    x = RNG.standard_normal(shape, np.float32)
    ours = convert_tf(lambda: {"y": tf.identity(index(_x(shape)), "y")}, {"x": x}, tmp_path, "StridedSlice")
    assert ours == ["STRIDED_SLICE"]
    pb, _ = freeze(lambda: {"y": tf.identity(index(_x(shape)), "y")})
    graph = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"]).graph
    assert [op.attrs["ellipsis_mask"] for op in graph.ops] == [0]


def _slice_graph(x_shape, spec, masks, op_type="StridedSlice"):
    begin, end, strides = (np.array(v, np.int32) for v in zip(*spec))
    return build({"x": x_shape}, {"b": begin, "e": end, "s": strides},
                 [(op_type, ["x", "b", "e", "s"], ["y"], masks)], ["y"])


def test_computed_bounds_keep_the_ellipsis():
    """Bounds not known at conversion time: the op is retyped with its ellipsis as it is."""
    g = _slice_graph((3, 4), [(0, 0, 1), (1, 3, 1)], {"ellipsis_mask": 1})
    g.add_tensor(Tensor("b_in", (2,), "int32"))
    g.inputs.append("b_in")
    g.set_input(g.ops[0], 1, "b_in")
    assert run_passes(g, legalize_strided_slice.PASS)
    assert g.ops[0].type == "STRIDED_SLICE" and g.ops[0].attrs["ellipsis_mask"] == 1


@pytest.mark.parametrize("op_type", ["StridedSlice", "STRIDED_SLICE"])
def test_zero_width_ellipsis(op_type):
    """Only TF's StridedSlice may give the ellipsis no axis (the pass writes it out); LiteRT's
    STRIDED_SLICE would read past the input's dimensions, so it is refused."""
    spec = [(0, 0, 1), (1, 2, 1)]
    if op_type == "STRIDED_SLICE":
        with pytest.raises(ConversionError, match="ellipsis covers no axis"):
            _slice_graph((3,), spec, {"ellipsis_mask": 1}, op_type)
        return
    g = _slice_graph((3,), spec, {"ellipsis_mask": 1}, op_type)
    assert run_passes(g, legalize_strided_slice.PASS)
    assert g.ops[0].attrs["ellipsis_mask"] == 0 and g.const_value(g.ops[0].inputs[1]).tolist() == [1]


# ---- ExpandDims undone by Squeeze ------------------------------------------------------

def test_tf_expand_then_squeeze_removed(tmp_path):
    x = RNG.standard_normal((2, 3, 4), np.float32)
    build_tf = lambda: {"y": tf.multiply(tf.squeeze(tf.expand_dims(tf.nn.relu(_x(x.shape)), 1), [1]), 2.0, name="y")}
    assert convert_tf(build_tf, {"x": x}, tmp_path, "ExpandDims") == ["RELU", "MUL"]


@pytest.mark.parametrize("expand,squeeze", [(0, [2]), (-1, [1])])
def test_tf_expand_then_squeeze_of_another_axis_kept(tmp_path, expand, squeeze):
    """The Squeeze drops a different size-1 axis: the pair moves data, one RESHAPE stays."""
    x = RNG.standard_normal((2, 1, 4), np.float32)
    build_tf = lambda: {"y": tf.multiply(tf.squeeze(tf.expand_dims(tf.nn.relu(_x(x.shape)), expand), squeeze),
                                         2.0, name="y")}
    assert convert_tf(build_tf, {"x": x}, tmp_path, "ExpandDims") == ["RELU", "RESHAPE", "MUL"]


def test_tf_expand_squeeze_with_shared_intermediate_kept(tmp_path):
    """The expanded tensor is an output too: both reshapes stay, as in TF's converter."""
    x = RNG.standard_normal((2, 3), np.float32)
    def build_tf():
        e = tf.expand_dims(tf.nn.relu(_x(x.shape)), 0)
        return {"e": tf.identity(e, "e"), "y": tf.multiply(tf.squeeze(e, [0]), 2.0, name="y")}
    ours = convert_tf(build_tf, {"x": x}, tmp_path, "ExpandDims")
    assert sorted(ours) == ["MUL", "RELU", "RESHAPE", "RESHAPE"]
