"""Patch-based execution (codegen --max_arena, codegen/tiling.py): the tiled graph computes the
model's own outputs (int8 bit for bit, in the interpreter and in the bundle, under ASan too),
in a smaller arena; an arena out of reach is one line naming the smallest one."""
from __future__ import annotations

import numpy as np
import pytest

from tests.support import networks
from tests.support.cli import assert_one_line_error, toco
from tests.support.codegen_check import check_bundle
from tests.test_codegen_int8_nn import int8_model
from toco_py import api
from toco_py.codegen import tiling
from toco_py.codegen.planner import plan_memory
from toco_py.interpreter import Interpreter
from toco_py.tensor_io import random_inputs
from toco_py.tflite.reader import read_model

SANITIZERS = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory) -> bytes:
    """MobileNetV2 at 96x96, int8 (as toco-py converts it)."""
    return int8_model(networks.keras_application("MobileNetV2", 96), tmp_path_factory.mktemp("mnv2"))


def test_tiled_graphs_compute_the_models_outputs(mobilenet):
    graph = read_model(mobilenet).main
    found = tiling.options(graph)
    untiled = plan_memory(graph).arena_size
    smallest = min(found, key=lambda o: o.arena)
    # Patches of the first blocks take the 112x112 (here 48x48) activations out of the arena.
    assert smallest.arena < 0.6 * untiled, (smallest.arena, untiled)
    first_cut = min(found, key=lambda o: (list(graph.tensors).index(o.cut), o.tiles))
    for option in (smallest, first_cut, max(found, key=lambda o: o.macs)):
        for seed in (0, 1):
            feeds = random_inputs(graph, seed)
            want, got = Interpreter(graph).run(dict(feeds)), Interpreter(option.graph).run(dict(feeds))
            for name in graph.outputs:
                np.testing.assert_array_equal(got[name], want[name], err_msg=f"{option.cut} {option.tiles}")
        assert option.macs >= tiling.conv_macs(graph)
    assert smallest.macs > tiling.conv_macs(graph)  # its tiles' overlaps are recomputed


def test_tiled_bundle_runs_clean_under_sanitizers(mobilenet, tmp_path):
    graph = read_model(mobilenet).main
    tiled, chosen = tiling.choose(graph, 200_000)
    assert "tiles up to" in chosen
    report = check_bundle(tiled, tmp_path, name="tiled", opt="-O1 -g", extra_cflags=SANITIZERS)
    assert report.arena_size <= 200_000 < plan_memory(graph).arena_size


def test_max_arena_through_the_command(mobilenet, tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(mobilenet)
    done = toco("codegen", str(model), "-o", str(tmp_path / "c"), "--max_arena", "180000", "--verify",
                timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tiles up to" in done.stderr and "pass" in done.stdout
    arena = int(next(line for line in (tmp_path / "c" / "m.h").read_text().splitlines()
                     if "M_ARENA_SIZE" in line and "#define" in line).split()[-1])
    assert arena <= 180_000
    # Enough already: the model as it is.
    done = toco("codegen", str(model), "-o", str(tmp_path / "d"), "--max_arena", "10000000")
    assert done.returncode == 0 and "untiled" in done.stderr, done.stderr
    # Out of reach: one line with the smallest arena, nothing written.
    done = toco("codegen", str(model), "-o", str(tmp_path / "e"), "--max_arena", "1000", timeout=600)
    assert_one_line_error(done, "--max_arena 1000", "smallest arena reachable")
    assert not (tmp_path / "e").exists()


def test_float_network_tiled_within_the_policy(tmp_path):
    net = networks.SMALL_NETWORKS["conv_bn_separable"]()
    model = tmp_path / "f.tflite"
    model.write_bytes(api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs).model)
    graph = read_model(model.read_bytes()).main
    smallest = min(tiling.options(graph), key=lambda o: o.arena)
    assert smallest.arena < plan_memory(graph).arena_size
    done = toco("codegen", str(model), "-o", str(tmp_path / "c"), "--max_arena", str(smallest.arena), "--verify")
    assert done.returncode == 0, done.stdout + done.stderr
