"""GELU written out in a TensorFlow graph becomes one GELU builtin (passes/fuse_gelu.py), in
every spelling TensorFlow, Keras and hand-written models use. LiteRT runs the result, and
TensorFlow the original graph, within the tolerance policy's allowance of the float64 truth;
TensorFlow's own converter makes GELU of the same graphs where its fixed patterns reach.
What is not exactly GELU, or shares an intermediate, is left alone; an error function on its
own is reported as unsupported, with a hint that says what does convert."""
from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.lite.python.convert_phase import ConverterError

from tests.support.networks import Network
from tests.support.oracle import freeze, op_types, run_litert, run_tf, tf_convert
from tests.support.policy import end_to_end_failures, litert_by_name, policy_failures
from tests.support.quant_models import int8_tf
from toco_py import api
from toco_py.check import ERF_HINT, check_graph
from toco_py.errors import UnsupportedOpsError
from toco_py.frontend.graphdef import parse_graphdef
from toco_py.interpreter import Interpreter
from toco_py.ops import REGISTRY
from toco_py.quantize.driver import QuantizeOptions
from toco_py.tflite.reader import read_model
from toco_py.tolerance import judge, op_bounds

v1 = tf.compat.v1
SHAPE = [4, 32]
SQRT_HALF = np.float32(math.sqrt(0.5))
K = np.float32(math.sqrt(2 / math.pi))
C = np.float32(0.044715)


def _erf_gate(x):
    return 1.0 + tf.math.erf(x * SQRT_HALF)


def _tanh_argument(cube):
    return lambda x: K * (x + C * cube(x))


def _tanh_gelu(argument):
    return lambda x: 0.5 * x * (1.0 + tf.tanh(argument(x)))


# name -> (graph of x, GELU's approximate attr, what TF's converter (2.21) makes of it: GELU,
# "unfused" ops, or "refused" (an Erf it did not fuse, for which TFLite has no builtin))
SPELLINGS = {
    "tf.nn.gelu": (lambda x: tf.nn.gelu(x, approximate=False), False, "GELU"),
    "tf.nn.gelu tanh": (lambda x: tf.nn.gelu(x, approximate=True), True, "GELU"),
    "keras gelu": (lambda x: tf.keras.activations.gelu(x, approximate=False), False, "GELU"),
    "keras gelu tanh": (lambda x: tf.keras.activations.gelu(x, approximate=True), True, "GELU"),
    "x*0.5*(1+erf(x*c))": (lambda x: x * 0.5 * _erf_gate(x), False, "GELU"),
    "0.5*x*(1+erf(x/sqrt2))": (lambda x: 0.5 * x * (1.0 + tf.math.erf(x / np.float32(math.sqrt(2)))),
                               False, "GELU"),
    "0.5*x*erfc(-x*c)": (lambda x: 0.5 * x * tf.math.erfc(-x * SQRT_HALF), False, "GELU"),
    "(1+erf(x*c))*x*0.5": (lambda x: _erf_gate(x) * x * 0.5, False, "refused"),
    "x*(0.5+0.5*erf(x*c))": (lambda x: x * (0.5 + 0.5 * tf.math.erf(x * SQRT_HALF)), False, "refused"),
    "tanh pow(x,3)": (_tanh_gelu(_tanh_argument(lambda x: tf.pow(x, 3.0))), True, "GELU"),
    "tanh x*(x*x)": (_tanh_gelu(_tanh_argument(lambda x: x * (x * x))), True, "GELU"),
    "tanh x*x*x, outer x*(0.5*...)": (lambda x: x * (0.5 * (1.0 + tf.tanh(K * (x + C * (x * x * x))))),
                                      True, "GELU"),
    # ((0.044715 * x) * x) * x: TF 2.21 has no pattern for this order
    "tanh c*x*x*x": (_tanh_gelu(lambda x: K * (x + C * x * x * x)), True, "unfused"),
    "tanh k*x*(1+c*x^2)": (_tanh_gelu(lambda x: K * x * (1.0 + C * tf.square(x))), True, "unfused"),
}

# Spelled like GELU, but not GELU: nothing fuses (and the graph still converts or is refused).
NOT_GELU = {
    "erf constant off": lambda x: 0.5 * x * (1.0 + tf.math.erf(x * 0.75)),
    "erf constant rounded by hand": lambda x: 0.5 * x * (1.0 + tf.math.erf(x * 0.7071)),
    "tanh cube coefficient off": _tanh_gelu(lambda x: K * (x + 0.05 * tf.pow(x, 3.0))),
    "tanh half off": lambda x: 0.6 * x * (1.0 + tf.tanh(K * (x + C * tf.pow(x, 3.0)))),
    "tanh of another tensor": lambda x: 0.5 * x * (1.0 + tf.tanh(K * (tf.abs(x) + C * tf.pow(x, 3.0)))),
    "tanh squared": lambda x: 0.5 * x * (1.0 + tf.square(tf.tanh(K * (x + C * tf.pow(x, 3.0))))),
}


