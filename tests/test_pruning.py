"""--prune, --prune_schedule, --prune_block (toco_py/compress/prune.py): which weights go, in
every dtype the model is written in, read back from the file; LiteRT runs the pruned models
as our interpreter does; bad input is one line."""
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.support import networks
from tests.support.cli import assert_one_line_error, toco
from tests.support.oracle import freeze
from tests.support.quant_models import calibration_file, differing_elements, runs_with_default_delegate
from toco_py import api
from toco_py.compress.cluster import ClusterOptions
from toco_py.compress.prune import PruneOptions, prune_weights
from toco_py.compress.savings import gzip_size
from toco_py.quantize.driver import QuantizeOptions
from toco_py.tflite.reader import read_graph

WEIGHTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
DIGITS_PB = Path(__file__).parent.parent / "examples" / "models" / "digits_cnn.pb"


@pytest.mark.parametrize("shape,sparsity", [((16, 3, 3, 8), 0.5), ((10, 37), 0.75), ((1, 3, 3, 24), 0.3)])
def test_least_magnitude_weights_go(shape, sparsity):
    w = np.random.default_rng(0).normal(0, 1, shape).astype(np.float32)
    pruned = prune_weights(w, sparsity)
    gone = pruned == 0
    assert gone.sum() == round(sparsity * w.size)
    assert np.abs(w[gone]).max() <= np.abs(w[~gone]).min()
    assert np.array_equal(pruned[~gone], w[~gone])


@pytest.mark.parametrize("block", [4, 16])
def test_blocks_go_whole_by_mean_magnitude(block):
    w = np.random.default_rng(1).normal(0, 1, (12, 3, 3, 6)).astype(np.float32)  # rows of 54: a short last run
    pruned = prune_weights(w, 0.5, block).reshape(12, -1)
    rows = w.reshape(12, -1)
    runs = [(r, start) for r in range(12) for start in range(0, 54, block)]
    dropped = [(r, s) for r, s in runs if not pruned[r, s:s + block].any()]
    kept = [(r, s) for r, s in runs if pruned[r, s:s + block].any()]
    assert len(dropped) == round(0.5 * len(runs))
    for r, s in kept:  # a run is wholly kept or wholly dropped
        assert np.array_equal(pruned[r, s:s + block], rows[r, s:s + block])
    mean = {run: np.abs(rows[run[0], run[1]:run[1] + block]).mean() for run in runs}
    assert max(mean[d] for d in dropped) <= min(mean[k] for k in kept)


def _weights(model: bytes) -> dict[str, np.ndarray]:
    """Each weighted op's weights as the file stores them (dequantized ops' weights too)."""
    graph = read_graph(model)
    producers = {out: op for op in graph.ops for out in op.outputs}
    found = {}
    for op in graph.ops:
        if op.type in WEIGHTED:
            name = op.inputs[1]
            while graph.tensors[name].data is None and name in producers:  # float16's DEQUANTIZE
                name = producers[name].inputs[0]
            found[op.outputs[0]] = np.asarray(graph.tensors[name].data)
    return found


@pytest.mark.parametrize("mode", [None, "float16", "dynamic", "int8", "int16x8"])
def test_every_dtype_keeps_the_zeros(tmp_path, mode):
    net = networks.SMALL_NETWORKS["conv_bn_separable"]()
    quantize = None if mode is None else QuantizeOptions(
        mode, calibration_data=calibration_file(net, tmp_path, count=4) if "int" in mode else None)
    if mode == "int16x8":
        from toco_py.quantize.schemes import INT16X8
        quantize.int8.scheme = INT16X8
    result = api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs,
                               quantize=quantize, prune=PruneOptions(0.6))
    weights = _weights(result.model)
    assert len(weights) >= 3
    for name, w in weights.items():
        assert abs(np.mean(w == 0) - 0.6) < 0.5 / w.size + 1e-9, name
    assert any(n.startswith("--prune: ") for n in result.notes), result.notes
    if mode in ("int8", "int16x8"):
        assert differing_elements(result.model) == 0


