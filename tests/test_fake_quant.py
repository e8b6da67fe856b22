"""Fake-quant graphs in float mode (issue 11 point 5): the float .tflite keeps the rounding of
the activation fake-quant nodes, so LiteRT computes what TensorFlow computes on the .pb;
--drop_fake_quant removes them; --quantize int8 takes their ranges instead.

Where LiteRT and TensorFlow may differ at all: both QUANTIZE and FAKE_QUANT round x / scale
(or (x - min) * (1 / scale)) half away from zero, TensorFlow rounds (x - min) * inv_scale +
0.5 down, and its Vars kernel divides where Args multiplies. These agree except where the
input lies within float32 rounding of a tie between two levels, and there they differ by
exactly one step. TIE below is that neighbourhood, in steps: a level's float32 ulp is
2^-24 * 255 ~ 1.5e-5 steps at 8 bits, 2.4e-4 at 12 bits; measured on 100 000 normal samples
per range (test_why_these_forms), 0-2 elements per range fall within it. Everything else
must be equal to the bit."""
from __future__ import annotations

import numpy as np
import pytest

from tests.support import networks
from tests.support.cli import assert_one_line_error, toco
from tests.support.irgraph import build
from tests.support.oracle import freeze, op_types, run_litert, run_tf, tf_convert
from toco_py import api
from toco_py.interpreter import Interpreter
from toco_py.ir import Op
from toco_py.ops.fake_quant import litert_fake_quant, nudge, tf_fake_quant
from toco_py.quantize.driver import QuantizeOptions
from toco_py.tflite.reader import read_model
from toco_py.tflite.versions import op_version
from toco_py.tflite.writer import model_bytes
from toco_py.tolerance import float_bounds, judge

tf = networks.tf
v1 = tf.compat.v1
fq = tf.quantization

BATCH, CHANNELS = 64, 8
TIE = 1e-3  # steps from a rounding tie (see the module docstring); 4x the 12-bit ulp
SEEDS = (0, 1, 2)

# Per-channel bounds: channel 2 is TensorFlow's "min == max == 0: output zeros".
CHANNEL_MIN = np.array([-3.0, -2.5, 0.0, -1.2, -0.9, -0.6, 0.2, -4.0], np.float32)
CHANNEL_MAX = np.array([3.0, 1.5, 0.0, 2.2, 0.4, 3.6, 4.0, 0.5], np.float32)

INPUT_FAKE_QUANT = "x_q"  # before the FULLY_CONNECTED: [-4, 4], a QUANTIZE + DEQUANTIZE
# output -> (fake-quant input, (min, max), num_bits, narrow_range, the ops emitted for it)
VARIANTS = {
    "args": ("h", (-3.0, 3.0), 8, False, ["QUANTIZE", "DEQUANTIZE"]),
    "args_relu": ("relu", (0.0, 6.0), 8, False, ["FAKE_QUANT"]),
    "vars": ("h", (-2.2, 1.9), 8, False, ["QUANTIZE", "DEQUANTIZE"]),
    "vars_narrow": ("h", (-2.0, 2.5), 8, True, ["MINIMUM", "QUANTIZE", "DEQUANTIZE"]),
    "vars_4_bits": ("h", (-1.3, 2.2), 4, False, ["MINIMUM", "QUANTIZE", "DEQUANTIZE"]),
    "vars_5_bits_from_0": ("h", (0.0, 4.0), 5, False, ["FAKE_QUANT"]),
    "vars_12_bits": ("h", (-1.0, 3.0), 12, False, ["MAXIMUM", "MINIMUM", "QUANTIZE", "DEQUANTIZE"]),
    "per_channel": ("h", (CHANNEL_MIN, CHANNEL_MAX), 8, False, ["MINIMUM", "QUANTIZE", "DEQUANTIZE"]),
    "per_channel_narrow_6_bits": ("h", (CHANNEL_MIN, CHANNEL_MAX), 6, True,
                                  ["MINIMUM", "QUANTIZE", "DEQUANTIZE"]),
}


