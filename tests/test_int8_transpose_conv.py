"""int8 TRANSPOSE_CONV against LiteRT's reference kernel (reference_integer_ops::TransposeConv):
output sizes the stride does not divide, SAME and VALID, per-channel and per-tensor filters,
with and without bias and fused activation."""
import numpy as np
import pytest

from tests.support.kernel_check import data, forward_size, int8_disagreement, quant

SHAPES = [((1, 8, 8, 3), 3, 3, 2), ((2, 7, 9, 2), 3, 2, 3), ((1, 5, 6, 4), 1, 1, 2),
          ((1, 10, 9, 1), 4, 5, 3), ((2, 6, 6, 2), 2, 2, 1)]


def _case(shape, stride, padding, activation="NONE", with_bias=True, per_channel=True, seed=0) -> str:
    rng = np.random.default_rng(seed)
    (n, oh, ow, oc), kh, kw, ci = shape
    h, w = forward_size(oh, kh, stride[0], padding), forward_size(ow, kw, stride[1], padding)
    x_q = quant(float(rng.uniform(0.01, 0.1)), int(rng.integers(-128, 128)))
    w_scales = rng.uniform(0.005, 0.05, oc if per_channel else 1)
    w_q = quant(w_scales, np.zeros(w_scales.size, np.int64), axis=0)
    inputs = [np.array([n, oh, ow, oc], np.int32), data(rng, (oc, kh, kw, ci)), data(rng, (n, h, w, ci))]
    quants = [None, w_q, x_q]
    if with_bias:
        inputs.append(rng.integers(-3000, 3000, oc).astype(np.int32))
        quants.append(quant(w_scales * float(x_q.scale[0]), np.zeros(w_scales.size, np.int64), axis=0))
    out_q = quant(float(rng.uniform(0.05, 0.5)), int(rng.integers(-128, 128)))
    attrs = {"stride_h": stride[0], "stride_w": stride[1], "padding": padding,
             "fused_activation_function": activation}
    return int8_disagreement("TRANSPOSE_CONV", inputs, quants, [out_q], attrs,
                             const={0, 1, 3} if with_bias else {0, 1})


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("stride", [(1, 1), (2, 2), (3, 3), (2, 1)], ids=str)
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_geometry(shape, stride, padding):
    problem = _case(shape, stride, padding)
    assert not problem, problem


@pytest.mark.parametrize("activation", ["NONE", "RELU", "RELU6"])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("per_channel", [True, False])
def test_activation_bias_and_per_tensor_filters(activation, with_bias, per_channel):
    problem = _case(((2, 7, 8, 3), 3, 3, 2), (2, 2), "SAME", activation, with_bias, per_channel, seed=5)
    assert not problem, problem
