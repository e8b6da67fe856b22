"""C bundles of TensorFlow's converter's models (float and full-integer int8), not just ours:
generated, built at -O2 and run against the reference interpreter, and the interpreter
against LiteRT on the same file."""
from __future__ import annotations

import networks
import numpy as np
import pytest
from codegen_check import check_bundle
from oracle import run_litert, tf_convert
from test_int8_models import calibration_file, int8_tf, samples_of

from toco_py.codegen.lowering import unsupported_ops
from toco_py.interpreter import Interpreter
from toco_py.tensor_io import random_inputs
from toco_py.tflite.reader import read_model

NETWORKS = ["conv_bn_separable", "lstm_language_model", "gru_static_rnn", "fused_patterns"]


def tf_float(net, tmp_path) -> bytes:
    pb = tmp_path / "m.pb"
    pb.write_bytes(net.pb)
    return tf_convert(str(pb), list(net.inputs), net.outputs)


def tf_int8(net, tmp_path) -> bytes:
    return int8_tf(net, tmp_path, samples_of(calibration_file(net, tmp_path), net))


@pytest.mark.parametrize("mode", ["float", "int8"])
@pytest.mark.parametrize("name", NETWORKS)
def test_bundle_of_tf_converter_model(name, mode, tmp_path):
    net = networks.SMALL_NETWORKS[name]()
    model = (tf_float if mode == "float" else tf_int8)(net, tmp_path)
    graph = read_model(model).main
    assert not unsupported_ops(graph)
    if mode == "int8":
        assert any(t.dtype == "int8" for t in graph.tensors.values())
    check_bundle(graph, tmp_path, name="tf_model", opt="-O2")
    # The judge of the bundle is our interpreter; on this file it agrees with LiteRT.
    feeds = random_inputs(graph, 0)
    ours = Interpreter(graph).run(feeds)
    lite = run_litert(model, feeds, reference=True)
    for output in graph.outputs:
        want = np.asarray(lite[output]).reshape(ours[output].shape)
        if mode == "int8":
            np.testing.assert_array_equal(ours[output], want)
        else:
            np.testing.assert_allclose(ours[output], want, rtol=0, atol=1e-5 * np.abs(want).max())