def _fake_quant_node(x, name: str, bounds, num_bits: int, narrow: bool):
    lo, hi = bounds
    if name.startswith("args"):
        return fq.fake_quant_with_min_max_args(x, lo, hi, num_bits=num_bits, narrow_range=narrow, name=name)
    if name.startswith("per_channel"):
        return fq.fake_quant_with_min_max_vars_per_channel(
            x, tf.constant(lo), tf.constant(hi), num_bits=num_bits, narrow_range=narrow, name=name)
    return fq.fake_quant_with_min_max_vars(x, tf.constant(np.float32(lo)), tf.constant(np.float32(hi)),
                                           num_bits=num_bits, narrow_range=narrow, name=name)


def _build_variants():
    rng = np.random.default_rng(0)
    x = v1.placeholder(tf.float32, [BATCH, 12], name="x")
    # The input's range, as quantization-aware training gives it (int8 then needs no samples).
    xq = fq.fake_quant_with_min_max_args(x, -4.0, 4.0, name=INPUT_FAKE_QUANT)
    w = tf.constant(rng.normal(0, 0.6, (12, CHANNELS)).astype(np.float32))
    # A weight fake-quant: folded into the weights, in both modes.
    wq = fq.fake_quant_with_min_max_vars(w, tf.constant(-1.0), tf.constant(1.0), narrow_range=True)
    inputs = {"h": tf.matmul(xq, wq, name="h")}
    inputs["relu"] = tf.nn.relu(inputs["h"], name="relu")
    return {name: _fake_quant_node(inputs[src], name, bounds, bits, narrow)
            for name, (src, bounds, bits, narrow, _) in VARIANTS.items()}


@pytest.fixture(scope="module")
def variants() -> bytes:
    pb, _ = freeze(_build_variants)
    return pb


def _feeds(seed: int) -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(seed).normal(0, 1, (BATCH, 12)).astype(np.float32)}


