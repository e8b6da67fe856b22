"""16x8 activations, SOFTMAX, unary math and QUANTIZE / DEQUANTIZE against LiteRT's reference
kernels, element for element. Unary ops see every int16 value at once (a 65536-element input);
seeded property tests draw softmax shapes, betas and scales, and unary ops' scales and attributes,
at random. Also: the params LiteRT refuses, the ops it does not run on int16, and a 16x8 model
made by TF's converter.
"""
import numpy as np
import pytest

from tests.support.kernel_check import int8_disagreement, int8_graph, quant, run_int8_ours, run_one_op
from tests.support.oracle import freeze, litert
from toco_py.errors import ConversionError
from toco_py.interpreter import Interpreter
from toco_py.ops import REGISTRY
from toco_py.tflite.reader import read_model

EVERY_INT16 = np.arange(-32768, 32768, dtype=np.int64).astype(np.int16).reshape(256, 256)
NON_NEGATIVE = np.arange(0, 32768, dtype=np.int16).reshape(128, 256)
Q015 = quant(1 / 32768)
# Input scales: tiny, typical, the power-of-two scales where LOGISTIC / TANH take their
# shortcut (2^-12; TANH also 2^-11), scales just off them (within CheckedLog2's tolerance, so
# still shortcut, where the general path would differ), and large ones that saturate.
SCALES = {"tiny": 1e-6, "typical": 3e-4, "2^-12": 2.0 ** -12, "2^-11": 2.0 ** -11,
          "2^-12 off": 2.0 ** -12 * 1.0001, "2^-11 off": 2.0 ** -11 * 1.0003, "2^-10": 2.0 ** -10,
          "large": 0.01, "huge": 3.0}


def _unary(op, in_scale, out_q, attrs=None, x=EVERY_INT16) -> str:
    return int8_disagreement(op, [x], [quant(in_scale)], [out_q], attrs or {}, output_dtype="int16")


@pytest.mark.parametrize("scale", SCALES.values(), ids=SCALES.keys())
@pytest.mark.parametrize("op", ["LOGISTIC", "TANH"])
def test_logistic_tanh(op, scale):
    assert not _unary(op, scale, Q015)


@pytest.mark.parametrize("out_scale", [3e-4, 1e-3, 2e-5, 0.5], ids=["same", "coarser", "finer", "huge"])
@pytest.mark.parametrize("op", ["RELU", "RELU6"])
def test_relu(op, out_scale):
    assert not _unary(op, 3e-4, quant(out_scale))


@pytest.mark.parametrize("alpha", [0.2, 0.0, 1.7, -0.3])
@pytest.mark.parametrize("out_scale", [3e-4, 1e-4])
def test_leaky_relu(alpha, out_scale):
    assert not _unary("LEAKY_RELU", 3e-4, quant(out_scale), {"alpha": alpha})


@pytest.mark.parametrize("alpha_shape", [(256,), (1, 256), (256, 256)], ids=str)
def test_prelu_int8_alpha(alpha_shape):
    alpha = np.random.default_rng(1).integers(-128, 128, alpha_shape).astype(np.int8)
    assert not int8_disagreement("PRELU", [EVERY_INT16, alpha], [quant(3e-4), quant(0.01, 5)],
                                 [quant(2e-4)], {}, const={1}, output_dtype="int16")


@pytest.mark.parametrize("scale", [3e-4, 1e-3, 0.1], ids=["typical", "large", "huge"])
@pytest.mark.parametrize("approximate", [False, True])
def test_gelu(scale, approximate):
    assert not _unary("GELU", scale, quant(scale / 2), {"approximate": approximate})


def test_gelu_zero_points():
    """LiteRT's int16 GELU checks no zero point: its table shifts with them."""
    assert not int8_disagreement("GELU", [EVERY_INT16], [quant(3e-4, 1200)], [quant(2e-4, -3000)],
                                 {"approximate": False}, output_dtype="int16")


RANDOM_OPS = ["LOGISTIC", "TANH", "GELU", "EXP", "LOG", "RSQRT", "SQRT", "ABS", "NEG", "RELU", "RELU6",
              "LEAKY_RELU"]