def test_pruned_float_model_validates_against_litert(tmp_path):
    net = networks.SMALL_NETWORKS["fused_patterns"]()
    (tmp_path / "m.pb").write_bytes(net.pb)
    out = tmp_path / "p.tflite"
    proc = toco("convert", "--graph_def_file", str(tmp_path / "m.pb"), "-o", str(out), "--prune", "0.5",
                "--prune_block", "1x4", "--input_arrays", ",".join(net.inputs),
                "--output_arrays", ",".join(net.outputs))
    assert proc.returncode == 0, proc.stderr
    assert "(blocks 1x4)" in proc.stderr
    proc = toco("validate", str(out), "--samples", "3")  # our interpreter against LiteRT, float policy
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_schedule_by_scope_and_longest_key(tmp_path):
    schedule = tmp_path / "s.json"
    schedule.write_text(json.dumps({"conv2": 0.9, "conv2/Conv2D": 0.25, "logits": 0.0}))
    from toco_py.compress.prune import prune_options

    options = prune_options(0.5, str(schedule), None)
    result = api.convert(str(DIGITS_PB), prune=options)
    zeros = {name.split("/")[0]: float(np.mean(w == 0)) for name, w in _weights(result.model).items()}
    assert zeros["conv1"] == pytest.approx(0.5, abs=0.01)
    assert zeros["conv2"] == pytest.approx(0.25, abs=0.01)  # the longer key wins
    assert zeros["logits"] == 0.0


@pytest.mark.parametrize("flags,content,fragment", [
    (("--prune", "1.0"), None, "sparsity 1.0 is not a share"),
    (("--prune_block", "1x4"), None, "give one of them"),
    (("--prune_schedule", "{s}"), "[0.5]", "write a JSON object"),
    (("--prune_schedule", "{s}"), "{not json", "not JSON"),
    (("--prune_schedule", "{s}"), '{"nowhere": 0.5}', "no conv or FC layer named 'nowhere'"),
    (("--prune_schedule", "{s}"), '{"conv1": "half"}', "sparsity 'half' is not a share"),
    (("--prune_schedule", "{s}missing"), None, "cannot read it"),
])
def test_bad_input(tmp_path, flags, content, fragment):
    schedule = tmp_path / "s.json"
    if content is not None:
        schedule.write_text(content)
    out = tmp_path / "p.tflite"
    proc = toco("convert", "--graph_def_file", str(DIGITS_PB), "-o", str(out), *[f.format(s=schedule) for f in flags])
    assert_one_line_error(proc, fragment)
    assert not out.exists()


def _ops(model: bytes) -> list[str]:
    return [op.type for op in read_graph(model).ops]


def _sparse_weights(model: bytes) -> dict[str, str]:
    """Sparse constants by name -> the type of the op reading them."""
    graph = read_graph(model)
    return {name: graph.consumers(name)[0].type for name, t in graph.tensors.items() if t.sparsity is not None}


# Per mode and block: the sparse weights' readers (D: a DENSIFY; FC: the FULLY_CONNECTED
# itself), the others left dense as smaller so: int8's 144-byte and float16's 288-byte first
# filter, and int8 FC weights (sparse_encoding.py: test_int8_fc_weights_stay_dense).
STORED = {(None, "1x4"): {"conv1": "D", "conv2": "D", "logits": "FC"},
          (None, None): {"conv1": "D", "conv2": "D", "logits": "FC"},
          ("int8", "1x16"): {"conv2": "D"},
          ("int8", None): {"conv2": "D"},
          ("float16", "1x4"): {"conv2": "D", "logits": "D"}}


