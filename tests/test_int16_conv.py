"""16x8 (int16 activations, int8 weights) CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV,
FULLY_CONNECTED and BATCH_MATMUL against LiteRT's reference kernels, element for element:
seeded random cases over geometry, activations, scales four decades apart, int64 biases up to
int64's limits and inputs over int16's whole range; the facts about LiteRT's arithmetic that
were measured rather than read; the preconditions we refuse; and a model TensorFlow's
converter quantized in 16x8 (its op versions, and our interpreter on it)."""
import numpy as np
import pytest

from tests.support.kernel_check import (
    compare_int8_with_litert,
    data,
    forward_size,
    int8_disagreement,
    int8_graph,
    quant,
    run_int8_ours,
    run_one_op,
    window,
)
from tests.support.oracle import litert
from tests.support.quant_models import differing_elements
from toco_py.errors import ConversionError
from toco_py.ops.fixed_point import quantize_multiplier, scale_double_rounding, scale_int64
from toco_py.tflite.reader import read_model
from toco_py.tflite.versions import op_version
from toco_py.tflite.writer import model_bytes

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1", "TANH")
INT64_MAX = np.iinfo(np.int64).max
SEEDS = range(14)


def weight_quant(rng, channels: int, axis: int, per_channel: bool):
    """Symmetric int8 scales spread over four decades, one per channel or one in all."""
    scales = (10.0 ** rng.uniform(-4, 0, channels if per_channel else 1)).astype(np.float32)
    return quant(scales, np.zeros(scales.size, np.int64), axis)


def output_quant(rng, in_scale, w_scales, terms: int, weight_rms: float = 73.0):
    """A scale that puts a typical sum (uniform int16 inputs, rms 18918, times uniform weights,
    rms 73 for int8) near int16's range, within a factor 30 either way: saturated outputs and
    small ones both occur."""
    typical = 18918 * weight_rms * np.sqrt(terms) * float(in_scale) * float(np.median(w_scales))
    return quant(typical / 2 ** 14 * 10.0 ** rng.uniform(-1.5, 1.5))


def bias(rng, channels: int, optional: bool):
    """int64 biases: none (if optional), zero, ordinary, large enough to saturate, or at
    int64's limits (where LiteRT's 64-bit arithmetic wraps)."""
    kind = rng.integers(4)
    if kind == 0:
        return None if optional else np.zeros(channels, np.int64)
    if kind == 3:
        return rng.choice([INT64_MAX, -INT64_MAX - 1, INT64_MAX - 5, 1 << 62, -(1 << 62), 0], channels)
    bound = (1 << 24) if kind == 1 else (1 << 46)
    return rng.integers(-bound, bound + 1, channels, dtype=np.int64)


def weighted_case(op_type, rng, x_shape, w_shape, attrs, channels, axis, terms, out_shape=None):
    """Random int16 input, int8 weights and int64 bias through our kernel and LiteRT's."""
    x = data(rng, x_shape, "int16")
    w = rng.integers(-127, 128, w_shape, dtype=np.int8)
    in_q = quant(10.0 ** rng.uniform(-5, -1))
    w_q = weight_quant(rng, channels, axis, per_channel=rng.random() < 0.7)
    out_q = output_quant(rng, in_q.scale[0], w_q.scale, terms)
    b = bias(rng, channels, optional=op_type != "CONV_2D")  # LiteRT's CONV_2D needs one
    # The bias scale is input scale * weight scale, per tensor if the weights are (LiteRT
    # checks it against the weights' when both are).
    b_q = None if b is None else quant(in_q.scale[0] * w_q.scale, np.zeros(w_q.scale.size, np.int64))
    if op_type == "TRANSPOSE_CONV":
        inputs, params, const = [np.array(out_shape, np.int32), w, x], [None, w_q, in_q], {0, 1, 3}
    else:
        inputs, params, const = [x, w], [in_q, w_q], {1, 2}
    if b is not None:
        inputs.append(b)
        params.append(b_q)
    return int8_disagreement(op_type, inputs, params, [out_q], attrs, const=const, output_dtype="int16")