@pytest.mark.parametrize("seed", range(4))
def test_random_params(seed):
    """Seeded draws of op, input and output scales (log-uniform) and attributes, every input."""
    rng = np.random.default_rng(100 + seed)
    problems = []
    for _ in range(15):
        op = str(rng.choice(RANDOM_OPS))
        in_scale = float(10 ** rng.uniform(-7, 0))
        out_q = Q015 if op in ("LOGISTIC", "TANH") else quant(float(10 ** rng.uniform(-6, -1)))
        attrs = {"alpha": float(rng.uniform(-1, 2))} if op == "LEAKY_RELU" else (
            {"approximate": bool(rng.integers(2))} if op == "GELU" else {})
        x = NON_NEGATIVE if op in ("SQRT", "RSQRT") else EVERY_INT16
        problem = _unary(op, in_scale, out_q, attrs, x)
        if problem:
            problems.append(f"{problem} (input scale {in_scale:.6g}, {out_q}, {attrs})")
    assert not problems, problems


# (op, input params, output params, attrs): models LiteRT refuses at Prepare.
REFUSED = {
    "RELU input zero point": ("RELU", quant(3e-4, 5), quant(3e-4)),
    "LEAKY_RELU output zero point": ("LEAKY_RELU", quant(3e-4), quant(3e-4, -3)),
    "LOGISTIC output scale": ("LOGISTIC", quant(3e-4), quant(1 / 16384)),
    "LOGISTIC output zero point": ("LOGISTIC", quant(3e-4), quant(1 / 32768, 1)),
    "TANH output scale": ("TANH", quant(3e-4), quant(1e-4)),
    "TANH input zero point": ("TANH", quant(3e-4, 7), Q015),
    "SOFTMAX output scale": ("SOFTMAX", quant(3e-4), quant(1 / 16384)),
    "SOFTMAX input zero point": ("SOFTMAX", quant(3e-4, 2), Q015),
    "ABS input zero point": ("ABS", quant(3e-4, 2), quant(3e-4)),
    "SQRT output zero point": ("SQRT", quant(3e-4), quant(3e-4, 2)),
    "EXP input zero point": ("EXP", quant(3e-4, 2), quant(3e-4)),
    "LOG output zero point": ("LOG", quant(3e-4), quant(3e-4, 2)),
    "RSQRT input zero point": ("RSQRT", quant(3e-4, -2), quant(3e-4)),
}


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_refused_params_fail_like_litert(case):
    op, in_q, out_q = case
    g = int8_graph(op, [EVERY_INT16], [in_q], [out_q], {}, output_dtype="int16")
    with pytest.raises(ConversionError, match=op):
        run_int8_ours(g, [EVERY_INT16])
    with pytest.raises((RuntimeError, ValueError)):
        run_one_op(g, [EVERY_INT16], 1)


def test_prelu_needs_int8_alpha():
    """LiteRT's int16 PRELU reads alpha's bytes as int8 whatever its type: an int16 alpha would
    be misread, so it is refused."""
    alpha = np.full((256,), 3, np.int16)
    g = int8_graph("PRELU", [EVERY_INT16, alpha], [quant(3e-4), quant(0.01)], [quant(3e-4)],
                   {}, const={1}, output_dtype="int16")
    with pytest.raises(ConversionError, match="PRELU"):
        run_int8_ours(g, [EVERY_INT16, alpha])


@pytest.mark.parametrize("seed", range(12))
def test_softmax_random(seed):
    """Random shapes (rows up to 300 long), betas and input scales; inputs over the whole int16
    range or bunched near each row's maximum, where the sum of exponentials grows."""
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(1, 5, rng.integers(0, 3))) + (int(rng.integers(1, 300)),)
    beta = float(rng.choice([1.0, 0.5, 2.0, rng.uniform(0.01, 5)]))
    scale = float(10 ** rng.uniform(-6, 0))
    low = -32768 if seed % 2 else int(rng.integers(-32768, 32767))
    x = rng.integers(low, 32768, shape).astype(np.int16)
    assert not int8_disagreement("SOFTMAX", [x], [quant(scale)], [Q015], {"beta": beta},
                                 output_dtype="int16")


def test_softmax_every_value():
    """Each row holds the whole int16 range: every difference from the maximum."""
    for scale in (1e-5, 3e-4, 0.01):
        assert not int8_disagreement("SOFTMAX", [EVERY_INT16.reshape(1, -1)], [quant(scale)], [Q015],
                                     {"beta": 1.0}, output_dtype="int16")



@pytest.mark.parametrize("scales", [(3e-4, 3e-4), (3e-4, 1e-4), (1e-3, 5e-3)],
                         ids=["same", "finer", "coarser"])