def grid(bounds, bits: int = 8, narrow: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(nudged_min, scale) of a fake-quant grid, per channel where it has channels."""
    nudged_min, _, scale, _, _ = nudge(*bounds, 1 if narrow else 0, (1 << bits) - 1)
    return nudged_min, scale


def variant_grid(name: str) -> tuple[np.ndarray, np.ndarray]:
    _, bounds, bits, narrow, _ = VARIANTS[name]
    return grid(bounds, bits, narrow)


def assert_equal_but_ties(got, want, x, grid_of_x: tuple, name: str = "") -> int:
    """got equals want to the bit, except where the fake-quant input x lies within TIE steps of
    a rounding tie; there by exactly one step. Returns how many elements differ."""
    nudged_min, scale = grid_of_x
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = (np.asarray(x, np.float64) - nudged_min) / scale
    near_tie = np.abs(steps - np.floor(steps) - 0.5) < TIE
    step = np.broadcast_to(scale, np.shape(want))
    differ = got != want
    assert not np.any(differ & ~near_tie), (name, np.flatnonzero(differ & ~near_tie)[:5])
    np.testing.assert_allclose(np.abs(got - want)[differ], step[differ], rtol=1e-5, err_msg=name)
    return int(differ.sum())


def _convert_one(pb: bytes, name: str, **kwargs) -> api.ConversionResult:
    return api.convert_bytes(pb, input_arrays=["x"], output_arrays=[name], **kwargs)


# ---- float mode: the rounding kept -----------------------------------------------------------

@pytest.mark.parametrize("name", VARIANTS)
def test_float_conversion_equals_tensorflow(variants, name):
    """LiteRT (default resolver, with its XNNPACK delegate) on the float .tflite equals
    TensorFlow on the .pb; the ops are the exact form chosen for the variant."""
    result = _convert_one(variants, name)
    src, *_, emitted = VARIANTS[name]
    before = ["QUANTIZE", "DEQUANTIZE", "FULLY_CONNECTED"]  # x_q, then the matmul
    assert [op.type for op in result.graph.ops] == before + emitted
    for seed in SEEDS:
        feeds = _feeds(seed)
        want, x = run_tf(variants, feeds, [name, src])
        assert_equal_but_ties(run_litert(result.model, feeds)[name], want, x, variant_grid(name), name)


@pytest.mark.parametrize("name", VARIANTS)
def test_interpreter_equals_litert(variants, name):
    """Our interpreter on the model as read back equals LiteRT's reference kernels to the bit
    (both are TFLite's reference arithmetic)."""
    model = _convert_one(variants, name).model
    interp = Interpreter(read_model(model).main)
    for seed in SEEDS:
        feeds = _feeds(seed)
        want = run_litert(model, feeds, reference=True)[name]
        np.testing.assert_array_equal(interp.run(feeds)[name], want)


def test_fake_quant_mlp_has_fewer_ops_than_tensorflows_converter(tmp_path):
    """TensorFlow's converter quantizes and dequantizes every fake-quant node, weights included
    (12 ops); weights fold here, and [0, 6] activations take one FAKE_QUANT (6 ops)."""
    net = networks.fake_quant_mlp()
    pb_path = tmp_path / "fake_quant_mlp.pb"
    pb_path.write_bytes(net.pb)
    theirs = op_types(tf_convert(str(pb_path), list(net.inputs), net.outputs))
    ours = op_types(api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs).model)
    assert len(ours) <= len(theirs), (ours, theirs)
    assert ours.count("FAKE_QUANT") == 2 and "FAKE_QUANT" not in theirs


def test_perturbed_range_fails_the_comparison(variants):
    """The comparison catches a wrong range: FAKE_QUANT's min lowered by one step in the
    written model moves the grid, and LiteRT then differs from TensorFlow off the ties."""
    name = "args_relu"
    model = read_model(_convert_one(variants, name).model)
    op = next(op for op in model.main.ops if op.type == "FAKE_QUANT")
    feeds = _feeds(0)
    want, x = run_tf(variants, feeds, [name, "relu"])
    as_read = run_litert(model_bytes(model.main), feeds)[name]
    assert_equal_but_ties(as_read, want, x, variant_grid(name))
    op.attrs["min"] -= (op.attrs["max"] - op.attrs["min"]) / 255
    got = run_litert(model_bytes(model.main), feeds)[name]
    with pytest.raises(AssertionError):
        assert_equal_but_ties(got, want, x, variant_grid(name))


# ---- the forms, and the kernels, measured ------------------------------------------------

def _tf_fake_quant(x: np.ndarray, kind: str, lo, hi, bits: int, narrow: bool) -> np.ndarray:
    def graph():
        p = v1.placeholder(tf.float32, x.shape, name="p")
        return {"y": _fake_quant_node(p, kind, (lo, hi), bits, narrow)}
    pb, names = freeze(graph)
    return run_tf(pb, {"p": x}, [names["y"]])[0]


def _near_ties(lo, hi, bits: int, narrow: bool) -> np.ndarray:
    """Inputs within a few ulps of every rounding tie of the grid, and beyond its ends."""
    nudged_min, _, scale, _, _ = nudge(lo, hi, 1 if narrow else 0, (1 << bits) - 1)
    levels = np.arange(-2, min((1 << bits) + 2, 600), dtype=np.float32)
    ties = (nudged_min + (levels + np.float32(0.5)) * scale).astype(np.float32)
    spread = [ties]
    for direction in (np.inf, -np.inf):
        moved = ties
        for _ in range(4):
            moved = np.nextafter(moved, np.float32(direction))
            spread.append(moved)
    return np.concatenate(spread)


KERNEL_CASES = [((-3.0, 3.0), 8, False), ((0.0, 6.0), 8, False), ((-0.37, 2.91), 8, True),
                ((-6.1, 5.3), 4, False), ((-1.23, 7.77), 7, True), ((-2.5, 2.5), 16, False),
                ((0.1, 4.0), 8, False), ((-5.5, 0.0), 2, False)]


@pytest.mark.parametrize("bounds, bits, narrow", KERNEL_CASES)
def test_kernels_are_bit_exact_at_ties(bounds, bits, narrow):
    """The numpy kernels reproduce their C++ sources to the bit where rounding is hardest:
    FakeQuant (folding) TensorFlow's Args, Vars and PerChannel kernels; FAKE_QUANT (the
    interpreter) LiteRT's."""
    lo, hi = bounds
    x = _near_ties(lo, hi, bits, narrow)
    attrs = {"num_bits": bits, "narrow_range": narrow, "min": lo, "max": hi}
    op = Op("FakeQuant", [], [], attrs, "fq")
    ours = {"args": tf_fake_quant(op, x), "vars": tf_fake_quant(op, x, np.float32(lo), np.float32(hi))}
    for kind, got in ours.items():
        np.testing.assert_array_equal(got, _tf_fake_quant(x, kind, lo, hi, bits, narrow), err_msg=kind)
    channels = x[: x.size // 2 * 2].reshape(-1, 2)
    lo2, hi2 = np.array([lo, 0.0], np.float32), np.array([hi, 0.0], np.float32)  # + a zero channel
    np.testing.assert_array_equal(tf_fake_quant(op, channels, lo2, hi2),
                                  _tf_fake_quant(channels, "per_channel", lo2, hi2, bits, narrow))
    if not narrow:
        fake = build({"x": x.shape}, {}, [("FAKE_QUANT", ["x"], ["y"], {**attrs})], ["y"])
        want = run_litert(model_bytes(fake), {"x": x})["y"]
        np.testing.assert_array_equal(litert_fake_quant(fake.ops[0], x), want)


def _one_op_models(lo: float, hi: float, shape) -> dict[str, bytes]:
    """A per-tensor 8-bit grid as converted, and as one FAKE_QUANT."""
    pb, names = freeze(lambda: {"y": fq.fake_quant_with_min_max_args(
        v1.placeholder(tf.float32, shape, name="x"), lo, hi, name="y")})
    forms = {"converted": api.convert_bytes(pb, output_arrays=["y"]).model}
    attrs = {"min": lo, "max": hi, "num_bits": 8}
    graph = build({"x": shape}, {}, [("FAKE_QUANT", ["x"], ["y"], attrs)], ["y"])
    forms["fake_quant"] = model_bytes(graph)
    return forms


@pytest.mark.parametrize("bounds", [(-3.0, 3.0), (-0.37, 2.91), (-5.5, 0.0), (0.0, 6.0)])
def test_why_these_forms(bounds):
    """The measurement behind emulate_fake_quant's choice, on 100 000 normal samples: FAKE_QUANT
    adds nudged_min last, an ulp off TensorFlow on many elements unless nudged_min is 0 (then
    equal); QUANTIZE + DEQUANTIZE is equal everywhere but near ties."""
    lo, hi = bounds
    shape = (1000, 100)
    x = np.random.default_rng(7).normal((lo + hi) / 2, (hi - lo) / 3, shape).astype(np.float32)
    want = _tf_fake_quant(x, "args", lo, hi, 8, False)
    forms = _one_op_models(lo, hi, shape)
    if lo == 0.0:
        assert op_types(forms["converted"]) == ["FAKE_QUANT"]  # the exact form here
    else:
        assert op_types(forms["converted"]) == ["QUANTIZE", "DEQUANTIZE"]
        differ = assert_equal_but_ties(run_litert(forms["converted"], {"x": x})["y"], want, x, grid(bounds))
        assert differ <= 5, differ
    got = run_litert(forms["fake_quant"], {"x": x})["y"]
    off = np.mean(got != want)
    assert off > 0.2 if lo != 0.0 else off < 1e-4, off
    np.testing.assert_allclose(got, want, atol=(hi - lo) / 255)  # within one step: no more



# ---- --drop_fake_quant, and --quantize int8 ---------------------------------------------------

def _without_activation_fake_quant(pb: bytes) -> bytes:
    """The graph with every fake-quant node of an activation made an Identity of its input
    (the weight fake-quant, on a constant, stays)."""
    gd = v1.GraphDef.FromString(pb)
    for node in gd.node:
        if node.name in VARIANTS or node.name == INPUT_FAKE_QUANT:
            node.op = "Identity"
            del node.input[1:]
            for key in [k for k in node.attr if k != "T"]:
                del node.attr[key]
            node.attr["T"].type = tf.float32.as_datatype_enum
    return gd.SerializeToString()


def test_drop_fake_quant_removes_them(variants):
    """--drop_fake_quant (TOCO's flag): no fake-quant op is left and the float model computes
    TensorFlow's graph without them, within the float tolerance policy (toco_py.tolerance:
    LiteRT and TensorFlow each within the allowance of the float64 truth)."""
    names = list(VARIANTS)
    result = api.convert_bytes(variants, input_arrays=["x"], output_arrays=names, drop_fake_quant=True)
    types = {op.type for op in result.graph.ops}
    # RESHAPE: the copies that give outputs of one tensor their own names.
    assert types <= {"FULLY_CONNECTED", "RELU", "RESHAPE"}, types
    plain = _without_activation_fake_quant(variants)
    graph = read_model(result.model).main
    for seed in SEEDS:
        feeds = _feeds(seed)
        bounds = float_bounds(graph, feeds)
        got = run_litert(result.model, feeds)
        for name, want in zip(names, run_tf(plain, feeds, names)):
            for who, value in (("LiteRT", got[name]), ("TensorFlow", want)):
                verdict = judge(name, value, bounds.truth[name], bounds.allowed[name])
                assert verdict.passed, (who, verdict)


def test_int8_takes_the_ranges_without_calibration(variants):
    """--quantize int8 drops the activation fake-quants and quantizes with their ranges: no
    calibration data needed, and no fake-quant op left."""
    names = list(VARIANTS)
    result = api.convert_bytes(variants, input_arrays=["x"], output_arrays=names,
                               quantize=QuantizeOptions("int8"))
    assert "no calibration" in " ".join(result.notes)
    assert not {"FAKE_QUANT", "FakeQuant"} & {op.type for op in result.graph.ops}
    graph = result.graph
    first = graph.tensors[graph.ops[0].outputs[0]]  # the quantized input: x_q's range
    assert first.dtype == "int8" and float(first.quant.scale[0]) == pytest.approx(8.0 / 255)


def test_quantize_command_reads_the_emulation_back(variants, tmp_path):
    """A float .tflite holding the emulation quantizes later as its .pb would: int8 takes
    the ranges (no calibration data), dynamic and float16 keep the emulation."""
    names = ["args", "args_relu", "per_channel"]
    float_model = tmp_path / "float.tflite"
    float_model.write_bytes(api.convert_bytes(variants, input_arrays=["x"], output_arrays=names).model)
    for mode in ("int8", "dynamic", "float16"):
        out = tmp_path / f"{mode}.tflite"
        proc = toco("quantize", str(float_model), str(out), "--quantize", mode)
        assert proc.returncode == 0, (mode, proc.stderr)
        types = op_types(out.read_bytes())
        assert ("FAKE_QUANT" in types) == (mode != "int8"), (mode, types)
        if mode == "int8":
            assert "4 fake-quant ops dropped" in proc.stderr  # x_q and the three outputs


# ---- the command line ---------------------------------------------------------------------

def test_cli_convert_run_validate(variants, tmp_path):
    pb = tmp_path / "variants.pb"
    pb.write_bytes(variants)
    kept, dropped = tmp_path / "kept.tflite", tmp_path / "dropped.tflite"
    cut = ["--input_arrays", "x", "--output_arrays", "args,args_relu,per_channel"]
    assert toco("convert", "--graph_def_file", str(pb), "-o", str(kept), *cut).returncode == 0
    proc = toco("convert", "--graph_def_file", str(pb), "-o", str(dropped), *cut, "--drop_fake_quant")
    assert proc.returncode == 0, proc.stderr
    assert "FAKE_QUANT" in op_types(kept.read_bytes())
    assert not {"FAKE_QUANT", "QUANTIZE", "DEQUANTIZE"} & set(op_types(dropped.read_bytes()))
    run = toco("run", str(kept), "--random", "--seed", "3", "--json", "-o", str(tmp_path / "out.npz"))
    assert run.returncode == 0, run.stderr
    validate = toco("validate", str(pb), str(kept), "--samples", "3")
    assert validate.returncode == 0, validate.stdout + validate.stderr
    # A float model's fake-quant emulation does not make it a quantized model: same function.
    assert "float tolerance policy" in validate.stdout, validate.stdout


def _graph_with(pb: bytes, edit) -> bytes:
    """The graph with one fake-quant node's attrs or bounds changed by edit(graph_def)."""
    gd = v1.GraphDef.FromString(pb)
    edit(gd)
    return gd.SerializeToString()


def _set_attr(node_name: str, key: str, value: float | int):
    def edit(gd):
        node = next(n for n in gd.node if n.name == node_name)
        if isinstance(value, float):
            node.attr[key].f = value
        else:
            node.attr[key].i = value
    return edit


def _set_const(const_of: str, index: int, value: float):
    def edit(gd):
        node = next(n for n in gd.node if n.name == const_of)
        const = next(n for n in gd.node if n.name == node.input[index])
        const.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.float32(value)))
    return edit


