"""C bundles of whole networks: generated from converted .tflite files, built with the
bundle's own Makefile (-std=c99 -Wall -Wextra -Werror -pedantic -O2), run, and compared with
the reference interpreter; plus sanitizers, determinism, errors and the CLI."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from tests.support import networks
from tests.support.cli import assert_one_line_error, toco
from tests.support.codegen_check import check_bundle, one_op, roundtrip
from tests.support.irgraph import append_op
from tests.support.kernel_check import one_op_graph, quant
from tests.support.oracle import litert
from toco_py import api
from toco_py.codegen.bundle import generate_bundle
from toco_py.codegen.emitter import generate
from toco_py.codegen.lowering import CodegenError
from toco_py.codegen.verify import VerifyReport, build, check_run, compare, run_bundle, verify_bundle
from toco_py.interpreter import Interpreter
from toco_py.ir import Graph, Op, Tensor, const_tensor
from toco_py.passes.propagate_shapes import propagate_shapes
from toco_py.quantize.driver import QuantizeOptions
from toco_py.tensor_io import random_inputs
from toco_py.tflite.reader import read_model
from toco_py.tflite.writer import model_bytes


def converted(net: networks.Network) -> bytes:
    # Codegen has no FAKE_QUANT kernel (`check --target codegen` names it): the fake-quant
    # network is bundled with its emulation dropped.
    return api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs,
                             drop_fake_quant=True).model


@pytest.mark.parametrize("name", sorted(networks.SMALL_NETWORKS))
def test_small_network_bundle(name, tmp_path):
    graph = read_model(converted(networks.SMALL_NETWORKS[name]())).main
    check_bundle(graph, tmp_path, name=name, opt="-O2", more_seeds=range(1, 10))


def test_mobilenet_v2_bundle_matches_the_interpreter_and_litert(tmp_path):
    model = converted(networks.keras_application("MobileNetV2", 96))
    graph = read_model(model).main
    report = check_bundle(graph, tmp_path, name="mobilenet_v2", opt="-O2", more_seeds=range(1, 10))
    # The planner reuses memory: far less than every activation side by side.
    activations = sum(graph.tensors[n].size * 4 for op in graph.ops for n in op.outputs)
    assert report.arena_size < activations / 4
    # The kernels accumulate in LiteRT's reference order, so they agree with its reference
    # kernels far more closely than the numpy interpreter (BLAS sums differently) does.
    feeds = random_inputs(graph, 0)
    ours = run_bundle(str(tmp_path / "mobilenet_v2" / "mobilenet_v2_run"), graph, feeds)
    interp = litert(model, reference=True)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], feeds[graph.inputs[0]])
    interp.invoke()
    theirs = interp.get_tensor(interp.get_output_details()[0]["index"])
    got = ours[graph.outputs[0]]
    assert np.abs(got - theirs).max() <= 1e-6 * np.abs(theirs).max()


class Zoo:
    """A graph that chains many kernels, for the sanitizer build."""

    def __init__(self, shape) -> None:
        self.g = Graph()
        self.g.add_tensor(Tensor("x", shape, "float32"))
        self.g.inputs = ["x"]
        self.rng = np.random.default_rng(3)

    def const(self, value) -> str:
        return self.g.add_const("c", np.asarray(value))

    def weights(self, *shape) -> str:
        return self.const(self.rng.standard_normal(shape).astype(np.float32) * 0.3)

    def op(self, op_type: str, inputs: list, attrs: dict | None = None, outputs: int = 1) -> list[str]:
        return append_op(self.g, op_type, inputs, attrs, outputs, self.const)


def zoo_graph() -> Graph:
    z = Zoo((1, 8, 8, 3))
    same = {"padding": "SAME", "stride_h": 1, "stride_w": 1, "fused_activation_function": "RELU"}
    (h,) = z.op("CONV_2D", ["x", z.weights(4, 3, 3, 3), z.weights(4)], same)
    # Packed blocks with a partial last one, a depthwise vector block plus a tail.
    (wide,) = z.op("CONV_2D", [h, z.weights(19, 1, 1, 4), z.weights(19)], {**same, "padding": "VALID"})
    (dw,) = z.op("DEPTHWISE_CONV_2D", [wide, z.weights(1, 3, 3, 19), z.weights(19)],
                 {**same, "depth_multiplier": 1})
    (h,) = z.op("DEPTHWISE_CONV_2D", [h, z.weights(1, 3, 3, 8), z.weights(8)],
                {**same, "stride_h": 2, "stride_w": 2, "depth_multiplier": 2})
    (h,) = z.op("HARD_SWISH", [h])
    (t,) = z.op("TRANSPOSE_CONV", [np.int32([1, 8, 8, 4]), z.weights(4, 3, 3, 8), h],
                {"padding": "SAME", "stride_h": 2, "stride_w": 2})
    (p,) = z.op("MAX_POOL_2D", [t], {"padding": "SAME", "filter_height": 3, "filter_width": 3,
                                      "stride_h": 2, "stride_w": 2})
    (r,) = z.op("RESIZE_BILINEAR", [p, np.int32([8, 8])], {"half_pixel_centers": True})
    (m,) = z.op("MIRROR_PAD", [r, np.int32([[0, 0], [1, 1], [2, 2], [0, 0]])], {"mode": "REFLECT"})
    (s,) = z.op("STRIDED_SLICE", [m, np.int32([0, 9, 0, 0]), np.int32([1, 0, 12, 4]),
                                  np.int32([1, -2, 3, 1])], {})
    (n,) = z.op("RESIZE_NEAREST_NEIGHBOR", [s, np.int32([4, 4])], {"align_corners": True})
    (tr,) = z.op("TRANSPOSE", [n, np.int32([0, 3, 1, 2])])
    parts = z.op("SPLIT_V", [tr, np.int32([1, 3]), np.int32(1)], {"num_splits": 2}, outputs=2)
    (cat,) = z.op("CONCATENATION", [parts[1], parts[0]], {"axis": 1})
    (tile,) = z.op("TILE", [cat, np.int32([1, 1, 2, 1])])
    (mean,) = z.op("MEAN", [tile, np.int32([2, 3])], {"keep_dims": False})
    (fc,) = z.op("FULLY_CONNECTED", [mean, z.weights(6, 4), z.weights(6)], {})
    (sm,) = z.op("SOFTMAX", [fc], {"beta": 1.0})
    (q,) = z.op("QUANTIZE", [sm], {"output_type": "int8"})
    table = np.arange(12, dtype=np.float32).reshape(6, 2) / 6
    (g,) = z.op("GATHER", [table, np.int32([5, 0, 2])], {"axis": 0})
    rows = z.op("UNPACK", [g], {"axis": 0, "num": 3}, outputs=3)
    (packed,) = z.op("PACK", rows[::-1], {"axis": 1, "values_count": 3})
    (big,) = z.op("REDUCE_MAX", [packed, np.int32([1])], {"keep_dims": True})
    (add,) = z.op("ADD", [packed, big], {"fused_activation_function": "RELU6"})
    (prelu,) = z.op("PRELU", [add, np.float32([0.1, 0.2, 0.3])])
    (logistic,) = z.op("LOGISTIC", [prelu])
    (padded,) = z.op("PADV2", [logistic, np.int32([[1, 0], [0, 2]]), np.float32(0.5)])
    (l2,) = z.op("L2_NORMALIZATION", [fc])
    z.g.outputs = [q, l2, padded, dw]
    propagate_shapes(z.g)
    z.g.tensors[q].dtype, z.g.tensors[q].quant = "int8", quant(1 / 256, -128)
    return roundtrip(z.g)


def test_sanitizers_run_clean(tmp_path):
    graph = zoo_graph()
    assert len({op.type for op in graph.ops}) >= 18
    check_bundle(graph, tmp_path, name="zoo", opt="-O1 -g",
                 extra_cflags="-fsanitize=address,undefined -fno-sanitize-recover=all "
                              "-fno-omit-frame-pointer")


def test_same_model_gives_byte_identical_files(tmp_path):
    net = networks.SMALL_NETWORKS["fused_patterns"]()
    first, second = (read_model(converted(net)).main for _ in range(2))
    generate_bundle(first, str(tmp_path / "a"), "net", "net.tflite")
    generate_bundle(second, str(tmp_path / "b"), "net", "net.tflite")
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert {"net.h", "net.c", "net_weights.c", "main.c", "Makefile", "README.md"} <= set(files)
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def _relu_bundle(tmp_path):
    graph = one_op("RELU", [np.zeros((2, 3), np.float32)])
    generate_bundle(graph, str(tmp_path / "b"), "relu")
    return graph, tmp_path / "b"


def test_makefile_builds_with_werror_and_pedantic(tmp_path):
    _, folder = _relu_bundle(tmp_path)
    dry = subprocess.run(["make", "-n", "-C", str(folder)], capture_output=True, text=True, check=True)
    compiles = [line for line in dry.stdout.splitlines() if " -c " in line]
    assert len(compiles) == 5  # relu.c, relu_weights.c, common.c, activation.c, main.c
    for line in compiles:
        assert "-std=c99 -Wall -Wextra -Werror -pedantic -O2" in line, line
    assert "-lm" in dry.stdout and "malloc" not in "".join(p.read_text() for p in folder.glob("*.c"))
    # Every shipped header is a dependency of every object.
    headers = next(line for line in (folder / "Makefile").read_text().splitlines()
                   if line.startswith("HEADERS ="))
    assert sorted(headers.split()[2:]) == sorted(p.name for p in folder.glob("*.h"))
    build(str(folder), "relu")  # the Makefile's own flags, warnings as errors
    # The flags bite: one unused function, or one zero-size array (ISO C forbids it).
    for bad in ("static int unused_helper(void) { return 0; }\n", "extern int zero[0];\n"):
        source = folder / "common.c"
        source.write_text(source.read_text() + bad)
        done = subprocess.run(["make", "-C", str(folder)], check=False, capture_output=True, text=True)
        assert done.returncode != 0 and "error" in done.stderr, done.stderr
        source.write_text(source.read_text().replace(bad, ""))


def test_arena_section(tmp_path):
    """--arena_section puts the arena in that linker section (through NAME.h); the bundle
    still verifies. A name no linker takes is one line, nothing written."""
    graph, folder = _relu_bundle(tmp_path)
    model = tmp_path / "relu.tflite"
    model.write_bytes(model_bytes(graph))
    done = toco("codegen", str(model), "-o", str(tmp_path / "c"), "--arena_section", ".sram2", "--verify")
    assert done.returncode == 0, done.stderr
    assert '#define RELU_ARENA_SECTION ".sram2"' in (tmp_path / "c" / "relu.h").read_text()
    table = subprocess.run(["objdump", "-t", str(tmp_path / "c" / "relu.o")], capture_output=True, text=True,
                           check=True).stdout
    assert any(line.split()[-1:] == ["arena"] and ".sram2" in line.split() for line in table.splitlines()), table
    bad = toco("codegen", str(model), "-o", str(tmp_path / "d"), "--arena_section", 'a "b"')
    assert_one_line_error(bad, "--arena_section", ".sram2")
    assert not (tmp_path / "d").exists()


def test_verify_detects_a_wrong_bundle(tmp_path):
    graph = one_op("FULLY_CONNECTED", [np.zeros((1, 4), np.float32), np.eye(3, 4, dtype=np.float32)],
                   const={1})
    bundle = generate_bundle(graph, str(tmp_path / "fc"), "fc")
    weights = tmp_path / "fc" / "fc_weights.c"
    weights.write_text(weights.read_text().replace("1.0f", "1.0001f", 1))
    report = verify_bundle(graph, str(tmp_path / "fc"), "fc", bundle.plan.arena_size, opt="-O1")
    assert not report.passed and report.checks[0].max_abs > 0


@pytest.mark.parametrize("error, passed", [(0.5, True), (0.99, True), (1.01, False), (3.0, False)])
def test_float_comparison_is_against_the_allowance(error, passed):
    """Each element within its own allowance of the truth: an error of 1.01 allowances at one
    element fails however small it is against the output's range."""
    want = np.linspace(-1, 1, 50)
    allowed = np.full(50, 1e-6)
    allowed[7] = 1e-9
    got = want + error * allowed
    check = compare("y", want, got, allowed)
    assert check.passed == passed
    assert check.ratio == pytest.approx(error, rel=0.02)