@pytest.mark.parametrize("mode,block", list(STORED))
def test_pruned_weights_stored_sparse_where_smaller(tmp_path, mode, block):
    """At 80%, the weights are stored sparse where that is smaller, counting the tables and
    DENSIFY it adds: the convolutions' behind a DENSIFY, the FC's read by LiteRT's
    FULLY_CONNECTED itself where its layout allows (float32 unblocked or 1x4). LiteRT runs the
    file as we do."""
    args = ["--prune", "0.8"] + (["--prune_block", block] if block else [])
    if mode:
        np.save(tmp_path / "cal.npy", np.random.default_rng(0).uniform(0, 1, (8, 8, 8, 1)).astype(np.float32))
        args += ["--quantize", mode] + (["--calibration-data", str(tmp_path / "cal.npy")] if mode == "int8" else [])
    files = {}
    for name, flags in (("pruned", args), ("plain", args[2 + 2 * bool(block):])):
        files[name] = tmp_path / f"{name}.tflite"
        proc = toco("convert", "--graph_def_file", str(DIGITS_PB), "-o", str(files[name]), *flags)
        assert proc.returncode == 0, proc.stderr
    model = files["pruned"].read_bytes()
    readers = {name.split("/")[0]: "FC" if reader == "FULLY_CONNECTED" else reader[0]
               for name, reader in _sparse_weights(model).items()}
    assert readers == STORED[mode, block]
    # Measured: 0.34-0.55 of the unpruned file (float32 0.37, int8 0.53).
    # Measured file sizes against the unpruned model's: float32 0.34 (1x4) and 0.38, int8 0.73
    # (1x16) and 0.85 (only conv2 sparse), float16 0.48.
    bound = {None: 0.4, "int8": 0.87, "float16": 0.5}[mode]
    assert len(model) < bound * files["plain"].stat().st_size
    runs_with_default_delegate(model)  # XNNPACK takes every DENSIFY we write
    if mode == "int8":
        assert differing_elements(model) == 0
    else:
        proc = toco("validate", str(files["pruned"]), "--samples", "3")
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_light_pruning_stays_dense():
    """At 10% zeros the CSR indices cost more than the zeros save: nothing is stored sparse."""
    result = api.convert(str(DIGITS_PB), prune=PruneOptions(0.1))
    assert "no pruned weight is smaller stored sparse" in " ".join(result.notes)
    assert not _sparse_weights(bytes(result.view)) and "DENSIFY" not in _ops(bytes(result.view))


def test_savings_can_be_left_unmeasured():
    """measure_savings=False (the benchmark's conversions) writes the same bytes, with the
    gzipped size but no savings rows."""
    options = {"prune": PruneOptions(0.5), "cluster": ClusterOptions(8)}
    measured = api.convert(str(DIGITS_PB), **options)
    unmeasured = api.convert(str(DIGITS_PB), measure_savings=False, **options)
    assert [s.technique.split(" ")[0] for s in measured.savings] == ["pruning", "clustering"]
    assert unmeasured.savings == [] and unmeasured.model == measured.model
    assert unmeasured.gzip_bytes == measured.gzip_bytes == gzip_size(measured.model)


def _wide_mlp():
    def build():
        rng = np.random.default_rng(2)
        x = tf.compat.v1.placeholder(tf.float32, [1, 64], name="x")
        h = tf.nn.relu(tf.matmul(x, rng.normal(0, 0.2, (64, 256)).astype(np.float32)))
        return {"y": tf.matmul(h, rng.normal(0, 0.1, (256, 10)).astype(np.float32), name="y")}
    return freeze(build)


def test_int8_fc_weights_stay_dense(tmp_path):
    """LiteRT's default kernels (XNNPACK) refuse an int8 FULLY_CONNECTED whose weights come from
    a DENSIFY ("failed to prepare"), and its 1x16 sparse kernel is not its dense one's arithmetic:
    pruned int8 FC weights are written dense, and phones' LiteRT loads the model."""
    pb, names = _wide_mlp()
    np.save(tmp_path / "cal.npy", np.random.default_rng(0).normal(0, 1, (16, 64)).astype(np.float32))
    for block in (1, 16):
        result = api.convert_bytes(pb, output_arrays=[names["y"]], prune=PruneOptions(0.8, block=block),
                                   quantize=QuantizeOptions("int8", calibration_data=str(tmp_path / "cal.npy")))
        assert not _sparse_weights(result.model) and "DENSIFY" not in _ops(result.model)
        runs_with_default_delegate(result.model)
        assert differing_elements(result.model) == 0
    float_model = api.convert_bytes(pb, output_arrays=[names["y"]], prune=PruneOptions(0.8)).model
    assert set(_sparse_weights(float_model).values()) == {"FULLY_CONNECTED"}  # float32 FCs read them
    runs_with_default_delegate(float_model)
