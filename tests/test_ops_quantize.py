"""QUANTIZE and DEQUANTIZE against LiteRT (reference and builtin kernels), with their
parameters on the model's tensors and copied into the ops' attrs by quant_attrs; and
RANDOM_UNIFORM, whose values are ours but whose shape, type and range must be LiteRT's."""

import numpy as np
import pytest

from tests.support.kernel_check import one_op_graph, quant
from tests.support.oracle import litert
from toco_py.errors import ConversionError
from toco_py.ir import QuantParams
from toco_py.ops import REGISTRY
from toco_py.ops.quantize_ops import quant_attrs
from toco_py.passes.fold_constants import fold_constants
from toco_py.tflite.reader import read_model
from toco_py.tflite.writer import model_bytes

RNG = np.random.default_rng(17)


pytestmark = pytest.mark.usefixtures("repeatable_draws")  # conftest: RNG reseeded per test


def run_both(graph, feeds: dict, reference: bool, delegates: bool = True):
    """(ours, LiteRT's) output of a one-op graph, after quant_attrs has equipped the op."""
    op = graph.ops[0]
    quant_attrs(graph, op)
    interp = litert(model_bytes(graph), reference=reference, delegates=delegates)
    inputs = {d["name"]: d["index"] for d in interp.get_input_details()}
    for name, value in feeds.items():
        interp.set_tensor(inputs[name], value)
    interp.invoke()
    theirs = interp.get_tensor(interp.get_output_details()[0]["index"])
    args = [graph.tensors[n].data if graph.tensors[n].is_const else feeds[n] for n in op.inputs]
    return REGISTRY[op.type].kernel(op, *args), theirs


def quantize_graph(x: np.ndarray, quant: QuantParams, dtype: str):
    graph = one_op_graph("QUANTIZE", [x], {"output_type": dtype})
    graph.tensors["out0"].quant = quant
    return graph


# ---- QUANTIZE ---------------------------------------------------------------------------

# Exact halves (x / scale = k + 0.5) in both signs, values that saturate, and noise.
HALVES = np.float32([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, -300.0, 300.0, 0.0, -0.0])


# Reference kernels only: the default (XNNPACK) path rounds exact halves to even, where the
# reference kernel, like TFLite's spec, rounds them away from zero.
@pytest.mark.parametrize("dtype,zero_point", [("int8", 0), ("int8", -5), ("int8", 127),
                                              ("uint8", 128), ("uint8", 3), ("int16", 0)])
def test_quantize_per_tensor(dtype, zero_point):
    x = np.concatenate([HALVES, RNG.normal(size=29).astype(np.float32) * 3]).reshape(5, 8)
    ours, theirs = run_both(quantize_graph(x, quant(1.0, zero_point), dtype), {"in0": x}, True)
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype == theirs.dtype == np.dtype(dtype)


@pytest.mark.parametrize("scale", [0.1, 0.0235, 1 / 255, 3.7])
@pytest.mark.parametrize("reference", [True, False])
def test_quantize_scales(scale, reference):
    """Random values (no exact halves): both LiteRT paths and ours agree."""
    x = (RNG.uniform(-130, 130, 200).astype(np.float32) * np.float32(scale)).astype(np.float32)
    ours, theirs = run_both(quantize_graph(x, quant(scale, -3), "int8"), {"in0": x}, reference)
    np.testing.assert_array_equal(ours, theirs)


def test_quantize_per_channel():
    x = RNG.normal(size=(3, 4, 5)).astype(np.float32)
    q = quant([0.01, 0.02, 0.05, 0.1, 0.3], [0, 0, 0, 0, 0], axis=2)
    ours, theirs = run_both(quantize_graph(x, q, "int8"), {"in0": x}, reference=True)
    np.testing.assert_array_equal(ours, theirs)


def test_requantization_without_input_params_says_so():
    """int8 -> int8 rescales with both tensors' params (tests/test_int8_requantize.py); without
    the input's attached the kernel names what is missing."""
    graph = one_op_graph("QUANTIZE", [np.zeros(3, np.int8)], {"output_type": "int8"})
    assert (graph.tensors["out0"].shape, graph.tensors["out0"].dtype) == ((3,), "int8")
    graph.ops[0].attrs["output_quant"] = (np.float32([0.5]), np.int64([0]), 0)
    with pytest.raises(ConversionError, match="input's params, which are not attached"):
        REGISTRY["QUANTIZE"].kernel(graph.ops[0], np.zeros(3, np.int8))


def test_quantize_without_attached_params_says_so():
    graph = one_op_graph("QUANTIZE", [np.zeros(3, np.float32)], {"output_type": "int8"})
    with pytest.raises(ConversionError, match="not attached"):
        REGISTRY["QUANTIZE"].kernel(graph.ops[0], np.zeros(3, np.float32))


# ---- DEQUANTIZE ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype,scale,zero_point", [("int8", 0.05, 3), ("int8", 1.7, -128),
                                                    ("uint8", 0.02, 128), ("int16", 1e-3, 0)])