def conv_geometry(rng, kernel):
    """(input size, stride, dilation, padding) that fit a kernel along one axis."""
    stride, dilation = int(rng.integers(1, 4)), int(rng.integers(1, 3))
    padding = str(rng.choice(["SAME", "VALID"]))
    size = int(rng.integers((kernel - 1) * dilation + 1, (kernel - 1) * dilation + 8))
    return size, stride, dilation, padding


@pytest.mark.parametrize("seed", SEEDS)
def test_conv2d_random(seed):
    rng = np.random.default_rng(seed)
    kh, kw, ci, co = (int(v) for v in rng.integers(1, [4, 4, 6, 6]))
    h, sh, dh, padding = conv_geometry(rng, kh)
    w_, sw, dw, _ = conv_geometry(rng, kw)
    attrs = window(padding, (sh, sw), (dh, dw), str(rng.choice(ACTIVATIONS)))
    n = int(rng.integers(1, 3))
    assert weighted_case("CONV_2D", rng, (n, h, w_, ci), (co, kh, kw, ci), attrs, co, 0, kh * kw * ci) == ""


@pytest.mark.parametrize("seed", SEEDS)
def test_depthwise_conv2d_random(seed):
    rng = np.random.default_rng(100 + seed)
    kh, kw, ci, mult = (int(v) for v in rng.integers(1, [4, 4, 5, 4]))
    h, sh, dh, padding = conv_geometry(rng, kh)
    w_, sw, dw, _ = conv_geometry(rng, kw)
    attrs = window(padding, (sh, sw), (dh, dw), str(rng.choice(ACTIVATIONS)), depth_multiplier=mult)
    n = int(rng.integers(1, 3))
    assert weighted_case("DEPTHWISE_CONV_2D", rng, (n, h, w_, ci), (1, kh, kw, ci * mult), attrs,
                         ci * mult, 3, kh * kw) == ""