def _pb(fn, shape=SHAPE, extra=None) -> bytes:
    """The frozen graph of y = fn(x) (and of extra(x, y) as output z, when given)."""
    def build():
        x = v1.placeholder(tf.float32, shape, name="x")
        y = fn(x)
        outs = {"y": tf.identity(y, name="y")}
        if extra is not None:
            outs["z"] = tf.identity(extra(x, y), name="z")
        return outs
    return freeze(build)[0]


def _feeds(seed: int = 0) -> dict[str, np.ndarray]:
    """Normal values three wide, and a row from far negative (where 1 + erf and 1 + tanh
    cancel to nothing in float32) to positive."""
    x = np.random.default_rng(seed).standard_normal(SHAPE).astype(np.float32) * 3
    x[0] = np.linspace(-12, 8, SHAPE[1], dtype=np.float32)
    return {"x": x}


def _tf_conversion(pb: bytes, tmp_path, outputs=("y",)) -> bytes:
    path = tmp_path / "graph.pb"
    path.write_bytes(pb)
    return tf_convert(str(path), ["x"], list(outputs))


def _numerics_failures(pb: bytes, model: bytes, tf_model: bytes | None = None) -> list[str]:
    """LiteRT's kernels (builtin and reference) and our interpreter on our conversion, LiteRT on
    TF's conversion (if any) and TensorFlow on the original graph, each judged by the policy
    against the float64 truth of our conversion."""
    graph = read_model(model).main
    feeds = _feeds()
    tensorflow = run_tf(pb, feeds, graph.outputs)
    candidates = {"TensorFlow on the .pb": dict(zip(graph.outputs, tensorflow, strict=True)),
                  "toco-py": Interpreter(graph).run(feeds)}
    if tf_model is not None:
        candidates["LiteRT on TF's conversion"] = run_litert(tf_model, feeds)
    candidates |= {f"LiteRT {kind}": litert_by_name(model, graph, feeds, kind)
                   for kind in ("builtin", "reference")}
    return policy_failures(graph, feeds, candidates)


@pytest.mark.parametrize("name", SPELLINGS)
def test_spelling_converts_to_one_gelu(name, tmp_path):
    fn, approximate, tf_makes = SPELLINGS[name]
    pb = _pb(fn)
    model = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"]).model
    assert op_types(model) == ["GELU"]  # no Erf, Erfc, TANH, POW, MUL or ADD left
    assert read_model(model).main.ops[0].attrs == {"approximate": approximate}
    tf_model = None
    if tf_makes == "refused":
        with pytest.raises(ConverterError, match="TF Select ops: Erf"):
            _tf_conversion(pb, tmp_path)
    else:
        tf_model = _tf_conversion(pb, tmp_path)
        if tf_makes == "GELU":
            assert op_types(tf_model) == ["GELU"]
            assert read_model(tf_model).main.ops[0].attrs == {"approximate": approximate}
        else:
            assert "GELU" not in op_types(tf_model)
    failures = _numerics_failures(pb, model, tf_model)
    assert not failures, failures


def _dense_gelu(approximate: bool):
    def fn(x):
        rng = np.random.default_rng(3)
        w = tf.constant(rng.standard_normal((SHAPE[1], 16)).astype(np.float32) * 0.5)
        b = tf.constant(rng.standard_normal(16).astype(np.float32))
        return tf.nn.gelu(tf.nn.bias_add(tf.matmul(x, w), b), approximate=approximate)
    return fn


@pytest.mark.parametrize("approximate", [False, True], ids=["exact", "tanh"])
def test_dense_layer_then_gelu(approximate, tmp_path):
    """The GELU's 0.5 * x is not folded into the weights (fuse_mul_into_affine) first."""
    pb = _pb(_dense_gelu(approximate))
    model = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"]).model
    assert op_types(model) == ["FULLY_CONNECTED", "GELU"]
    tf_model = _tf_conversion(pb, tmp_path)
    assert op_types(tf_model) == ["FULLY_CONNECTED", "GELU"]
    failures = _numerics_failures(pb, model, tf_model)
    assert not failures, failures


@pytest.mark.parametrize("approximate", [False, True], ids=["exact", "tanh"])
def test_int8_gelu_matches_litert_reference(approximate, tmp_path):
    """Full-integer: GELU runs on int8 as in TF's converter's model, and our interpreter equals
    LiteRT's reference kernels on it."""
    net = Network("dense_gelu", _pb(_dense_gelu(approximate)), {"x": (tuple(SHAPE), "float32")}, ["y"])
    samples = np.random.default_rng(5).standard_normal([16] + SHAPE).astype(np.float32)
    calibration = tmp_path / "samples.npz"
    np.savez(calibration, x=samples)
    model = api.convert_bytes(net.pb, input_arrays=["x"], output_arrays=["y"],
                              quantize=QuantizeOptions("int8", calibration_data=str(calibration))).model
    graph = read_model(model).main
    gelu = [op for op in graph.ops if op.type == "GELU"]
    assert len(gelu) == 1 and graph.tensors[gelu[0].inputs[0]].dtype == "int8"
    assert op_types(model) == op_types(int8_tf(net, tmp_path, [{"x": s} for s in samples]))
    failures = end_to_end_failures(model, seeds=range(3), kinds=("reference",))
    assert not failures, failures


