"""The float tolerance policy (toco_py/tolerance.py) on every network of the suite: correct
runs (our interpreter, LiteRT's builtin and reference kernels, on our conversions and on TF's
converter's) never fail at any of 10 seeds, and sabotaged kernels always do."""
from dataclasses import replace

import numpy as np
import pytest

from tests.support import networks
from tests.support.oracle import tf_convert
from tests.support.policy import end_to_end_failures, policy_failures
from toco_py import api
from toco_py.interpreter import Interpreter
from toco_py.ops import REGISTRY
from toco_py.tensor_io import random_inputs
from toco_py.tflite.reader import read_model

NETWORKS = sorted(networks.SMALL_NETWORKS) + list(networks.KERAS_APPLICATIONS)


def network(name: str) -> networks.Network:
    if name in networks.SMALL_NETWORKS:
        return networks.SMALL_NETWORKS[name]()
    return networks.keras_application(name, 96 if name != "InceptionV3" else 75)


def model_of(net: networks.Network, converter: str, tmp_path) -> bytes:
    if converter == "toco-py":
        return api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs).model
    pb = tmp_path / "m.pb"
    pb.write_bytes(net.pb)
    return tf_convert(str(pb), list(net.inputs), net.outputs)


@pytest.mark.parametrize("name", NETWORKS)
def test_correct_runs_pass_at_ten_seeds(name, tmp_path):
    """Our conversion in our interpreter and in LiteRT's builtin and reference kernels, and TF's
    converter's conversion in ours and in LiteRT, each judged against the truth of our model."""
    net = network(name)
    ours, theirs = (model_of(net, converter, tmp_path) for converter in ("toco-py", "tensorflow"))
    failures = end_to_end_failures(ours, seeds=range(10), kinds=("builtin", "reference"),
                                   same_function=(theirs,))
    assert not failures, failures


# ---- sabotage: each broken kernel must be caught ---------------------------------------------


def _bias_dropped(kernel):
    return lambda op, x, w, b=None: kernel(op, x, w, None)


def _padding_off_by_one(kernel):
    """The input read one row lower than it is: what a wrong padding origin does."""
    def sabotaged(op, x, w, b=None):
        shifted = np.concatenate([np.zeros_like(x[:, :1]), x[:, :-1]], axis=1)
        return kernel(op, shifted, w, b)
    return sabotaged


def _one_weight_off(steps: int):
    """The largest weight of each filter moved by `steps` float32 ulps."""
    def sabotage(kernel):
        def sabotaged(op, x, w, b=None):
            w = w.copy()
            flat = w.reshape(-1)
            i = int(np.argmax(np.abs(flat)))
            flat[i] = flat[i] + steps * np.spacing(flat[i].astype(np.float32))
            return kernel(op, x, w, b)
        return sabotaged
    return sabotage


SABOTAGES = {"bias dropped": _bias_dropped, "padding off by one": _padding_off_by_one,
             "one weight 2^12 ulps off": _one_weight_off(2 ** 12)}


@pytest.fixture(scope="module")
def mobilenet_v2():
    return read_model(api.convert_bytes(networks.keras_application("MobileNetV2", 96).pb).model).main


@pytest.mark.parametrize("sabotage", SABOTAGES)
@pytest.mark.parametrize("seed", range(3))
def test_sabotaged_conv_always_fails(mobilenet_v2, sabotage, seed, monkeypatch):
    graph = mobilenet_v2
    feeds = random_inputs(graph, seed)
    conv = REGISTRY["CONV_2D"]
    with monkeypatch.context() as patch:
        patch.setitem(REGISTRY, "CONV_2D", replace(conv, kernel=SABOTAGES[sabotage](conv.kernel)))
        broken = Interpreter(graph).run(feeds)
    assert policy_failures(graph, feeds, {"sabotaged": broken})
    assert not policy_failures(graph, feeds, {"correct": Interpreter(graph).run(feeds)})
