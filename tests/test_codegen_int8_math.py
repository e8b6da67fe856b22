"""int8 C kernels of the elementwise math, activations and softmaxes, bit for bit against the
reference interpreter (itself bit-exact with LiteRT's reference kernels).

To keep the compiler runs few, each test puts many one-op cases side by side in one graph
(each case with its own inputs, parameters and output), written to .tflite bytes and read
back, then generated, built with -Werror -pedantic, run and compared exactly. Edge cases feed
every int8 value, or every pair of int8 values (a 256 x 1 input against a 1 x 256 one).
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.support.codegen_check import check_bundle, roundtrip
from tests.support.kernel_check import quant
from toco_py.codegen.bundle import generate_bundle
from toco_py.codegen.emitter import generate
from toco_py.codegen.lowering import CodegenError
from toco_py.codegen.verify import VerifyError, build, run_bundle
from toco_py.ir import Graph, Op, Tensor, const_tensor
from toco_py.passes.propagate_shapes import propagate_shapes

COLUMN = np.arange(-128, 128, dtype=np.int8).reshape(256, 1)
ROW = COLUMN.reshape(1, 256)
EVERY_INT8 = np.arange(-128, 128, dtype=np.int8).reshape(4, 64)
ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]
COMPARISONS = ["LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL"]
LOGISTIC_OUT, TANH_OUT, SOFTMAX_OUT = (1 / 256, -128), (1 / 128, 0), (1 / 256, -128)
L2_OUT, LOG_SOFTMAX_OUT = (1 / 128, 0), (16 / 256, 127)
SANITIZERS = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

# (input 1, input 2, output) as (scale, zero point), as in test_int8_elementwise.py.
ARITHMETIC_PARAMS = [
    ((0.05, 0), (0.05, 0), (0.1, 0)), ((0.05, 3), (0.13, -20), (0.1, 5)),
    ((0.02, -128), (0.07, 127), (0.09, -128)), ((0.02, 127), (0.07, -128), (0.09, 127)),
    ((1e-6, 10), (3e-7, -5), (2e-6, 0)), ((40.0, 0), (90.0, 7), (150.0, -3)),
    ((1e-4, 0), (10.0, 0), (20.0, 0)), ((0.5, 0), (0.5, 0), (0.01, 0)),
]


class Case:
    """One op: integer inputs with their (scale, zero point) (None: not quantized), the
    output's params (None: a bool output), options and the constant input indices."""

    def __init__(self, op: str, inputs: list, in_params: list, out_params, attrs=None, const=()):
        self.op, self.inputs, self.in_params = op, [np.asarray(x) for x in inputs], in_params
        self.out_params, self.attrs, self.const = out_params, dict(attrs or {}), set(const)


def cases_graph(cases: list[Case]) -> tuple[Graph, dict[str, np.ndarray]]:
    """All cases side by side in one graph (read back from .tflite bytes), and its feeds."""
    g, feeds = Graph(), {}
    for k, case in enumerate(cases):
        names = []
        for i, (value, params) in enumerate(zip(case.inputs, case.in_params)):
            name = f"c{k}_in{i}"
            if i in case.const:
                t = g.add_tensor(const_tensor(name, value))
            else:
                t = g.add_tensor(Tensor(name, tuple(value.shape), value.dtype.name))
                g.inputs.append(name)
                feeds[name] = value
            t.quant = None if params is None else quant(*params)
            names.append(name)
        g.add_tensor(Tensor(f"c{k}_out"))
        g.add_op(Op(case.op, names, [f"c{k}_out"], case.attrs, f"c{k}"))
        g.outputs.append(f"c{k}_out")
    propagate_shapes(g)
    for k, case in enumerate(cases):
        if case.out_params is not None:
            out = g.tensors[f"c{k}_out"]
            out.dtype, out.quant = "int8", quant(*case.out_params)
    return roundtrip(g), feeds


def check_cases(cases: list[Case], tmp_path, **options) -> None:
    graph, feeds = cases_graph(cases)
    check_bundle(graph, tmp_path, feeds=feeds, **options)


def pairs(op: str, params, attrs=None, bool_out: bool = False) -> Case:
    """Every (a, b) int8 pair through the op."""
    in1, in2, out = params
    return Case(op, [COLUMN, ROW], [in1, in2], None if bool_out else out, attrs)


def unary(op: str, in_params, out_params, attrs=None, x=EVERY_INT8) -> Case:
    return Case(op, [x], [in_params], out_params, attrs)


# ---- binary ops ---------------------------------------------------------------------------

ARITHMETIC_OPS = ["ADD", "SUB", "MUL"]


def arithmetic_cases(op: str) -> list[Case]:
    return [pairs(op, p, {"fused_activation_function": act})
            for p in ARITHMETIC_PARAMS for act in ACTIVATIONS]