def test_model_without_inputs_and_constant_outputs(tmp_path):
    g = one_op_graph("DEQUANTIZE", [np.linspace(-2, 2, 6).astype(np.float16)], const={0})
    g.add_tensor(const_tensor("k", np.arange(4, dtype=np.int32)))
    g.outputs.append("k")
    graph = roundtrip(g)
    assert graph.inputs == []
    check_bundle(graph, tmp_path)


def test_unsupported_ops_fail_before_anything_is_written(tmp_path):
    graph = one_op("CUMSUM", [np.zeros((2, 5), np.float32), np.int32(1)], {"exclusive": False, "reverse": False},
                   const={1})
    with pytest.raises(CodegenError, match=r"^codegen: no C kernel for op\(s\) #0 CUMSUM$"):
        generate_bundle(graph, str(tmp_path / "out"), "m")
    assert not (tmp_path / "out").exists()
    g = one_op_graph("RESIZE_BILINEAR", [np.zeros((1, 3, 3, 2), np.int8), np.int32([6, 6])], {},
                     const={1})
    for name in ("in0", "out0"):
        g.tensors[name].quant = quant(0.1)
    g.tensors["out0"].dtype = "int8"
    with pytest.raises(CodegenError, match=r"#0 RESIZE_BILINEAR \(int8\)"):
        generate(roundtrip(g), "m")