@pytest.mark.parametrize("name", NOT_GELU)
def test_what_is_not_gelu_does_not_fuse(name):
    pb = _pb(NOT_GELU[name])
    graph, _, _ = api.graph_from_graphdef(parse_graphdef(pb), ["x"], ["y"])
    types = [op.type for op in graph.ops]
    assert "GELU" not in types
    assert {"Erf", "TANH"} & set(types), types


def _tanh_gelu_parts(x):
    """The tanh GELU of x, and three of its intermediates."""
    parts = {"half x": 0.5 * x, "cube": tf.pow(x, 3.0)}
    parts["gate"] = tf.tanh(K * (x + C * parts["cube"]))
    return parts["half x"] * (1.0 + parts["gate"]), parts


@pytest.mark.parametrize("shared", ["gate", "half x", "cube"])
def test_an_intermediate_read_elsewhere_does_not_fuse(shared):
    """z reads one intermediate of the tanh GELU: fusing would drop it, so the graph stays."""
    def build():
        y, parts = _tanh_gelu_parts(v1.placeholder(tf.float32, SHAPE, name="x"))
        return {"y": tf.identity(y, name="y"), "z": tf.identity(parts[shared] * 2.0, name="z")}

    pb = freeze(build)[0]
    model = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y", "z"]).model
    assert "GELU" not in op_types(model)
    failures = _numerics_failures(pb, model)
    assert not failures, failures


def test_gelu_of_a_graph_output_fuses():
    """x itself may be read anywhere (here it is an output too): only intermediates must not."""
    pb = _pb(lambda x: tf.nn.gelu(tf.nn.relu(x)), extra=lambda x, y: tf.nn.relu(x) * 3.0)
    graph, _, _ = api.graph_from_graphdef(parse_graphdef(pb), ["x"], ["y", "z"])
    assert [op.type for op in graph.ops].count("GELU") == 1


def test_a_lone_erf_is_refused_with_a_true_hint(tmp_path):
    pb = _pb(lambda x: tf.math.erf(x, name="alone") * 2.0)
    with pytest.raises(UnsupportedOpsError, match=r"Erf \(alone\)"):
        api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"])
    graph, _, _ = api.graph_from_graphdef(parse_graphdef(pb), ["x"], ["y"])
    findings = check_graph(graph, "m.pb", "tflite").findings
    assert [(f.op, f.nodes, f.hint) for f in findings] == [("Erf", ["alone"], ERF_HINT)]
    assert "tf.nn.gelu" in ERF_HINT and "--allow_custom_ops" in ERF_HINT
    # Allowed as a custom op, it is written as one, under TensorFlow's name.
    result = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"], allow_custom_ops=True)
    written = read_model(result.model).main.ops
    assert [op.attrs.get("custom_code", op.type) for op in written] == ["Erf", "MUL"]


def test_erf_of_constants_folds():
    values = np.float32([-2.5, -0.3, 0.0, 0.7, 4.0])
    pb = _pb(lambda x: x + (tf.math.erf(tf.constant(values)) + tf.math.erfc(tf.constant(values))),
             shape=[5])
    graph, _, _ = api.graph_from_graphdef(parse_graphdef(pb), ["x"], ["y"])
    assert [op.type for op in graph.ops] == ["ADD"]
    folded = next(graph.tensors[n].data for n in graph.ops[0].inputs if graph.tensors[n].is_const)
    # Each folded from math.erf / math.erfc, exact to a double, then rounded to float32.
    expected = [np.float32(math.erf(v)) + np.float32(math.erfc(v)) for v in values.tolist()]
    assert np.array_equal(folded, np.float32(expected))


@pytest.mark.parametrize("op", ["Erf", "Erfc"])
def test_tensorflow_erf_is_within_the_policy_of_our_kernel(op):
    """Our Erf and Erfc (math.erf / math.erfc, exact to a double) are the truth the policy
    judges by; TensorFlow's float32 kernels are within its allowance of them (ulps 4)."""
    x = np.concatenate([np.linspace(-6, 6, 1201), [-30, -9.5, -1e-30, 0, 1e-30, 9.5, 30]]).astype(np.float32)
    pb = _pb(getattr(tf.math, op.lower()), shape=[x.size])
    graph, _, _ = api.graph_from_graphdef(parse_graphdef(pb), ["x"], ["y"])
    (erf_op,) = [o for o in graph.ops if o.type == op]
    (truth,), (allowed,) = op_bounds(graph, erf_op, [x])
    verdict = judge(op, run_tf(pb, {"x": x}, ["y"])[0], truth, allowed)
    assert verdict.passed, verdict
    reference = np.array([getattr(math, op.lower())(float(v)) for v in x])
    assert np.array_equal(REGISTRY[op].kernel(erf_op, x.astype(np.float64)), reference)
