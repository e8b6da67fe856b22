"""int8 CONV_2D and DEPTHWISE_CONV_2D against LiteRT's reference kernels, element for element:
edge cases of geometry, activations and params, seeded random cases, and the two facts about
LiteRT's arithmetic that were measured here rather than read (double-product multipliers for
every filter, and gemmlowp's double rounding, unlike FULLY_CONNECTED)."""
import numpy as np
import pytest

import toco_py.ops.int8.conv as conv_int8
from tests.support.kernel_check import (
    compare_int8_with_litert,
    int8_disagreement,
    int8_graph,
    quant,
    run_int8_ours,
    window,
)
from toco_py.errors import TocoError
from toco_py.ops.fixed_point import (
    quantize_multiplier,
    quantize_multipliers,
    scale_single_rounding,
)

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1", "TANH")


def out_channels(op_type: str, w_shape) -> int:
    return w_shape[0] if op_type == "CONV_2D" else w_shape[3]


def filter_quant(rng, op_type: str, channels: int, per_channel: bool, lo=-2.5, hi=-1.5):
    scales = (10.0 ** rng.uniform(lo, hi, channels if per_channel else 1)).astype(np.float32)
    return quant(scales, np.zeros(scales.size, np.int64), 0 if op_type == "CONV_2D" else 3)


def fitting_out_scale(in_scale, w_scale, taps: int) -> float:
    """An output scale that keeps typical accumulators (about 5400 * sqrt(taps) for uniform
    int8 data) mostly inside int8, so results are not all saturated."""
    return float(in_scale) * float(np.median(w_scale)) * 90.0 * np.sqrt(taps)