@pytest.mark.parametrize("op", ARITHMETIC_OPS)
def test_arithmetic_every_input_pair(op, tmp_path):
    check_cases(arithmetic_cases(op), tmp_path)


def squared_difference_maximum_minimum_cases() -> list[Case]:
    # SQUARED_DIFFERENCE's output must cover (2 * max input scale)^2 / 2^14 or LiteRT aborts.
    cases = [pairs("SQUARED_DIFFERENCE", (a, b, (max(a[0], b[0]) ** 2 * 255.0, -128)))
             for a, b, _ in ARITHMETIC_PARAMS[:-1]]
    cases += [pairs(op, p) for op in ("MAXIMUM", "MINIMUM")
              for p in [((0.05, 3), (0.05, 3), (0.05, 3)), ((0.05, 3), (0.2, -9), (0.1, 0))]]
    # sub.cc's output multiplier above one (tiny output scales): LiteRT's x86-64 quirk.
    cases += [pairs("SUB", ((1.0, 0), (1.0, 0), (s, 0))) for s in (1e-6, 1e-8, 3e-9)]
    return cases


def test_squared_difference_maximum_minimum_every_input_pair(tmp_path):
    check_cases(squared_difference_maximum_minimum_cases(), tmp_path)


def comparison_cases() -> list[Case]:
    params = [((0.05, 3), (0.05, 3)), ((0.05, 3), (0.13, -20)), ((2.5, 0), (0.3, 127)),
              ((1e-5, -128), (3e-5, 60)), ((300.0, 5), (700.0, -5))]  # incl. scales above one
    return [pairs(op, (a, b, None), bool_out=True) for op in COMPARISONS for a, b in params]


def test_comparisons_every_input_pair(tmp_path):
    check_cases(comparison_cases(), tmp_path)