BAD_GRAPHS = {
    "min above max (Args)": (_set_attr("args", "min", 4.0), "args", "min 4.0 and max 3.0"),
    "infinite min (Vars)": (_set_const("vars", 1, -np.inf), "vars", "min -inf"),
    "min == max (Vars)": (_set_const("vars", 2, -2.2), "vars", "min must be below max"),
    "17 bits": (_set_attr("vars_4_bits", "num_bits", 17), "vars_4_bits", "17 bits"),
    "16 bits, zero point off the middle": (_set_attr("vars_12_bits", "num_bits", 16), "vars_12_bits",
                                           "--drop_fake_quant"),
}


@pytest.mark.parametrize("case", BAD_GRAPHS)
def test_bad_fake_quant_is_a_one_line_error(variants, case, tmp_path):
    edit, output, message = BAD_GRAPHS[case]
    pb = tmp_path / "bad.pb"
    pb.write_bytes(_graph_with(variants, edit))
    # int8 drops the node and keeps its range, which any width has.
    modes = [[]] if output == "vars_12_bits" else [[], ["--quantize", "int8"]]
    for mode in modes:
        proc = toco("convert", "--graph_def_file", str(pb), "-o", str(tmp_path / "m.tflite"),
                    "--input_arrays", "x", "--output_arrays", output, *mode)
        assert_one_line_error(proc, output, message)


# ---- the op's facts --------------------------------------------------------------------------

def test_fake_quant_options_version_and_reader():
    """FakeQuantOptions round-trip through the writer and reader; the version is TF 2.21's
    converter's rule (2 with narrow_range, which LiteRT's kernel rejects, else 1)."""
    attrs = {"min": -1.5, "max": 2.5, "num_bits": 6, "narrow_range": False}
    for narrow, version in ((False, 1), (True, 2)):
        op = ("FAKE_QUANT", ["x"], ["y"], {**attrs, "narrow_range": narrow})
        graph = build({"x": (2, 3)}, {}, [op], ["y"])
        assert op_version(graph, graph.ops[0]) == version
        model = read_model(model_bytes(graph))
        assert model.main.ops[0].attrs == {**attrs, "narrow_range": narrow}
        assert model.op_versions[0] == [version]