def run_case(op_type, rng, x_shape, w_shape, attrs, in_q, out_q=None, per_channel=True,
             bias=True, x=None, w=None, w_q=None, bias_range=20000) -> str:
    """Random data (unless given) through our int8 kernel and LiteRT's reference kernel: what
    differs ("" when nothing)."""
    channels = out_channels(op_type, w_shape)
    x = rng.integers(-128, 128, x_shape, dtype=np.int8) if x is None else x
    w = rng.integers(-127, 128, w_shape, dtype=np.int8) if w is None else w
    w_q = filter_quant(rng, op_type, channels, per_channel) if w_q is None else w_q
    if out_q is None:
        taps = int(np.prod(w_shape[1:3])) * (w_shape[3] if op_type == "CONV_2D" else 1)
        out_q = quant(fitting_out_scale(in_q.scale[0], w_q.scale, taps), 0)
    inputs, params = [x, w], [in_q, w_q]
    if bias:
        bias_scale = np.float32(in_q.scale[0]) * np.broadcast_to(w_q.scale, (channels,))
        inputs.append(rng.integers(-bias_range, bias_range + 1, channels, dtype=np.int32))
        params.append(quant(bias_scale, np.zeros(channels, np.int64)))
    if op_type == "DEPTHWISE_CONV_2D":
        attrs = dict(attrs, depth_multiplier=channels // x_shape[3])
    return int8_disagreement(op_type, inputs, params, [out_q], attrs, const={1, 2})


# ---- CONV_2D edge cases -------------------------------------------------------------------

CONV_GEOMETRY = [
    # (input NHWC, filter OHWI, window)
    ((1, 5, 5, 3), (4, 1, 1, 3), window()),
    ((2, 7, 9, 3), (5, 3, 3, 3), window(padding="SAME")),
    ((1, 8, 7, 2), (3, 3, 3, 2), window(stride=(2, 2), padding="SAME")),
    ((1, 9, 10, 2), (3, 3, 3, 2), window(dilation=(2, 2))),
    ((1, 11, 13, 3), (4, 5, 3, 3), window(stride=(2, 3), dilation=(2, 1), padding="SAME")),
    ((1, 3, 4, 2), (2, 5, 5, 2), window(padding="SAME")),  # filter larger than the image
    ((1, 6, 6, 1), (1, 2, 2, 1), window(stride=(3, 2), padding="VALID")),
    ((1, 5, 6, 33), (40, 3, 3, 33), window(padding="SAME")),
    ((1, 1, 1, 8), (6, 1, 1, 8), window()),
]


@pytest.mark.parametrize("x_shape, w_shape, attrs", CONV_GEOMETRY)
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
def test_conv_geometry(x_shape, w_shape, attrs, per_channel):
    rng = np.random.default_rng(sum(x_shape) + sum(w_shape))
    assert not run_case("CONV_2D", rng, x_shape, w_shape, attrs, quant(0.05, -7), per_channel=per_channel)


@pytest.mark.parametrize("op_type", ["CONV_2D", "DEPTHWISE_CONV_2D"])
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_fused_activations(op_type, act):
    rng = np.random.default_rng(len(act))
    w_shape = (4, 3, 3, 2) if op_type == "CONV_2D" else (1, 3, 3, 4)
    # An output zero point off the middle, so RELU and RELU6 clamp at distinct codes.
    out_q = quant(0.05, -20)
    assert not run_case(op_type, rng, (1, 6, 7, 2), w_shape, window(padding="SAME", act=act),
                        quant(0.02, 3), out_q)


PARAM_CASES = [
    # (input params, output params): zero points at the extremes, tiny and large scales.
    (quant(0.05, -128), quant(0.1, 127)),
    (quant(0.05, 127), quant(0.1, -128)),
    (quant(1e-5, 0), quant(2e-5, 3)),
    (quant(40.0, -5), quant(900.0, 10)),
]


@pytest.mark.parametrize("op_type", ["CONV_2D", "DEPTHWISE_CONV_2D"])
@pytest.mark.parametrize("in_q, out_q", PARAM_CASES)
def test_extreme_params(op_type, in_q, out_q):
    rng = np.random.default_rng(int(in_q.zero_point[0]) + 200)
    w_shape = (3, 3, 3, 2) if op_type == "CONV_2D" else (1, 3, 3, 4)
    assert not run_case(op_type, rng, (1, 5, 6, 2), w_shape, window(padding="SAME"), in_q, out_q)


@pytest.mark.parametrize("op_type", ["CONV_2D", "DEPTHWISE_CONV_2D"])
def test_multiplier_above_one(op_type):
    """in_scale * w_scale > out_scale: a positive shift, on small accumulators that fit."""
    rng = np.random.default_rng(9)
    w_shape = (3, 2, 2, 2) if op_type == "CONV_2D" else (1, 2, 2, 2)
    x = rng.integers(-2, 3, (1, 4, 4, 2), dtype=np.int8)
    w = rng.integers(-3, 4, w_shape, dtype=np.int8)
    w_q = quant(np.full(out_channels(op_type, w_shape), 0.5, np.float32),
                np.zeros(out_channels(op_type, w_shape), np.int64), 0 if op_type == "CONV_2D" else 3)
    assert not run_case(op_type, rng, x.shape, w_shape, window(), quant(1.0, 0), quant(0.13, 0),
                        x=x, w=w, w_q=w_q, bias_range=4)


# ---- DEPTHWISE_CONV_2D edge cases ---------------------------------------------------------

DEPTHWISE_GEOMETRY = [
    # (input NHWC, filter 1HW(C*M), window)
    ((1, 6, 7, 3), (1, 3, 3, 3), window(padding="SAME")),
    ((2, 7, 8, 2), (1, 3, 3, 4), window(stride=(2, 2), padding="VALID")),
    ((1, 9, 9, 2), (1, 3, 2, 6), window(dilation=(2, 3), padding="SAME")),
    ((1, 5, 4, 33), (1, 3, 3, 33), window(padding="SAME")),  # more than one 32-channel chunk
    ((1, 4, 5, 1), (1, 2, 2, 5), window(stride=(1, 2))),
    ((1, 3, 3, 2), (1, 5, 4, 2), window(padding="SAME")),
]


@pytest.mark.parametrize("x_shape, w_shape, attrs", DEPTHWISE_GEOMETRY)
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
def test_depthwise_geometry(x_shape, w_shape, attrs, per_channel):
    rng = np.random.default_rng(sum(x_shape) * 3 + sum(w_shape))
    assert not run_case("DEPTHWISE_CONV_2D", rng, x_shape, w_shape, attrs, quant(0.03, 11),
                        per_channel=per_channel)


def test_depthwise_without_bias():
    rng = np.random.default_rng(4)
    assert not run_case("DEPTHWISE_CONV_2D", rng, (1, 5, 5, 3), (1, 3, 3, 6),
                        window(padding="SAME"), quant(0.03, -2), bias=False)


# ---- seeded random cases ------------------------------------------------------------------

def random_case(rng, op_type: str):
    """Shapes, window, params and data drawn at random; geometry kept valid."""
    kh, kw = (int(k) for k in rng.integers(1, 5, 2))
    stride = tuple(int(s) for s in rng.integers(1, 4, 2))
    dilation = tuple(int(d) for d in rng.integers(1, 3, 2))
    padding = str(rng.choice(["SAME", "VALID"]))
    h = int(rng.integers((kh - 1) * dilation[0] + 1, 12))
    w = int(rng.integers((kw - 1) * dilation[1] + 1, 12))
    c = int(rng.integers(1, 9))
    if op_type == "CONV_2D":
        w_shape = (int(rng.integers(1, 9)), kh, kw, c)
    else:
        w_shape = (1, kh, kw, c * int(rng.integers(1, 4)))
    x_shape = (int(rng.integers(1, 3)), h, w, c)
    attrs = window(padding, stride, dilation, str(rng.choice(ACTIVATIONS)))
    in_q = quant(np.float32(10 ** rng.uniform(-3, 0)), int(rng.integers(-128, 128)))
    channels = out_channels(op_type, w_shape)
    w_q = filter_quant(rng, op_type, channels, bool(rng.integers(0, 2)))
    taps = kh * kw * (c if op_type == "CONV_2D" else 1)
    out_scale = fitting_out_scale(in_q.scale[0], w_q.scale, taps) * 10 ** rng.uniform(-0.7, 0.7)
    out_q = quant(out_scale, int(rng.integers(-128, 128)))
    return x_shape, w_shape, attrs, in_q, out_q, w_q


@pytest.mark.parametrize("op_type", ["CONV_2D", "DEPTHWISE_CONV_2D"])
def test_random_cases_match_litert(op_type):
    rng = np.random.default_rng(20240 + len(op_type))
    for _ in range(60):
        x_shape, w_shape, attrs, in_q, out_q, w_q = random_case(rng, op_type)
        assert not run_case(op_type, rng, x_shape, w_shape, attrs, in_q, out_q, w_q=w_q)


# ---- what was measured --------------------------------------------------------------------

def disputed_rounding_bias() -> np.ndarray:
    """Accumulators on which single and double rounding disagree."""
    in_scale, w_scale, out_scale = np.float32(0.0123), np.float32(0.1), np.float32(1.0)
    real = float(in_scale) * float(w_scale) / float(out_scale)
    m, s = quantize_multiplier(real)
    acc = np.arange(-3000, 3000)
    single = scale_single_rounding(acc, m, s)
    double = conv_int8.scale_double_rounding(acc, m, s)
    return acc[single != double].astype(np.int32)


def bias_only_conv(bias: np.ndarray, in_scale, w_scale, out_scale):
    """A 1x1 CONV_2D on a zero image: every accumulator is a bias value."""
    n = bias.size
    x = np.zeros((1, 1, 1, 1), np.int8)
    w = np.ones((n, 1, 1, 1), np.int8)
    zeros = np.zeros(n, np.int64)
    params = [quant(in_scale), quant(np.full(n, w_scale, np.float32), zeros),
              quant(np.full(n, in_scale * w_scale), zeros)]
    return compare_int8_with_litert("CONV_2D", [x, w, bias], params, [quant(out_scale)], window(),
                                    const={1, 2})


def test_conv_rounds_twice(monkeypatch):
    bias = disputed_rounding_bias()
    assert bias.size >= 4
    bias_only_conv(bias, 0.0123, 0.1, 1.0)
    monkeypatch.setattr(conv_int8, "scale_double_rounding", scale_single_rounding)
    with pytest.raises(AssertionError, match="elements differ"):
        bias_only_conv(bias, 0.0123, 0.1, 1.0)


def float_product_multipliers(op, graph, channels):
    """The rule LiteRT does not use for convolutions: float32 products of the scales."""
    in_scale = np.float32(graph.tensors[op.inputs[0]].quant.scale[0])
    out_scale = np.float32(graph.tensors[op.outputs[0]].quant.scale[0])
    w_scales = np.broadcast_to(np.asarray(graph.tensors[op.inputs[1]].quant.scale, np.float32), (channels,))
    return quantize_multipliers([float(np.float32(in_scale * s)) / float(out_scale) for s in w_scales])


def disputed_multiplier_case(rng):
    """Scales whose double and float32 products give different multipliers, and an
    accumulator where that changes the output."""
    accs = np.arange(-(1 << 18), 1 << 18)
    while True:
        si, sw, so = (np.float32(10 ** rng.uniform(a, b)) for a, b in ((-3, 0), (-3, -1), (-2, 0)))
        double = quantize_multiplier(float(si) * float(sw) / float(so))
        single = quantize_multiplier(float(np.float32(si * sw)) / float(so))
        if double == single:
            continue
        a = conv_int8.scale_double_rounding(accs, *double)
        b = conv_int8.scale_double_rounding(accs, *single)
        hits = np.nonzero((a != b) & (np.abs(a) < 100))[0]
        if hits.size:
            return si, sw, so, accs[hits[:8]].astype(np.int32)


def test_multipliers_use_double_products(monkeypatch):
    rng = np.random.default_rng(1)
    si, sw, so, bias = disputed_multiplier_case(rng)
    bias_only_conv(bias, si, sw, so)
    monkeypatch.setattr(conv_int8, "channel_multipliers", float_product_multipliers)
    with pytest.raises(AssertionError, match="elements differ"):
        bias_only_conv(bias, si, sw, so)


# ---- refusals -----------------------------------------------------------------------------

def run_ours(op_type, inputs, params, out_q, attrs):
    return run_int8_ours(int8_graph(op_type, inputs, params, [out_q], attrs, const={1, 2}), inputs)


def test_asymmetric_filter_is_refused():
    x = np.zeros((1, 3, 3, 1), np.int8)
    w = np.ones((2, 1, 1, 1), np.int8)
    params = [quant(0.1), quant([0.1, 0.1], [0, 4]), quant([0.01, 0.01])]
    with pytest.raises(TocoError, match="symmetric"):
        run_ours("CONV_2D", [x, w, np.zeros(2, np.int32)], params, quant(0.1), window())


def test_scale_count_must_match_channels():
    x = np.zeros((1, 3, 3, 1), np.int8)
    w = np.ones((1, 1, 1, 3), np.int8)
    params = [quant(0.1), quant([0.1, 0.2], [0, 0], 3), quant([0.01, 0.02, 0.03])]
    with pytest.raises(TocoError, match="2 scales for 3 output channels"):
        run_ours("DEPTHWISE_CONV_2D", [x, w, np.zeros(3, np.int32)], params, quant(0.1),
                 dict(window(), depth_multiplier=3))
