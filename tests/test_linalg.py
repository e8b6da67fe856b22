"""Einsum lowered to TRANSPOSE / RESHAPE / BATCH_MATMUL (passes/lower_einsum.py) and
MatrixBandPart to SELECT_V2 (passes/lower_band_part.py): converted TF graphs run by LiteRT
against TensorFlow (within the tolerance policy for float math), with no more ops than TF's
converter makes, and the einsums one BATCH_MATMUL cannot compute refused."""

import numpy as np
import pytest
import tensorflow as tf

from tests.support.oracle import freeze
from tests.support.tf_compare import convert_tf
from toco_py import api
from toco_py.errors import ConversionError

v1 = tf.compat.v1
pytestmark = pytest.mark.usefixtures("repeatable_draws")  # conftest: RNG reseeded per test
RNG = np.random.default_rng(11)

# equation, shape of a, shape of b (b a constant when `weights`)
EQUATIONS = [
    ("ij,jk->ik", (3, 4), (4, 5)),
    ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
    ("bij,bkj->bik", (2, 3, 4), (2, 5, 4)),  # adj_y
    ("bji,bjk->bik", (2, 4, 3), (2, 4, 5)),  # adj_x
    ("bij,bjk->bki", (2, 3, 4), (2, 4, 5)),  # output transposed
    ("abcd,aecd->acbe", (2, 3, 4, 5), (2, 6, 4, 5)),  # attention scores
    ("acbe,aecd->abcd", (2, 4, 3, 6), (2, 6, 4, 5)),  # attention values
    ("btf,fhd->bthd", (2, 3, 8), (8, 2, 4)),  # multi-head projection
    ("...ij,jk->...ik", (2, 3, 4), (4, 5)),
    ("ij,kj->ik", (3, 4), (5, 4)),
    ("bxij,bjk->bxik", (2, 3, 4, 5), (2, 5, 6)),  # b broadcast over x
    ("bxji,bkj->bxik", (2, 3, 5, 4), (2, 6, 5)),
]


@pytest.mark.parametrize("equation,sa,sb", EQUATIONS, ids=[e[0] for e in EQUATIONS])
@pytest.mark.parametrize("weights", [False, True])
def test_tf_einsum(tmp_path, equation, sa, sb, weights):
    a, b = RNG.standard_normal(sa, np.float32), RNG.standard_normal(sb, np.float32)
    feeds = {"a": a} if weights else {"a": a, "b": b}
    def build():
        x = v1.placeholder(tf.float32, sa, "a")
        y = tf.constant(b) if weights else v1.placeholder(tf.float32, sb, "b")
        return {"y": tf.identity(tf.einsum(equation, x, y), "y")}
    ours = convert_tf(build, feeds, tmp_path, "Einsum", float_math=True)
    assert "BATCH_MATMUL" in ours or "FULLY_CONNECTED" in ours


@pytest.mark.parametrize("equation,sa,sb,message", [
    ("ij,jk->i", (3, 4), (4, 5), "sums over an axis of one operand"),
    ("ii,ij->ij", (3, 3), (3, 4), "repeats a label"),
])
def test_einsum_refused(equation, sa, sb, message):
    def build():
        x, y = v1.placeholder(tf.float32, sa, "a"), v1.placeholder(tf.float32, sb, "b")
        return {"y": tf.identity(tf.raw_ops.Einsum(inputs=[x, y], equation=equation), "y")}
    pb, _ = freeze(build)
    with pytest.raises(ConversionError, match=message):
        api.convert_bytes(pb, input_arrays=["a", "b"], output_arrays=["y"])


# ---- MatrixBandPart ------------------------------------------------------------------------

@pytest.mark.parametrize("lower,upper", [(1, 0), (-1, 0), (0, -1), (0, 2), (-1, -1), (0, 0), (3, 1)])
@pytest.mark.parametrize("shape,dtype", [((2, 4, 5), np.float32), ((5, 3), np.int32)], ids=str)
def test_tf_band_part(tmp_path, lower, upper, shape, dtype):
    x = RNG.standard_normal(shape).astype(dtype) * 9
    if dtype == np.float32:
        x.flat[1], x.flat[-2] = np.nan, -np.inf  # masked to 0 by a select, as in TF
    def build():
        ph = v1.placeholder(tf.as_dtype(dtype), shape, "x")
        return {"y": tf.identity(tf.linalg.band_part(ph, lower, upper), "y")}
    assert convert_tf(build, {"x": x}, tmp_path, "MatrixBandPart") == ["SELECT_V2"]


def test_band_part_bounds_past_the_matrix_refused():
    """TensorFlow's kernel fails on them at run time; the conversion says so at once."""
    pb, _ = freeze(lambda: {"y": tf.identity(tf.linalg.band_part(v1.placeholder(tf.float32, (4, 5), "x"), 7, 1), "y")})
    with pytest.raises(ConversionError, match="exceed the matrix size 4x5"):
        api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"])


def test_tf_band_part_of_unknown_bounds_stays():
    """Bounds computed at run time: no builtin computes the mask, so the op is refused by name."""
    def build():
        x = v1.placeholder(tf.float32, (3, 3), "x")
        k = v1.placeholder(tf.int64, (), "k")
        return {"y": tf.identity(tf.linalg.band_part(x, k, k), "y")}
    pb, _ = freeze(build)
    with pytest.raises(ConversionError, match="MatrixBandPart"):
        api.convert_bytes(pb, input_arrays=["x", "k"], output_arrays=["y"])