@pytest.mark.parametrize("seed", SEEDS)
def test_transpose_conv_random(seed):
    rng = np.random.default_rng(200 + seed)
    kh, kw, ci, co = (int(v) for v in rng.integers(1, [4, 4, 5, 5]))
    sh, sw = (int(v) for v in rng.integers(1, 4, 2))
    padding = str(rng.choice(["SAME", "VALID"]))
    h, w_ = (int(v) for v in rng.integers(1, 5, 2))
    # The output sizes whose forward convolution gives back the input's.
    oh = int(rng.choice([s for s in range(1, 20) if forward_size(s, kh, sh, padding) == h]))
    ow = int(rng.choice([s for s in range(1, 20) if forward_size(s, kw, sw, padding) == w_]))
    n = int(rng.integers(1, 3))
    attrs = {"padding": padding, "stride_h": sh, "stride_w": sw,
             "fused_activation_function": str(rng.choice(ACTIVATIONS))}
    assert weighted_case("TRANSPOSE_CONV", rng, (n, h, w_, ci), (co, kh, kw, ci), attrs, co, 0,
                         kh * kw * ci // (sh * sw) + 1, out_shape=[n, oh, ow, co]) == ""


@pytest.mark.parametrize("seed", SEEDS)
def test_fully_connected_random(seed):
    rng = np.random.default_rng(300 + seed)
    k, o = (int(v) for v in rng.integers(1, [48, 9]))
    lead = tuple(int(v) for v in rng.integers(1, 4, rng.integers(1, 3)))
    attrs = {"fused_activation_function": str(rng.choice(ACTIVATIONS[:4])),
             "keep_num_dims": bool(rng.random() < 0.5)}
    assert weighted_case("FULLY_CONNECTED", rng, lead + (k,), (o, k), attrs, o, 0, k) == ""


@pytest.mark.parametrize("seed", SEEDS)
def test_batch_matmul_random(seed):
    """int16 x int16 (two activations) and int16 x constant int8 weights."""
    rng = np.random.default_rng(400 + seed)
    m, k, n = (int(v) for v in rng.integers(1, [6, 20, 6]))
    adj_x, adj_y = bool(rng.random() < 0.5), bool(rng.random() < 0.5)
    batch_a, batch_b = [(int(rng.integers(1, 3)),) * int(rng.integers(0, 2)) for _ in range(2)]
    a_shape = batch_a + ((k, m) if adj_x else (m, k))
    b_shape = batch_b + ((n, k) if adj_y else (k, n))
    weights = seed % 2 == 1
    a, b = data(rng, a_shape, "int16"), data(rng, b_shape, "int8" if weights else "int16")
    a_q, b_q = quant(10.0 ** rng.uniform(-5, -1)), quant(10.0 ** rng.uniform(-4, 0))
    out_q = output_quant(rng, a_q.scale[0], b_q.scale, k, 73.0 if weights else 18918.0)
    assert int8_disagreement("BATCH_MATMUL", [a, b], [a_q, b_q], [out_q], {"adj_x": adj_x, "adj_y": adj_y},
                             const={1} if weights else None, output_dtype="int16") == ""


# ---- what was measured rather than read ---------------------------------------------------

def test_fully_connected_requantizes_in_double_rounding_half_away():
    """The reference FULLY_CONNECTED requantizes round(double(sum) * double scale), ties away
    from zero, where a fixed-point multiplier rounds them up: with a real multiplier of 0.5,
    odd negative sums tell the two apart."""
    x = np.array([[-5], [-3], [-1], [1], [3], [5]], np.int16)
    w = np.ones((1, 1), np.int8)
    theirs = compare_int8_with_litert("FULLY_CONNECTED", [x, w], [quant(0.5), quant(1.0)], [quant(1.0)],
                                      {"fused_activation_function": "NONE"}, const={1},
                                      output_dtype="int16")[0]
    assert theirs.ravel().tolist() == [-3, -2, -1, 1, 2, 3]
    fixed = scale_int64(x.ravel(), *quantize_multiplier(0.5))
    assert fixed.tolist() != theirs.ravel().tolist()


def test_conv_requantizes_with_the_64_bit_multiplier():
    """The 16x8 convolutions requantize with MultiplyByQuantizedMultiplier(int64_t): a Q15
    multiplier, one rounding. The int8 kernels' gemmlowp rounding (Q31, two roundings) gives
    other results on these inputs, so the agreement below depends on which one we use."""
    x = np.arange(-32768, 32768, 97, dtype=np.int16).reshape(1, 1, -1, 1)
    w, b = np.ones((1, 1, 1, 1), np.int8), np.zeros(1, np.int64)
    in_q, w_q, b_q, out_q = quant(0.001), quant(1.0), quant(0.001), quant(0.0012345)
    theirs = compare_int8_with_litert("CONV_2D", [x, w, b], [in_q, w_q, b_q], [out_q], window(),
                                      const={1, 2}, output_dtype="int16")[0]
    gemmlowp = scale_double_rounding(x.ravel(), *quantize_multiplier(float(np.float32(0.001))
                                                                     / float(np.float32(0.0012345))))
    assert np.any(theirs.ravel() != np.clip(gemmlowp, -32768, 32767))


@pytest.mark.parametrize("depth_multiplier", [None, 1, 3])
def test_depthwise_multiplier_comes_from_the_shapes(depth_multiplier):
    """2 output channels per input channel, whatever the option says (absent, or wrong)."""
    rng = np.random.default_rng(7)
    x, w = data(rng, (1, 4, 4, 2), "int16"), rng.integers(-127, 128, (1, 3, 3, 4), dtype=np.int8)
    attrs = window("SAME") if depth_multiplier is None else window("SAME", depth_multiplier=depth_multiplier)
    params = [quant(0.001), quant(np.full(4, 0.01), np.zeros(4), 3)]
    assert int8_disagreement("DEPTHWISE_CONV_2D", [x, w], params, [quant(0.02)], attrs, const={1},
                             output_dtype="int16") == ""


def test_fully_connected_sum_beyond_int32_gives_int32_min():
    """A sum whose scaled value leaves int32's range is cast to INT32_MIN (x86's cvttsd2si),
    so a huge positive bias clamps to int16's minimum: we reproduce it rather than saturate."""
    x, w = np.zeros((1, 2), np.int16), np.ones((2, 2), np.int8)
    b = np.array([1 << 50, -(1 << 50)], np.int64)
    params = [quant(0.01), quant(np.ones(2), np.zeros(2)), quant(np.full(2, 0.01), np.zeros(2))]
    theirs = compare_int8_with_litert("FULLY_CONNECTED", [x, w, b], params, [quant(0.01)],
                                      {"fused_activation_function": "NONE"}, const={1, 2},
                                      output_dtype="int16")[0]
    assert theirs.ravel().tolist() == [-32768, -32768]


# ---- refused preconditions ----------------------------------------------------------------

def conv_inputs(op_type, bias_dtype=np.int64):
    """A small valid 16x8 op of each type: (inputs, params, attrs, const)."""
    rng = np.random.default_rng(11)
    x = data(rng, (1, 3, 3, 2), "int16")
    if op_type == "FULLY_CONNECTED":
        x, w, attrs, axis = x.reshape(9, 2), rng.integers(-127, 128, (2, 2), dtype=np.int8), {}, 0
    elif op_type == "DEPTHWISE_CONV_2D":
        w, attrs, axis = rng.integers(-127, 128, (1, 2, 2, 2), dtype=np.int8), window(depth_multiplier=1), 3
    else:
        w, attrs, axis = rng.integers(-127, 128, (2, 2, 2, 2), dtype=np.int8), window(), 0
    b = np.array([5, -5], bias_dtype)
    w_q, b_q = quant(np.full(2, 0.01), np.zeros(2), axis), quant(np.full(2, 1e-5), np.zeros(2))
    if op_type == "TRANSPOSE_CONV":
        attrs = {"padding": "VALID", "stride_h": 1, "stride_w": 1}
        return [np.array([1, 4, 4, 2], np.int32), w, x, b], [None, w_q, quant(0.001), b_q], attrs, {0, 1, 3}
    return [x, w, b], [quant(0.001), w_q, b_q], attrs, {1, 2}


WEIGHTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED")


def refusal(op_type, inputs, params, out_q, attrs, const) -> str:
    g = int8_graph(op_type, inputs, params, [out_q], attrs, const, output_dtype="int16")
    with pytest.raises(ConversionError, match=op_type) as err:
        run_int8_ours(g, inputs)
    return str(err.value)


@pytest.mark.parametrize("op_type", WEIGHTED)
def test_int32_bias_refused(op_type):
    inputs, params, attrs, const = conv_inputs(op_type, np.int32)
    assert "int64" in refusal(op_type, inputs, params, quant(0.02), attrs, const)


@pytest.mark.parametrize("op_type", ("CONV_2D", "FULLY_CONNECTED"))
def test_int32_bias_is_misread_by_litert(op_type):
    """Why int32 is refused though LiteRT's Prepare accepts it for these: without the
    quantized_bias_type option, which our writer never stores, Eval reads the bias as int64."""
    as32 = conv_inputs(op_type, np.int32)
    as64 = conv_inputs(op_type)
    outputs = []
    for inputs, params, attrs, const in (as32, as64):
        g = int8_graph(op_type, inputs, params, [quant(0.02)], attrs, const, output_dtype="int16")
        outputs.append(run_one_op(g, inputs, 1)[0])
    assert np.any(outputs[0] != outputs[1])


@pytest.mark.parametrize("op_type", WEIGHTED)
@pytest.mark.parametrize("where", ("input", "output"))
def test_nonzero_activation_zero_point_refused(op_type, where):
    inputs, params, attrs, const = conv_inputs(op_type)
    out_q = quant(0.02)
    if where == "output":
        out_q = quant(0.02, 3)
    else:
        k = 2 if op_type == "TRANSPOSE_CONV" else 0
        params[k] = quant(0.001, -4)
    assert "zero point 0" in refusal(op_type, inputs, params, out_q, attrs, const)
    # LiteRT refuses it too (Prepare's TF_LITE_ENSURE_EQ), so this is no stricter than the runtime.
    with pytest.raises(RuntimeError):
        litert(model_bytes(int8_graph(op_type, inputs, params, [out_q], attrs, const, output_dtype="int16")),
               reference=True)


@pytest.mark.parametrize("op_type", WEIGHTED)
def test_asymmetric_weights_refused(op_type):
    inputs, params, attrs, const = conv_inputs(op_type)
    k = 1
    params[k] = quant(params[k].scale, np.full(2, 3), params[k].axis)
    assert "symmetric" in refusal(op_type, inputs, params, quant(0.02), attrs, const)


def test_conv_without_bias_refused():
    inputs, params, attrs, const = conv_inputs("CONV_2D")
    assert "bias" in refusal("CONV_2D", inputs[:2], params[:2], quant(0.02), attrs, {1})
    with pytest.raises(RuntimeError, match="has_bias"):
        litert(model_bytes(int8_graph("CONV_2D", inputs[:2], params[:2], [quant(0.02)], attrs, {1},
                                      output_dtype="int16")), reference=True)


def test_batch_matmul_zero_point_refused():
    rng = np.random.default_rng(3)
    a, b = data(rng, (2, 3), "int16"), data(rng, (3, 2), "int16")
    assert "zero point 0" in refusal("BATCH_MATMUL", [a, b], [quant(0.01), quant(0.01, 2)], quant(0.1), {}, None)


# ---- a model TensorFlow's converter quantized in 16x8 -------------------------------------

@pytest.fixture(scope="module")
def tf_16x8_model() -> bytes:
    """Conv (fused ReLU), dilated depthwise conv, strided transpose conv, a dense layer on 4-D
    activations (FULLY_CONNECTED keeping its dims) and a matmul of two activations, with
    random non-zero biases, converted by TF with EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    def biases():
        return tf.keras.initializers.RandomNormal(stddev=0.3, seed=0)
    inp = tf.keras.Input((6, 6, 3), batch_size=1)
    x = tf.keras.layers.Conv2D(4, 3, padding="same", activation="relu", bias_initializer=biases())(inp)
    x = tf.keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", dilation_rate=2,
                                        bias_initializer=biases())(x)
    x = tf.keras.layers.Conv2DTranspose(3, 3, strides=2, padding="same", bias_initializer=biases())(x)
    y = tf.keras.layers.Dense(5, bias_initializer=biases())(x)
    z = tf.keras.layers.Lambda(lambda t: tf.matmul(t, t, transpose_b=True))(y)
    converter = tf.lite.TFLiteConverter.from_keras_model(tf.keras.Model(inp, [y, z]))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    converter.representative_dataset = lambda: ([rng.normal(size=(1, 6, 6, 3)).astype(np.float32)]
                                                for _ in range(8))
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    return converter.convert()


def test_op_versions_match_tensorflows_16x8(tf_16x8_model):
    model = read_model(tf_16x8_model)
    graph = model.main
    written = {op.type: (version, op_version(graph, op))
               for op, version in zip(graph.ops, model.op_versions[0])}
    mine = {"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED", "BATCH_MATMUL"}
    assert mine <= written.keys()
    assert {t: v for t, v in written.items() if t in mine and v[0] != v[1]} == {}


def test_fully_connected_16x8_version_without_keep_num_dims():
    """What TF wrote for a Dense layer after a Flatten (measured alongside the model above)."""
    inputs, params, _, const = conv_inputs("FULLY_CONNECTED")
    graph = int8_graph("FULLY_CONNECTED", inputs, params, [quant(0.02)], {}, const, output_dtype="int16")
    assert op_version(graph, graph.ops[0]) == 4


def test_tf_16x8_model_bit_exact(tf_16x8_model):
    graph = read_model(tf_16x8_model).main
    assert {graph.tensors[op.outputs[0]].dtype for op in graph.ops if op.type == "CONV_2D"} == {"int16"}
    assert differing_elements(tf_16x8_model) == 0
