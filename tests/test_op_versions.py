"""Operator versions: ours against TensorFlow's converter on the test networks (float,
dynamic-range, float16 and int8 modes). The rules one by one: tests/test_op_version_rules.py."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from tests.support import networks
from tests.support.irgraph import build
from tests.support.oracle import freeze, litert
from toco_py import api
from toco_py.ir import Graph
from toco_py.quantize.driver import QuantizeOptions
from toco_py.tflite.reader import read_model
from toco_py.tflite.writer import model_bytes

tf = networks.tf
v1 = tf.compat.v1

# ---- against TensorFlow's converter ---------------------------------------------------------

# Options the version rules read; other options (strides, axes, ...) never change a version.
VERSION_ATTRS = ("dilation_w_factor", "dilation_h_factor", "keep_num_dims", "asymmetric_quantize_inputs",
                 "half_pixel_centers", "align_corners", "batch_dims", "ellipsis_mask", "new_axis_mask",
                 "offset")
CALIBRATION_SEEDS = range(8)


def _samples(net: networks.Network) -> list[dict[str, np.ndarray]]:
    return [net.feeds(seed) for seed in CALIBRATION_SEEDS]


def _tf_dynamic(conv, net) -> None:
    conv.optimizations = [tf.lite.Optimize.DEFAULT]


def _tf_float16(conv, net) -> None:
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]


def _tf_int8(conv, net) -> None:
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([s[n] for n in net.inputs] for s in _samples(net))


def _calibration_npz(net: networks.Network, folder) -> str:
    """The calibration samples of _tf_int8 as an .npz, samples along axis 0."""
    path = os.path.join(folder, f"{net.name}_calibration.npz")
    np.savez(path, **{n: np.stack([s[n] for s in _samples(net)]) for n in net.inputs})
    return path


@dataclass(frozen=True)
class Mode:
    tf_setup: Callable | None  # (converter, net) -> None
    ours: Callable  # (net, folder) -> QuantizeOptions | None


MODES = {
    "float": Mode(None, lambda net, folder: None),
    "dynamic": Mode(_tf_dynamic, lambda net, folder: QuantizeOptions("dynamic")),
    "float16": Mode(_tf_float16, lambda net, folder: QuantizeOptions("float16")),
    "int8": Mode(_tf_int8, lambda net, folder: QuantizeOptions("int8", _calibration_npz(net, folder))),
}


def feature_zoo() -> networks.Network:
    """Ops whose versions depend on options and ranks: dilation, half-pixel and align-corners
    resizing, 5-D transpose/slice/pad, broadcasting in 5-D, gather with batch_dims, ..."""
    rng = np.random.default_rng(0)

    def weights(*shape):
        return tf.constant(rng.normal(0, 0.3, shape).astype(np.float32))

    def build():
        x = v1.placeholder(tf.float32, [1, 8, 8, 4], name="x")
        x5 = tf.reshape(x, [1, 2, 4, 8, 4])
        x3 = tf.reshape(x, [8, 8, 4])
        tc = tf.nn.conv2d_transpose(x, weights(3, 3, 6, 4), [1, 16, 16, 6], 2, "SAME")
        return {
            "dilated": tf.raw_ops.DepthwiseConv2dNative(input=x, filter=weights(3, 3, 4, 1), strides=[1, 1, 1, 1],
                                                        padding="SAME", dilations=[1, 2, 2, 1]),
            "bilinear": tf.image.resize(x, [16, 16]),
            "nearest": v1.image.resize_nearest_neighbor(x, [16, 16], align_corners=True),
            "transpose5": tf.transpose(x5, [0, 2, 1, 3, 4]),
            "slice5": x5[:, :, 1:, ::2, :] - tf.reduce_mean(x5[:, :, 1:], axis=[1, 3], keepdims=True),
            "max5": tf.maximum(x5, tf.reshape(x5[:, :1], [1, 1, 4, 8, 4])),
            "pad5": tf.pad(x5, [[0, 0], [1, 1], [0, 0], [0, 0], [0, 0]]),
            "gather": tf.gather(x3, tf.constant([[1, 2], [3, 0]] * 4, tf.int32), axis=1, batch_dims=1),
            "argmax": tf.argmax(x, axis=3),
            "transpose_conv": tf.nn.relu(tf.nn.bias_add(tc, weights(6))),
            "matmul": tf.matmul(x3, tf.reshape(x, [8, 4, 8])),
            "squeeze": tf.squeeze(tf.nn.l2_normalize(tf.reduce_max(x, axis=[1, 2], keepdims=True), axis=-1), [1, 2]),
            "pools": tf.nn.leaky_relu(tf.nn.avg_pool2d(x, 2, 2, "VALID"), 0.1) + tf.nn.max_pool2d(x, 2, 2, "VALID"),
            "unary": tf.nn.log_softmax(tf.exp(tf.nn.sigmoid(x)) + tf.sqrt(tf.abs(x)) + tf.math.rsqrt(tf.abs(x) + 1.0)),
            "depth_to_space": tf.nn.depth_to_space(x, 2),
            "space_to_depth": tf.nn.space_to_depth(x, 2),
        }
    pb, outputs = freeze(build)
    return networks.Network("feature_zoo", pb, {"x": ((1, 8, 8, 4), "float32")}, list(outputs.values()))


NETWORKS = {**networks.SMALL_NETWORKS, "MobileNetV2": lambda: networks.keras_application("MobileNetV2", 96),
            "feature_zoo": feature_zoo}
# Op types whose versions must be compared (not skipped for a difference in feature use).
MUST_COMPARE = {
    ("MobileNetV2", "dynamic"): {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MEAN", "SOFTMAX"},
    ("MobileNetV2", "float16"): {"DEQUANTIZE", "CONV_2D", "FULLY_CONNECTED"},
    ("MobileNetV2", "float"): {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"},
    ("dropout_mlp", "dynamic"): {"FULLY_CONNECTED"},
    ("lstm_language_model", "dynamic"): {"FULLY_CONNECTED", "GATHER", "SPLIT", "LOGISTIC", "TANH"},
    ("gru_static_rnn", "float"): {"FULLY_CONNECTED", "UNPACK", "SUB", "CONCATENATION"},
    # Its RESHAPE after the MEAN folds into the MEAN's keep_dims (fold_reshape_into_reduction).
    ("fused_patterns", "float"): {"HARD_SWISH", "L2_NORMALIZATION", "RELU", "MEAN"},
    # TRANSPOSE_CONV is not compared: TF's converter fuses the bias and the relu into it.
    ("feature_zoo", "float"): {"DEPTHWISE_CONV_2D", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "TRANSPOSE",
                               "STRIDED_SLICE", "SUB", "MAXIMUM", "PAD", "GATHER", "ARG_MAX", "BATCH_MATMUL",
                               "AVERAGE_POOL_2D", "MAX_POOL_2D", "LEAKY_RELU", "LOG_SOFTMAX", "SQRT", "RSQRT",
                               "DEPTH_TO_SPACE", "SPACE_TO_DEPTH"},
    ("feature_zoo", "float16"): {"DEQUANTIZE", "DEPTHWISE_CONV_2D", "GATHER", "PAD"},
}


def _tensor_features(graph: Graph, name: str) -> tuple:
    if not name:
        return ("absent",)
    t = graph.tensors[name]
    per_channel = t.quant is not None and np.size(t.quant.scale) > 1
    rank = len(t.shape) if t.shape else 0
    return t.dtype, t.quant is not None, per_channel, max(rank, 4)  # only ranks above 4 matter


def op_features(graph: Graph, op) -> tuple:
    """What an op uses that a version can depend on: its tensors' types, quantization and
    ranks above 4, broadcasting between inputs 0 and 1 in more than 4-D, and the options
    the version rules read."""
    shapes = [tuple(graph.tensors[n].shape or ()) if n else () for n in op.inputs]
    broadcast = len(shapes) >= 2 and shapes[0] != shapes[1] and max(map(len, shapes)) > 4
    attrs = tuple(op.attrs.get(a) for a in VERSION_ATTRS)
    activation = op.attrs.get("fused_activation_function") if op.type == "TRANSPOSE_CONV" else None
    return (tuple(_tensor_features(graph, n) for n in op.inputs),
            tuple(_tensor_features(graph, n) for n in op.outputs), broadcast, attrs, activation)


def versions_by_type(model: bytes) -> dict[str, tuple[int, set]]:
    """Op type -> (highest version, set of op features) in the main subgraph. TensorFlow's
    converter gives every op of a type one OperatorCode with the highest version any of them
    needs, so only the highest version is comparable."""
    m = read_model(model)
    found: dict[str, tuple[int, set]] = {}
    for op, version in zip(m.main.ops, m.op_versions[0]):
        if op.type == "CUSTOM":
            continue
        top, features = found.get(op.type, (0, set()))
        features.add(op_features(m.main, op))
        found[op.type] = (max(top, version), features)
    return found


def compare_versions(ours: bytes, theirs: bytes) -> tuple[dict, dict, list]:
    """(matched {type: version}, mismatched {type: (ours, theirs)}, skipped types): op types in
    both models are compared when their ops use the same features."""
    a, b = versions_by_type(ours), versions_by_type(theirs)
    matched, mismatched, skipped = {}, {}, []
    for op_type in sorted(set(a) & set(b)):
        (va, fa), (vb, fb) = a[op_type], b[op_type]
        if fa != fb:
            skipped.append(op_type)
        elif va == vb:
            matched[op_type] = va
        else:
            mismatched[op_type] = (va, vb)
    return matched, mismatched, skipped


def tf_model(net: networks.Network, mode: Mode, folder) -> bytes:
    pb_path = os.path.join(folder, f"{net.name}.pb")
    with open(pb_path, "wb") as f:
        f.write(net.pb)
    conv = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(pb_path, list(net.inputs), net.outputs)
    if mode.tf_setup is not None:
        mode.tf_setup(conv, net)
    return conv.convert()


def our_model(net: networks.Network, mode: Mode, folder) -> bytes:
    return api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs,
                             quantize=mode.ours(net, folder)).model


@pytest.fixture(scope="module")
def built():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = NETWORKS[name]()
        return cache[name]
    return get


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("name", list(NETWORKS))
def test_versions_match_tensorflow(built, tmp_path, name, mode):
    net = built(name)
    ours = our_model(net, MODES[mode], str(tmp_path))
    matched, mismatched, skipped = compare_versions(ours, tf_model(net, MODES[mode], str(tmp_path)))
    assert not mismatched, f"{name} {mode}: (ours, TF's) versions differ: {mismatched}"
    assert matched, f"{name} {mode}: no op type compared (skipped {skipped})"
    missing = MUST_COMPARE.get((name, mode), set()) - set(matched)
    assert not missing, f"{name} {mode}: not compared: {missing} (matched {matched}, skipped {skipped})"
    litert(ours, delegates=False)  # LiteRT has a kernel for every (op, version) we wrote


def test_compare_versions_uses_the_highest_version_and_skips_other_features():
    g = build({"x": (1, 4)}, {"w": np.ones((3, 4), np.float32), "v": np.ones((3, 3), np.float32)},
              [("FULLY_CONNECTED", ["x", "w"], ["h"]), ("FULLY_CONNECTED", ["h", "v", ""], ["y"])], ["y"])
    two = model_bytes(g)
    assert versions_by_type(two)["FULLY_CONNECTED"][0] == 6
    g.ops[0].inputs.append("")
    three = model_bytes(g)
    assert compare_versions(three, three) == ({"FULLY_CONNECTED": 1}, {}, [])
    assert compare_versions(two, three) == ({}, {}, ["FULLY_CONNECTED"])