BROADCAST_SHAPES = [
    ((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((4,), (2, 3, 4)), ((2, 1, 4), (3, 1)),
    ((1,), (2, 2, 2, 2, 3)), ((2, 1, 3, 1, 2, 2), (1, 2, 1, 2, 1, 2)), ((), (3, 2)), ((3, 2), ()),
    ((5, 1, 1), (1, 1, 7)),
]


def broadcast_cases() -> list[Case]:
    rng = np.random.default_rng(3)
    cases = []
    for shapes in BROADCAST_SHAPES:
        for op in ["ADD", "SUB", "MUL", "SQUARED_DIFFERENCE", "MAXIMUM", "GREATER", "PRELU"]:
            if op == "PRELU" and np.broadcast_shapes(*shapes) != shapes[0]:
                continue  # LiteRT's PRELU keeps the input's shape
            a, b = (rng.integers(-128, 128, s).astype(np.int8) for s in shapes)
            out = None if op == "GREATER" else (1.5 if op == "SQUARED_DIFFERENCE" else 0.1, 4)
            cases.append(Case(op, [a, b], [(0.05, 3), (0.07, -2)], out))
    # A constant second input (a bias), with a fused RELU.
    cases.append(Case("ADD", [EVERY_INT8, np.arange(64, dtype=np.int8) - 30], [(0.03, -7), (0.01, 2)],
                      (0.04, 0), {"fused_activation_function": "RELU"}, const={1}))
    return cases


def test_broadcast_shapes_up_to_rank_6(tmp_path):
    check_cases(broadcast_cases(), tmp_path)


def prelu_cases() -> list[Case]:
    rng = np.random.default_rng(5)
    cases = []
    for x_shape, alpha_shape in [((4, 64), (64,)), ((2, 2, 64), (1, 1, 64)), ((4, 64), (4, 64)),
                                 ((2, 2, 64), (2, 1, 1)), ((4, 64), ())]:
        for alpha_params in [(0.01, 4), (0.002, -128), (0.05, 127)]:
            alpha = rng.integers(-128, 128, alpha_shape).astype(np.int8)
            cases.append(Case("PRELU", [EVERY_INT8.reshape(x_shape), alpha],
                              [(0.05, 3), alpha_params], (0.04, -10), const={1}))
    runtime_alpha = np.arange(64, dtype=np.int8) * 3 - 90
    cases.append(Case("PRELU", [EVERY_INT8, runtime_alpha], [(0.05, 3), (0.01, 0)], (0.04, -10)))
    return cases


def test_prelu(tmp_path):
    check_cases(prelu_cases(), tmp_path)


# ---- unary ops ------------------------------------------------------------------------------

INPUT_PARAMS = [(0.05, 3), (0.02, -128), (0.03, 127), (1e-4, 0), (2.0, -10), (50.0, 20)]


def relu_leaky_relu_rsqrt_cases() -> list[Case]:
    cases = [unary(op, (0.05, 3), out) for op in ["RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1"]
             for out in [(0.05, 3), (0.03, -100), (0.2, 90), (0.001, -128), (5.0, 0)]]
    cases += [unary("LEAKY_RELU", p_in, p_out, {"alpha": alpha})
              for alpha in [0.2, 0.0, 0.01, 1.0, 1.7, -0.3]
              for p_in, p_out in [((0.05, 3), (0.04, -10)), ((0.02, -128), (0.02, -128)),
                                  ((0.3, 127), (0.01, 0))]]
    # RSQRT is defined from the zero point up.
    cases += [unary("RSQRT", (s, z), out, x=np.arange(z, 128, dtype=np.int8))
              for (s, z), out in [((0.05, 10), (0.03, -100)), ((0.01, -128), (0.5, -128)),
                                  ((2.0, 127), (0.02, 0)), ((1e-3, 0), (0.4, -50))]]
    return cases


def test_relu_family_leaky_relu_and_rsqrt(tmp_path):
    check_cases(relu_leaky_relu_rsqrt_cases(), tmp_path)


def logistic_tanh_hard_swish_cases() -> list[Case]:
    cases = [unary("LOGISTIC", p, LOGISTIC_OUT) for p in INPUT_PARAMS]
    cases.append(unary("LOGISTIC", (0.05, 0), (1 / 256, 0)))  # LiteRT checks only the scale
    cases += [unary("TANH", p, out) for p in INPUT_PARAMS for out in (TANH_OUT, (0.01, -20))]
    cases += [unary("HARD_SWISH", p_in, p_out)
              for p_in, p_out in [((0.05, 3), (0.03, -50)), ((0.005, -128), (0.004, -100)),
                                  ((0.2, 127), (0.2, 0)), ((1e-3, 0), (1.0, 0)), ((3.0, 10), (0.05, 0)),
                                  ((0.0117, 0), (0.0117, 0)), ((1.0, -5), (0.01, 0))]]
    return cases


def test_logistic_tanh_hard_swish(tmp_path):
    graph, feeds = cases_graph(logistic_tanh_hard_swish_cases())
    check_bundle(graph, tmp_path, feeds=feeds)
    # The tables are constant arrays beside the weights: C only looks them up.
    weights = (tmp_path / "model" / "model_weights.c").read_text()
    assert "const int8_t model_p0[256] = {" in weights and "lookup table" in weights
    assert "extern const int8_t model_p0[256];" in (tmp_path / "model" / "model.c").read_text()


def test_gelu(tmp_path):
    check_cases([unary("GELU", p, out, {"approximate": approximate}) for p in INPUT_PARAMS
                 for out in ((0.04, -100), (0.3, 5)) for approximate in (False, True)], tmp_path)


# ---- normalizations -------------------------------------------------------------------------

L2_INPUTS = [EVERY_INT8, np.zeros((3, 5), np.int8), np.full((2, 1), -128, np.int8),
             np.full((1, 9000), 127, np.int8), np.array([[3, 4], [-128, 127], [5, 5]], np.int8)]
ROWS = [EVERY_INT8, np.zeros((1, 1), np.int8), np.full((2, 7), 100, np.int8),
        np.array([[-128, 127, 127, -128]], np.int8), np.arange(-128, 128, dtype=np.int8)]


def l2_normalization_cases() -> list[Case]:
    return [unary("L2_NORMALIZATION", (0.03, zero), L2_OUT, x=x)
            for x in L2_INPUTS for zero in (0, -128, 5)]


def test_l2_normalization(tmp_path):
    check_cases(l2_normalization_cases(), tmp_path)


def softmax_cases() -> list[Case]:
    cases = [unary("SOFTMAX", p, SOFTMAX_OUT, {"beta": beta})
             for p in INPUT_PARAMS for beta in (1.0, 0.5, 2.7, 1e-3)]
    cases += [unary("SOFTMAX", (0.1, 0), SOFTMAX_OUT, {"beta": 1.0}, x=x) for x in ROWS[1:]]
    # A row whose sum of exps passes 2^9: the last shift goes past 31 bits.
    cases.append(unary("SOFTMAX", (0.1, 0), SOFTMAX_OUT, {"beta": 1.0}, x=np.full((1, 700), 50, np.int8)))
    cases += [unary("LOG_SOFTMAX", p, LOG_SOFTMAX_OUT, x=x) for p in INPUT_PARAMS for x in ROWS[:4]]
    rng = np.random.default_rng(11)
    cases.append(unary("LOG_SOFTMAX", (0.02, 0), LOG_SOFTMAX_OUT,
                       x=rng.integers(100, 128, (2, 4095)).astype(np.int8)))  # the longest row
    return cases


def test_softmax_and_log_softmax(tmp_path):
    check_cases(softmax_cases(), tmp_path)


# ---- random cases, and the sanitizers -----------------------------------------------------------

def _random_params(rng, low=1e-3, high=10.0):
    return float(np.exp(rng.uniform(np.log(low), np.log(high)))), int(rng.integers(-128, 128))


def _random_case(op: str, rng) -> Case:
    shape = tuple(int(d) for d in rng.integers(1, 7, int(rng.integers(1, 5))))
    x = rng.integers(-128, 128, shape).astype(np.int8)
    p_in, p_out = _random_params(rng), _random_params(rng)
    fixed = {"LOGISTIC": LOGISTIC_OUT, "TANH": TANH_OUT, "L2_NORMALIZATION": L2_OUT,
             "SOFTMAX": SOFTMAX_OUT, "LOG_SOFTMAX": LOG_SOFTMAX_OUT}
    if op in ("ADD", "SUB", "MUL", "MAXIMUM", "LESS"):
        y = rng.integers(-128, 128, shape[int(rng.integers(0, len(shape))):]).astype(np.int8)
        out = None if op == "LESS" else p_out
        if op in ("ADD", "SUB"):  # the output multiplier must stay below one
            out = (max(p_in[0], p_out[0]) * 2.0 ** -18, p_out[1])
        return Case(op, [x, y], [p_in, _random_params(rng)], out)
    if op == "HARD_SWISH":  # LiteRT needs input / output scales below 128
        p_out = (p_in[0] / float(np.exp(rng.uniform(np.log(1 / 3), np.log(120.0)))), p_out[1])
    attrs = {"LEAKY_RELU": {"alpha": float(rng.uniform(-1.0, 2.0))},
             "SOFTMAX": {"beta": float(rng.uniform(0.1, 3.0))}}.get(op, {})
    return unary(op, p_in, fixed.get(op, p_out), attrs, x=x)


RANDOM_OPS = ["ADD", "SUB", "MUL", "MAXIMUM", "LESS", "RELU", "RELU6", "LEAKY_RELU", "LOGISTIC",
              "TANH", "HARD_SWISH", "L2_NORMALIZATION", "SOFTMAX", "LOG_SOFTMAX", "GELU"]


def random_cases() -> list[Case]:
    rng = np.random.default_rng(2024)
    cases = [_random_case(op, rng) for op in RANDOM_OPS for _ in range(4)]
    cases.append(unary("RSQRT", (0.05, -20), (0.03, 7), x=np.arange(-20, 128, dtype=np.int8)))
    return cases


def test_random_cases_under_sanitizers(tmp_path):
    check_cases(random_cases(), tmp_path, opt="-O1 -g", extra_cflags=SANITIZERS)


def one_op_graphs() -> list[Graph]:
    """The graphs this module's bundle tests bundle, each op one case (test_codegen_tables
    lowers them)."""
    case_lists = [arithmetic_cases(op) for op in ARITHMETIC_OPS] + [
        squared_difference_maximum_minimum_cases(), comparison_cases(), broadcast_cases(),
        prelu_cases(), relu_leaky_relu_rsqrt_cases(), logistic_tanh_hard_swish_cases(),
        l2_normalization_cases(), softmax_cases(), random_cases()]
    return [cases_graph(cases)[0] for cases in case_lists]


# ---- what the generator or the bundle refuses ----------------------------------------------------

def test_rsqrt_below_the_zero_point_fails_the_call(tmp_path):
    graph, _ = cases_graph([unary("RSQRT", (0.1, 0), (0.1, 0), x=np.zeros(4, np.int8))])
    generate_bundle(graph, str(tmp_path / "r"), "r")
    binary = build(str(tmp_path / "r"), "r", opt="-O1")
    assert run_bundle(binary, graph, {"c0_in0": np.array([0, 1, 9, 127], np.int8)})["c0_out"].shape == (4,)
    with pytest.raises(VerifyError, match=r"r_invoke failed at op #0 with error 5"):
        run_bundle(binary, graph, {"c0_in0": np.array([5, -3, 0, 1], np.int8)})


@pytest.mark.parametrize("case, message", [
    (unary("LOGISTIC", (2.0, 0), (1 / 128, -128)), "1/256"),
    (unary("SOFTMAX", (2.0, 0), (1 / 256, 0)), "1/256, -128"),
    (unary("LOG_SOFTMAX", (0.05, 0), LOG_SOFTMAX_OUT, x=np.zeros((1, 4096), np.int8)), "up to 4095"),
    (pairs("ADD", ((1.0, 0), (1.0, 0), (1e-7, 0))), "LiteRT aborts"),
], ids=["logistic scale", "softmax params", "log_softmax row", "add multiplier"])
def test_parameters_the_kernels_refuse_name_the_op(case, message):
    graph, _ = cases_graph([case])
    with pytest.raises(CodegenError, match=rf"op #0 {case.op}: .*{message}"):
        generate(graph, "m")
