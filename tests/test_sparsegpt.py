"""--prune_method sparsegpt (compress/sparsegpt.py): the weights kept compensate for those removed,
judged by the layer's output error on held-out inputs and by the digits CNN's top-1 on its 397
held-out real digits in LiteRT; the same share of zeros as magnitude pruning, 1xB runs whole;
one-line errors for the flags."""
import numpy as np
import pytest

from tests.support import networks
from tests.support.cli import assert_one_line_error, toco
from tests.support.kernel_check import one_op_graph
from tests.support.oracle import litert
from toco_py import api
from toco_py.compress.cluster import ClusterOptions
from toco_py.compress.prune import PruneOptions, prunable, prune_weights
from toco_py.compress.sparsegpt import input_moments, obs_prune
from toco_py.quantize.driver import QuantizeOptions

MODELS = "examples/models"


def correlated_inputs(count: int, mixing: np.ndarray, rng) -> np.ndarray:
    """Rows of 48 inputs mixed from 12 sources: strongly correlated, as a layer's inputs are."""
    return (rng.standard_normal((count, 12)) @ mixing + 0.1 * rng.standard_normal((count, 48))).astype(np.float32)


@pytest.mark.parametrize("block", [1, 4])
def test_layer_output_error_falls_with_the_same_zeros(block):
    rng = np.random.default_rng(3)
    weights = rng.standard_normal((16, 48)).astype(np.float32)
    mixing = rng.standard_normal((12, 48))
    x = correlated_inputs(256, mixing, rng)  # 4 vectors per input value: enough to trust H
    graph = one_op_graph("FULLY_CONNECTED", [x[:1], weights], const={1})
    op = graph.ops[0]
    moments = input_moments(graph, [{"in0": row[None]} for row in x])
    compensated = obs_prune(op, weights, moments, (0, op.inputs[1]), 0.5, block)
    assert compensated is not None  # 256 vectors of 48 inputs: H is trusted
    magnitude = prune_weights(weights, 0.5, block)
    assert np.count_nonzero(compensated == 0) == np.count_nonzero(magnitude == 0) == weights.size // 2
    runs = (compensated == 0).reshape(16, -1, block)
    assert np.all(runs.all(-1) == runs.any(-1))  # whole runs
    held = correlated_inputs(256, mixing, rng)

    def error(w):
        return float(np.mean(np.abs(held @ (weights - w).T)))
    # Measured: 0.25x (1x1) and 0.07x (1x4) of magnitude pruning's mean output error.
    assert error(compensated) < 0.4 * error(magnitude), (error(compensated), error(magnitude))
    again = obs_prune(op, weights, moments, (0, op.inputs[1]), 0.5, block)
    assert np.array_equal(again, compensated)


def _digits_top1(model: bytes) -> float:
    data = np.load(f"{MODELS}/digits_test.npz")
    interp = litert(model)
    hits = 0
    for image, label in zip(data["image"], data["label"]):
        interp.set_tensor(interp.get_input_details()[0]["index"], image[None])
        interp.invoke()
        hits += int(np.argmax(interp.get_tensor(interp.get_output_details()[0]["index"])) == label)
    return hits / len(data["label"])


@pytest.fixture(scope="module")
def training_digits(tmp_path_factory) -> str:
    """400 of the digits the example CNN was trained on (the 397 held out are examples/'s test set):
    its logits FC has 32 inputs, and H is trusted from 4 vectors per input value."""
    path = tmp_path_factory.mktemp("digits") / "train.npz"
    np.savez(path, image=networks.digits_data()[0][0][:400])
    return str(path)


def _first_layer_dense(sparsity: float, method: str, calibration_file: str) -> PruneOptions:
    """The sparsity over all conv/FC weights, the first layer (3x3 taps of one channel) kept."""
    graph = api.convert(f"{MODELS}/digits_cnn.pb", None).graph
    weights = [graph.tensors[op.inputs[i]] for op in graph.ops if (i := prunable(op)) is not None]
    total = sum(w.data.size for w in weights)
    calibration = (calibration_file, 0.0, 1.0, None)
    return PruneOptions(sparsity * total / (total - weights[0].data.size), schedule={weights[0].name: 0.0},
                        method=method, calibration=calibration if method == "sparsegpt" else None)


def test_digits_keep_their_accuracy_at_half_the_weights(training_digits):
    """The issue's target: top-1 within 1 point of float at 50% + 16 clusters + int8."""
    float_top1 = _digits_top1(api.convert(f"{MODELS}/digits_cnn.pb", None).model)
    quantize = QuantizeOptions("int8", calibration_data=training_digits)
    top1 = {}
    for method in ("magnitude", "sparsegpt"):
        result = api.convert(f"{MODELS}/digits_cnn.pb", None, prune=_first_layer_dense(0.5, method, training_digits),
                             cluster=ClusterOptions(16, per_channel=True), quantize=quantize, measure_savings=False)
        weights = [result.graph.tensors[op.inputs[i]] for op in result.graph.ops if (i := prunable(op)) is not None]
        assert sum(np.count_nonzero(w.data == 0) for w in weights) >= 0.5 * sum(w.data.size for w in weights)
        top1[method] = _digits_top1(result.model)
    assert top1["sparsegpt"] >= float_top1 - 0.01, (top1, float_top1)
    assert top1["sparsegpt"] > top1["magnitude"], top1


def test_measured_shares_keep_float_accuracy_without_a_schedule(training_digits):
    """--prune 0.5 --prune_allocation measured: half of all the weights, taken where the layers'
    outputs lose least (the first convolution keeps most of its 9 taps)."""
    float_top1 = _digits_top1(api.convert(f"{MODELS}/digits_cnn.pb", None).model)
    prune = PruneOptions(0.5, method="sparsegpt", allocation="measured",
                         calibration=(training_digits, 0.0, 1.0, None))
    result = api.convert(f"{MODELS}/digits_cnn.pb", None, prune=prune, cluster=ClusterOptions(16, per_channel=True),
                         quantize=QuantizeOptions("int8", calibration_data=training_digits), measure_savings=False)
    weights = [result.graph.tensors[op.inputs[i]] for op in result.graph.ops if (i := prunable(op)) is not None]
    shares = [np.count_nonzero(w.data == 0) / w.data.size for w in weights]
    assert sum(np.count_nonzero(w.data == 0) for w in weights) >= 0.5 * sum(w.data.size for w in weights)
    assert shares[0] < 0.25 < shares[1], shares  # measured: 6%, 54%, 14%
    # Measured: 0.990, float's own top-1; 50% of each layer gives 0.912.
    assert _digits_top1(result.model) >= float_top1 - 0.01


def test_flag_errors(tmp_path):
    out = tmp_path / "m.tflite"
    base = ["convert", "--graph_def_file", f"{MODELS}/digits_cnn.pb", "--output_file", str(out)]
    assert_one_line_error(toco(*base, "--prune", "0.5", "--prune_method", "sparsegpt"),
                          "--prune_method sparsegpt measures each layer's inputs: give --calibration-data")
    assert_one_line_error(toco(*base, "--prune_method", "sparsegpt"), "give one of them")
    assert_one_line_error(toco(*base, "--prune", "0.5", "--prune_allocation", "measured"),
                          "--prune_allocation measured spreads --prune's share by what sparsegpt measures")
    assert not out.exists()
    proc = toco(*base, "--prune", "0.5", "--prune_method", "sparsegpt", "--calibration-data",
                f"{MODELS}/digits_calibration.npz")
    assert proc.returncode == 0, proc.stderr
    assert "the rest compensating (sparsegpt)" in proc.stderr