@pytest.mark.parametrize("op", ["ABS", "NEG"])
def test_abs_neg(op, scales):
    assert not _unary(op, scales[0], quant(scales[1]))


@pytest.mark.parametrize("scales", [(3e-4, 1e-3), (1e-5, 1e-4), (0.01, 5e-4)], ids=str)
def test_sqrt(scales):
    assert not _unary("SQRT", scales[0], quant(scales[1]), x=NON_NEGATIVE)


@pytest.mark.parametrize("scales", [(3e-4, 3e-4), (1e-5, 0.05), (0.01, 1e-5)], ids=str)
def test_rsqrt(scales):
    assert not _unary("RSQRT", scales[0], quant(scales[1]), x=NON_NEGATIVE)


# (0.01, 1e-3): EXP overflows float above 88.7, its table holds NaN there, read as 0.
@pytest.mark.parametrize("scales", [(1e-4, 1e-4), (3e-4, 2e-3), (1e-3, 1e-5), (0.01, 1e-3)], ids=str)
@pytest.mark.parametrize("op", ["EXP", "LOG"])
def test_exp_log(op, scales):
    assert not _unary(op, scales[0], quant(scales[1]))


@pytest.mark.parametrize("op", ["SQRT", "RSQRT"])
def test_negative_input_fails_like_litert(op):
    g = int8_graph(op, [EVERY_INT16], [quant(3e-4)], [quant(3e-4)], {}, output_dtype="int16")
    with pytest.raises(ConversionError, match=op):
        run_int8_ours(g, [EVERY_INT16])
    with pytest.raises(RuntimeError):
        run_one_op(g, [EVERY_INT16], 1)


# ----- QUANTIZE and DEQUANTIZE -----

def _floats(rng) -> np.ndarray:
    """Values around the int16 grid of scale 1e-3: ties, near-ties, beyond the int16 range. Not
    beyond int32 once divided by the scale: LiteRT's static_cast<int32_t> of those is undefined
    (x86 gives INT32_MIN, so +inf becomes -32768; ARM saturates, as we do)."""
    grid = np.arange(-33000, 33000, 7) * 1e-3
    return np.concatenate([grid, grid + 5e-4, grid + 4.9999e-4, rng.normal(0, 40, 2000),
                           [0.0, -0.0, 1e3, -1e3]]).astype(np.float32)


@pytest.mark.parametrize("params", [(1e-3, 0), (1e-3, 100), (3.7e-5, -2000)], ids=str)
def test_quantize_float_to_int16(params):
    x = _floats(np.random.default_rng(0))
    assert not int8_disagreement("QUANTIZE", [x], [None], [quant(*params)], {"output_type": "int16"},
                                 output_dtype="int16")


def test_quantize_float_to_int16_per_channel():
    x = _floats(np.random.default_rng(1))[:30000].reshape(100, 3, 100)
    q = quant([1e-3, 2.5e-4, 0.02], [0, 7, -300], axis=1)
    assert not int8_disagreement("QUANTIZE", [x], [None], [q], {"output_type": "int16"},
                                 output_dtype="int16")


REQUANTIZATIONS = {  # (input type, input params, output type, output params)
    "int16 -> int16 finer": ("int16", (1e-3, 0), "int16", (3e-4, 0)),
    "int16 -> int16 coarser": ("int16", (1e-3, 0), "int16", (7e-3, 0)),
    "int16 -> int16 same": ("int16", (1e-3, 0), "int16", (1e-3, 0)),
    "int16 -> int8": ("int16", (1e-3, 0), "int8", (0.1, -5)),
    "int16 -> int8 saturating": ("int16", (1e-3, 0), "int8", (0.02, 100)),
    "int8 -> int16": ("int8", (0.05, 3), "int16", (1e-3, 0)),
    "int8 -> int16 coarser": ("int8", (0.05, -128), "int16", (0.3, 0)),
    "uint8 -> int16": ("uint8", (0.05, 130), "int16", (2e-4, 0)),
}


@pytest.mark.parametrize("case", REQUANTIZATIONS.values(), ids=REQUANTIZATIONS.keys())
def test_requantize(case):
    src, in_params, dst, out_params = case
    info = np.iinfo(src)
    x = np.arange(info.min, info.max + 1, dtype=np.int64).astype(src)
    assert not int8_disagreement("QUANTIZE", [x], [quant(*in_params)], [quant(*out_params)],
                                 {"output_type": dst}, output_dtype=dst)


