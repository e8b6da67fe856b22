"""The passes issue's networks: converted by toco-py, run in LiteRT, compared with TensorFlow
running the frozen graph; op counts compared with TensorFlow's own converter."""
from collections import Counter

import numpy as np
import pytest

from tests.support import networks
from tests.support.oracle import op_types, run_litert, run_tf, tf_convert
from tests.support.policy import tensorflow_and_litert_failures
from toco_py import api


@pytest.fixture(scope="module")
def built():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = networks.SMALL_NETWORKS[name]()
        return cache[name]
    return get


def convert_and_compare(net, tmp_path, reference_pb=None, seeds=(0, 1)):
    """TensorFlow on the .pb and LiteRT on our conversion, each within the float tolerance
    policy's allowance of the conversion's float64 truth."""
    result = api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs)
    for seed in seeds:
        failures = tensorflow_and_litert_failures(reference_pb or net.pb, result.model, net.feeds(seed),
                                                  net.outputs)
        assert not failures, (net.name, seed, failures)
    pb_path = tmp_path / f"{net.name}.pb"
    pb_path.write_bytes(net.pb)
    theirs = op_types(tf_convert(str(pb_path), list(net.inputs), net.outputs))
    ours = [op.type for op in result.graph.ops]
    assert len(ours) <= len(theirs), (Counter(ours), Counter(theirs))
    return result, theirs


def test_dropout_mlp(built, tmp_path):
    result, theirs = convert_and_compare(built("dropout_mlp"), tmp_path)
    ours = {op.type for op in result.graph.ops}
    assert not ours & {"RANDOM_UNIFORM", "RandomUniform", "GREATER_EQUAL", "SELECT", "SELECT_V2", "MUL", "DIV"}
    assert ours == {"FULLY_CONNECTED", "SOFTMAX"}
    assert {"RANDOM_UNIFORM", "GREATER_EQUAL", "SELECT_V2"} & set(theirs), "TF's converter keeps them"


def test_computed_axis_softmax(built, tmp_path):
    result, _ = convert_and_compare(built("computed_axis_softmax"), tmp_path)
    types = [op.type for op in result.graph.ops]
    assert types.count("SOFTMAX") == 1 and not {"EXP", "SUM", "REDUCE_MAX", "RANGE", "RANK", "SHAPE",
                                               "STRIDED_SLICE"} & set(types)
    concat = next(op for op in result.graph.ops if op.type == "CONCATENATION")
    assert concat.attrs["axis"] in (2, -1)


def test_tile_range(built, tmp_path):
    result, _ = convert_and_compare(built("tile_range"), tmp_path)
    types = [op.type for op in result.graph.ops]
    assert "TILE" not in types and "RANGE" not in types


def test_conv_batch_norm_separable(built, tmp_path):
    result, _ = convert_and_compare(built("conv_bn_separable"), tmp_path)
    types = Counter(op.type for op in result.graph.ops)
    assert types == Counter({"CONV_2D": 3, "DEPTHWISE_CONV_2D": 1, "MEAN": 1})
    convs = [op for op in result.graph.ops if op.type == "CONV_2D"]
    assert convs[-1].attrs["padding"] == "SAME", "the explicit PAD folded into the last conv"
    assert [op.attrs.get("fused_activation_function", "NONE") for op in result.graph.ops][:2] == ["RELU6", "NONE"]


def test_fused_patterns(built, tmp_path):
    result, _ = convert_and_compare(built("fused_patterns"), tmp_path)
    types = [op.type for op in result.graph.ops]
    assert types.count("HARD_SWISH") == 2 and types.count("L2_NORMALIZATION") == 1
    assert not {"TRANSPOSE", "MAXIMUM", "MINIMUM", "RELU6", "RSQRT"} & set(types)


def test_lstm_language_model(built, tmp_path):
    result, _ = convert_and_compare(built("lstm_language_model"), tmp_path)
    assert "GATHER" in {op.type for op in result.graph.ops}


def test_gru_static_rnn(built, tmp_path):
    result, _ = convert_and_compare(built("gru_static_rnn"), tmp_path)
    assert "FILL" not in {op.type for op in result.graph.ops}


def test_fake_quant_graph_in_float_mode(built, tmp_path):
    """Activation fake-quant nodes keep their rounding in the float model (FAKE_QUANT where
    the range starts at 0, QUANTIZE + DEQUANTIZE elsewhere), weight fake-quants fold into the
    weights: LiteRT then computes what TensorFlow computes on the graph as trained, to the
    bit on these inputs (tests/test_fake_quant.py: where and why both can differ by a step),
    in 6 ops where TensorFlow's converter takes 12."""
    net = built("fake_quant_mlp")
    result, theirs = convert_and_compare(net, tmp_path, seeds=range(4))
    assert [op.type for op in result.graph.ops] == ["QUANTIZE", "DEQUANTIZE", "FULLY_CONNECTED", "FAKE_QUANT",
                                                    "FULLY_CONNECTED", "FAKE_QUANT"], theirs
    for seed in range(4):
        feeds = net.feeds(seed)
        np.testing.assert_array_equal(run_litert(result.model, feeds)["y"], run_tf(net.pb, feeds, net.outputs)[0])


@pytest.mark.parametrize("name", networks.KERAS_APPLICATIONS)
def test_keras_application(name, tmp_path):
    """Deep float32 networks drift from TensorFlow through summation order (on InceptionV3,
    TensorFlow's converter is off by up to 2e-3 of the range as well): TensorFlow and LiteRT
    on our conversion are each judged by the tolerance policy against its float64 truth."""
    size = 96 if name != "InceptionV3" else 75
    net = networks.keras_application(name, size)
    pb_path = tmp_path / f"{name}.pb"
    pb_path.write_bytes(net.pb)
    result = api.convert_bytes(net.pb)
    tf_model = tf_convert(str(pb_path), list(net.inputs), net.outputs)
    for seed in (0, 1):
        failures = tensorflow_and_litert_failures(net.pb, result.model, net.feeds(seed), net.outputs)
        assert not failures, (seed, failures)
    ours_ops = [op.type for op in result.graph.ops]
    assert len(ours_ops) <= len(op_types(tf_model)), (Counter(ours_ops), Counter(op_types(tf_model)))
    # Batch norms fold away entirely: no MUL, and every ADD is a residual sum of two tensors.
    assert "MUL" not in ours_ops
    for op in result.graph.ops:
        if op.type == "ADD":
            assert not any(result.graph.tensors[n].is_const for n in op.inputs), op