def test_bad_option_names_the_op_and_bad_names_are_refused():
    graph = one_op("STRIDED_SLICE", [np.zeros((1, 2, 3, 2, 1, 2, 2), np.float32), np.zeros(7, np.int32),
                                     np.full(7, 1, np.int32), np.ones(7, np.int32)], {}, const={1, 2, 3})
    with pytest.raises(CodegenError, match=r"^codegen: op #0 STRIDED_SLICE: the slice works on 7 axes.*up to 6$"):
        generate(graph, "m")
    for bad in ("2fast", "my-model", "conv", "main"):
        with pytest.raises(CodegenError, match="--name"):
            generate(graph, bad)


@pytest.mark.parametrize("op_type, w_shape", [("CONV_2D", (2, 1, 1, 3)),
                                              ("DEPTHWISE_CONV_2D", (1, 1, 1, 3)),
                                              ("MAX_POOL_2D", None)])
def test_window_ops_refuse_inputs_that_are_not_4d(op_type, w_shape):
    g = Graph()
    g.add_tensor(Tensor("x", (1, 4, 3), "float32"))
    g.inputs.append("x")
    inputs = ["x"]
    if w_shape:
        g.add_tensor(const_tensor("w", np.ones(w_shape, np.float32)))
        g.add_tensor(const_tensor("b", np.zeros(w_shape[0] * w_shape[3] // 3, np.float32)))
        inputs += ["w", "b"]
    g.add_tensor(Tensor("y", (1, 4, 1, 3), "float32"))
    attrs = {"padding": "VALID", "filter_height": 1, "filter_width": 1}
    g.add_op(Op(op_type, inputs, ["y"], attrs, "op"))
    g.outputs = ["y"]
    with pytest.raises(CodegenError, match=rf"^codegen: op #0 {op_type} \(op\): tensor 'x' must be 4-D"):
        generate(g, "m")


def test_cli_codegen_verify(tmp_path):
    model = tmp_path / "tiny.tflite"
    model.write_bytes(converted(networks.SMALL_NETWORKS["tile_range"]()))
    proc = toco("codegen", str(model), "-o", str(tmp_path / "bundle"), "--verify", "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    assert "arena" in proc.stderr and "pass" in proc.stdout and "FAIL" not in proc.stdout
    assert (tmp_path / "bundle" / "tiny.h").exists() and (tmp_path / "bundle" / "tiny_run").exists()
    bad = tmp_path / "cumsum.tflite"
    from toco_py.tflite.writer import model_bytes
    bad.write_bytes(model_bytes(one_op_graph("CUMSUM", [np.zeros((2, 5), np.float32), np.int32(1)],
                                             {"exclusive": False, "reverse": False}, const={1})))
    proc = toco("codegen", str(bad), "-o", str(tmp_path / "nothing"))
    assert_one_line_error(proc, "#0 CUMSUM")
    assert not (tmp_path / "nothing").exists()


def _weights_off(kind: str, count: int, change):
    """The first `count` values of the first `kind` weight array of the bundle, changed."""
    def edit(source: str) -> str:
        start = source.index("{", source.index(f"const {kind}")) + 1
        values = source[start:].split(",", count)
        changed = [f" {change(v.strip())}" for v in values[:count]]
        return source[:start] + ",".join(changed + values[count:])
    return edit


def _ulps_up(literal: str, steps: int) -> str:
    value = np.float32(literal.rstrip("f"))
    return f"{float(value + steps * np.spacing(value)):.9g}f"


SABOTAGED_KERNELS = {
    "float: bias dropped": ("float", "conv.c", lambda c: c.replace(
        "bias ? sums[p][j] + bias[oc + j] : sums[p][j]", "((void)bias, sums[p][j])")),
    "float: one weight 2^12 ulps off": ("float", "digits_weights.c",
                                        _weights_off("float", 1, lambda v: _ulps_up(v, 2 ** 12))),
    "float: padding off by one": ("float", "conv.c",
                                  lambda c: c.replace("oy * stride_h - pad_top;", "oy * stride_h - pad_top + 1;")),
    # In the portable loops and in the x86 path's staging, whichever the host runs.
    "int8: padding off by one": ("int8", ("conv_s8.c", "conv_x86_s8.h"),
                                 lambda c: c.replace("oy * stride_h - pad_top;", "oy * stride_h - pad_top + 1;")
                                 .replace("stride_h - pad_top + ky", "stride_h - pad_top + 1 + ky")),
}


@pytest.fixture(scope="module")
def digits_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    pb = "examples/models/digits_cnn.pb"
    api.convert(pb, str(folder / "float.tflite"))
    api.convert(pb, str(folder / "int8.tflite"), quantize=QuantizeOptions(
        "int8", calibration_data="examples/models/digits_calibration.npz"))
    return {mode: read_model((folder / f"{mode}.tflite").read_bytes()).main for mode in ("float", "int8")}


@pytest.mark.parametrize("sabotage", SABOTAGED_KERNELS)
def test_sabotaged_kernel_fails_verify_at_every_seed(digits_models, sabotage, tmp_path):
    mode, files, edit = SABOTAGED_KERNELS[sabotage]
    graph = digits_models[mode]
    bundle = generate_bundle(graph, str(tmp_path / "digits"), "digits")
    for file in (files,) if isinstance(files, str) else files:
        source = tmp_path / "digits" / file
        text = source.read_text()
        assert edit(text) != text, f"the sabotage no longer applies to {file}"
        source.write_text(edit(text))
    for seed in range(3):
        report = verify_bundle(graph, str(tmp_path / "digits"), "digits", bundle.plan.arena_size,
                               seed=seed, opt="-O1")
        assert not report.passed, (sabotage, seed)


def test_int8_bundle_with_one_weight_off_fails_verify_wherever_it_shows(digits_models, tmp_path):
    """A bundle made with one int8 conv weight one step off, verified against the correct
    model: it fails at every seed where that step changes an output (a requantization can
    round it away, and then the outputs are the same bit for bit), and there are such seeds."""
    from copy import deepcopy

    graph = digits_models["int8"]
    broken = deepcopy(graph)
    weights = broken.tensors[next(op for op in broken.ops if op.type == "CONV_2D").inputs[1]]
    weights.data = weights.data.copy()
    weights.data.flat[0] += 1 if weights.data.flat[0] < 127 else -1
    bundle = generate_bundle(broken, str(tmp_path / "digits"), "digits")
    binary = build(str(tmp_path / "digits"), "digits", opt="-O1")
    shows = []
    for seed in range(10):
        feeds = random_inputs(graph, seed)
        visible = any(not np.array_equal(a, b) for a, b in zip(
            Interpreter(graph).run(feeds).values(), Interpreter(broken).run(feeds).values()))
        report = VerifyReport(check_run(graph, binary, feeds), bundle.plan.arena_size)
        assert report.passed != visible, seed
        shows.append(visible)
    assert any(shows)