def test_int16_to_int16_requantize_needs_zero_points_0():
    g = int8_graph("QUANTIZE", [EVERY_INT16], [quant(1e-3, 4)], [quant(2e-3)], {"output_type": "int16"},
                   output_dtype="int16")
    with pytest.raises(ConversionError, match="QUANTIZE"):
        run_int8_ours(g, [EVERY_INT16])
    with pytest.raises(RuntimeError):
        run_one_op(g, [EVERY_INT16], 1)


@pytest.mark.parametrize("scale", [1e-3, 3.7e-5, 2.5])
def test_dequantize_int16(scale):
    assert not float_disagreement_of_dequantize(scale, 0)


def float_disagreement_of_dequantize(scale, zero) -> str:
    g = int8_graph("DEQUANTIZE", [EVERY_INT16], [quant(scale, zero)], [None])
    ours, = run_int8_ours(g, [EVERY_INT16])
    theirs, = run_one_op(g, [EVERY_INT16], 1)
    bad = ours != theirs  # both scale * (q - zero) in double, rounded once to float32
    return f"{int(bad.sum())} of {bad.size} differ" if bad.any() else ""


def test_dequantize_int16_needs_zero_point_0():
    g = int8_graph("DEQUANTIZE", [EVERY_INT16], [quant(1e-3, 3)], [None])
    with pytest.raises(ConversionError, match="DEQUANTIZE"):
        run_int8_ours(g, [EVERY_INT16])
    with pytest.raises(RuntimeError):
        run_one_op(g, [EVERY_INT16], 1)


@pytest.mark.parametrize("op", ["RELU_N1_TO_1", "RELU_0_TO_1", "HARD_SWISH", "ELU", "L2_NORMALIZATION",
                                "LOG_SOFTMAX"])
def test_ops_litert_does_not_run_on_int16_have_no_16x8_kernel(op):
    """The module docstrings' list of what LiteRT's reference resolver refuses on int16."""
    assert REGISTRY[op].int8_kernel is not None and REGISTRY[op].int16_kernel is None
    g = int8_graph(op, [EVERY_INT16], [quant(3e-4)], [quant(1 / 32768)], {}, output_dtype="int16")
    with pytest.raises((RuntimeError, ValueError)):
        run_one_op(g, [EVERY_INT16], 1)


def test_tf_converters_16x8_model():
    """TF's converter (EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8) picks the
    params of a model of every op here it quantizes to 16x8; our interpreter runs the file as
    LiteRT's reference kernels do."""
    import tensorflow as tf

    v1 = tf.compat.v1

    def build():
        x = v1.placeholder(tf.float32, (4, 64), name="x")
        ops = {"tanh": tf.tanh(x), "sigmoid": tf.sigmoid(x), "relu": tf.nn.relu(x), "relu6": tf.nn.relu6(x),
               "leaky": tf.nn.leaky_relu(x, 0.1), "softmax": tf.nn.softmax(x), "exp": tf.exp(x),
               "abs": tf.abs(x), "log": tf.math.log(tf.abs(x)), "rsqrt": tf.math.rsqrt(tf.abs(x))}
        return {k: tf.identity(v, name=k) for k, v in ops.items()}

    pb, names = freeze(build)
    rng = np.random.default_rng(0)
    samples = [rng.normal(0, 2, (4, 64)).astype(np.float32) for _ in range(8)]
    graph = tf.Graph()
    with graph.as_default():
        gd = v1.GraphDef()
        gd.ParseFromString(pb)
        tf.import_graph_def(gd, name="")
        with v1.Session(graph=graph) as sess:
            x = graph.get_tensor_by_name("x:0")
            outs = [graph.get_tensor_by_name(n + ":0") for n in names.values()]
            conv = v1.lite.TFLiteConverter.from_session(sess, [x], outs)
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = lambda: ([s] for s in samples)
            conv.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            model = conv.convert()
    g = read_model(model).main
    assert {op.type for op in g.ops} >= {"TANH", "LOGISTIC", "SOFTMAX", "EXP", "LOG", "RSQRT"}
    names_ = list(g.tensors)
    lite = litert(model, reference=True)
    feed = rng.normal(0, 3, (4, 64)).astype(np.float32)
    lite.set_tensor(names_.index(g.inputs[0]), feed)
    lite.invoke()
    ours = Interpreter(g).run({g.inputs[0]: feed})
    for name in g.outputs:
        assert np.array_equal(ours[name], lite.get_tensor(names_.index(name))), name