@pytest.mark.parametrize("constant", [False, True])
@pytest.mark.parametrize("reference", [True, False])
def test_dequantize_per_tensor(dtype, scale, zero_point, constant, reference):
    info = np.iinfo(dtype)
    q = RNG.integers(info.min, info.max, (4, 6), endpoint=True).astype(dtype)
    graph = one_op_graph("DEQUANTIZE", [q], const={0} if constant else set())
    graph.tensors["in0"].quant = quant(scale, zero_point)
    # XNNPACK fails to set up a model that only dequantizes a constant int8 tensor ("failed
    # to setup XNNPACK runtime"): there the builtin kernel runs without the delegate.
    delegates = not (constant and dtype == "int8")
    ours, theirs = run_both(graph, {} if constant else {"in0": q}, reference, delegates)
    assert ours.dtype == theirs.dtype == np.float32
    # The optimized kernel computes scale * q - scale * zero_point: where the two cancel,
    # float32 noise of the size of the largest output remains.
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6 * np.abs(theirs).max())


@pytest.mark.parametrize("axis", [0, 3])
def test_dequantize_per_channel_weights(axis):
    """Conv weights (axis 0) and depthwise weights (axis 3), symmetric as TFLite's."""
    shape = (4, 3, 3, 4)
    q = RNG.integers(-127, 128, shape).astype(np.int8)
    graph = one_op_graph("DEQUANTIZE", [q], const={0})
    scales = RNG.uniform(0.001, 0.1, shape[axis])
    graph.tensors["in0"].quant = quant(scales, np.zeros(shape[axis]), axis)
    ours, theirs = run_both(graph, {}, reference=True)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("constant", [False, True])
def test_dequantize_float16(constant):
    x = RNG.normal(size=(3, 7)).astype(np.float16)
    x[0, :3] = [np.float16(65504), np.float16(6e-8), np.float16(-0.0)]  # max, subnormal, -0
    graph = one_op_graph("DEQUANTIZE", [x], const={0} if constant else set())
    ours, theirs = run_both(graph, {} if constant else {"in0": x}, reference=True)
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype == np.float32


def test_dequantize_is_never_folded():
    """Folding would turn compressed weights back into float32 constants."""
    graph = one_op_graph("DEQUANTIZE", [np.ones(4, np.float16)], const={0})
    graph.outputs = []  # fold_constants leaves graph outputs alone; this one is not
    assert not fold_constants(graph, graph.ops[0])
    assert [op.type for op in graph.ops] == ["DEQUANTIZE"]


# ---- RANDOM_UNIFORM ------------------------------------------------------------------------

def random_uniform(shape, seed, seed2, shape_type="int32"):
    graph = one_op_graph("RANDOM_UNIFORM", [np.array(shape, shape_type)], {"seed": seed, "seed2": seed2},
                         const={0})
    return graph, REGISTRY["RANDOM_UNIFORM"].kernel(graph.ops[0], np.array(shape, shape_type))


@pytest.mark.parametrize("shape", [(2, 3), (4, 1, 5), (7,)], ids=str)
def test_random_uniform_matches_litert_in_shape_type_and_range(shape):
    graph, ours = random_uniform(shape, 7, 3)
    interp = litert(model_bytes(graph), reference=False)
    interp.invoke()
    theirs = interp.get_tensor(interp.get_output_details()[0]["index"])
    assert (ours.shape, ours.dtype) == (theirs.shape, theirs.dtype) == (shape, np.float32)
    assert graph.tensors["out0"].shape == shape
    for values in (ours, theirs):
        assert values.min() >= 0 and values.max() < 1


def test_random_uniform_seeds_survive_the_file():
    graph, _ = random_uniform((2,), -5, 1 << 40)
    attrs = read_model(model_bytes(graph)).main.ops[0].attrs
    assert (attrs["seed"], attrs["seed2"]) == (-5, 1 << 40)


def test_random_uniform_refuses_an_int64_shape():
    """LiteRT's kernel fails to prepare with one."""
    with pytest.raises(ConversionError, match="int32 shape"):
        random_uniform((2, 3), 1, 1, "int64")


def test_random_uniform_repeats_for_a_seed_and_differs_across_seeds():
    _, first = random_uniform((1000,), 1, 2)
    _, again = random_uniform((1000,), 1, 2)
    _, other = random_uniform((1000,), 2, 1)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    # A uniform draw of 1000 values: mean and spread of [0, 1) within generous bounds.
    assert abs(first.mean() - 0.5) < 0.05 and first.min() < 0.01 and first.max() > 0.99


@pytest.mark.parametrize("op_type", ["RANDOM_UNIFORM", "RandomUniform", "RandomStandardNormal",
                                     "TruncatedNormal"])
def test_random_ops_take_negative_seeds_and_repeat_for_them(op_type):
    """TensorFlow's seeds are int64; numpy's must not be negative."""
    shape = np.array((3, 4), np.int32)
    draws = []
    for seed, seed2 in ((-5, 1 << 40), (-5, 1 << 40), (5, 1 << 40)):
        graph = one_op_graph(op_type, [shape], {"seed": seed, "seed2": seed2}, const={0})
        draws.append(REGISTRY[op_type].kernel(graph.ops[0], shape))
    assert draws[0].shape == (3, 4) and draws[0].dtype == np.float32
    np.testing.assert_array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[0], draws[2])


def test_random_uniform_is_never_folded():
    graph, _ = random_uniform((3,), 1, 1)
    graph.outputs = []
    assert not fold_constants(graph, graph.ops[0])
