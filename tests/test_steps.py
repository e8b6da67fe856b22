"""Sequences of input sets: the streaming spotter (TF's converter's float and int8 models, a
ring buffer of frames in resource variables) run step by step in our interpreter and in
LiteRT, state carried on one interpreter and reset by a new one; `toco-py run` and
`validate` on a step .npz and with --steps; the bad step data refused in one line."""
from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from tests.support import streaming_models as spotter
from tests.support.cli import assert_one_line_error, toco
from tests.support.oracle import freeze, litert
from toco_py import api
from toco_py.interpreter import Interpreter
from toco_py.ops.quantize_ops import quantize
from toco_py.tflite.reader import read_model
from toco_py.tflite.writer import model_bytes
from toco_py.tolerance import judge, sequence_bounds
from toco_py.validate import litert_engine

v1 = tf.compat.v1
STEPS = spotter.STEPS


def _two_inputs():
    """A stateless model of two inputs (for the step rule across inputs)."""
    x = v1.placeholder(tf.float32, [1, 4], name="x")
    y = v1.placeholder(tf.float32, [1, 4], name="y")
    return {"out": tf.identity(tf.tanh(x) * y + x, name="out")}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """name -> path: the spotter's float and int8 .tflite, its frames as a step .npz, and the
    two-input model as .pb and .tflite."""
    folder = tmp_path_factory.mktemp("steps")
    paths = {name: folder / f"{name}.tflite" for name in ("float", "int8", "pair")}
    paths["float"].write_bytes(spotter.float_model())
    paths["int8"].write_bytes(spotter.int8_model())
    paths["frames"] = folder / "frames.npz"
    np.savez(paths["frames"], frame=spotter.frames())  # "frame": the signature's input name
    paths["pair.pb"] = folder / "pair.pb"
    paths["pair.pb"].write_bytes(freeze(_two_inputs)[0])
    api.convert(str(paths["pair.pb"]), str(paths["pair"]))
    return paths


def _graph(path):
    return read_model(path.read_bytes()).main


def _litert_steps(path, graph, steps, reference=False) -> list[np.ndarray]:
    """LiteRT's output of each step, invoked in order on one interpreter."""
    interp = litert(path.read_bytes(), reference=reference, delegates=False)
    (given,), (output,) = interp.get_input_details(), interp.get_output_details()
    outs = []
    for feeds in steps:
        interp.set_tensor(given["index"], feeds[graph.inputs[0]])
        interp.invoke()
        outs.append(interp.get_tensor(output["index"]))
    return outs


def _frames(graph) -> list[dict[str, np.ndarray]]:
    """The spotter's frames as the model's input sets (an int8 input quantized with its params)."""
    (name,) = graph.inputs
    t = graph.tensors[name]
    if t.dtype == "int8":
        return [{name: quantize(f, t.quant.scale, t.quant.zero_point, t.quant.axis, t.dtype)} for f in spotter.frames()]
    return [{name: f} for f in spotter.frames()]


def test_float_steps_within_the_policy(files):
    """Ours, LiteRT's builtin kernels and TensorFlow itself, step by step, each within the
    policy's allowance of the float64 truth carried through the steps."""
    graph = _graph(files["float"])
    steps = _frames(graph)
    (out,) = graph.outputs
    interp = Interpreter(graph)
    ours = [interp.run(feeds)[out] for feeds in steps]
    lite = _litert_steps(files["float"], graph, steps)
    tf_out = spotter.reference_outputs()
    bounds = sequence_bounds(graph, steps)
    for step, bound in enumerate(bounds):
        for label, got in (("toco-py", ours[step]), ("LiteRT", lite[step]), ("TensorFlow", tf_out[step])):
            verdict = judge(out, got, bound.truth[out], bound.allowed[out])
            assert verdict.passed, (step, label, verdict)


def test_bounds_see_a_lost_state(files):
    """A run that loses the state (a new interpreter every step) is outside the bounds from
    the second step on, as the first divergence validate reports: the bounds carried through
    the steps are no looser than the state's effect."""
    graph = _graph(files["float"])
    steps = _frames(graph)
    (out,) = graph.outputs
    bounds = sequence_bounds(graph, steps)
    passed = [judge(out, Interpreter(graph).run(feeds)[out], b.truth[out], b.allowed[out]).passed
              for feeds, b in zip(steps, bounds)]
    assert passed == [True] + [False] * (STEPS - 1)


class _RunningSum(tf.Module):
    """state += x at every invoke: float32 rounding accumulates in the state."""

    def __init__(self):
        self.state = tf.Variable(tf.zeros([1, 64]))

    @tf.function(input_signature=[tf.TensorSpec([1, 64], tf.float32)])
    def __call__(self, x):
        total = self.state + x
        self.state.assign(total)
        return total


def test_bounds_carry_the_rounding_the_state_accumulates():
    """A running sum of 100 positive terms: a float32 run's error is a random walk of the
    roundings of every step, so the allowance relative to the result must grow about as
    sqrt(steps / 3) (about 5.8 at step 100; measured 7.4 with the noise of the variable's read
    and write). Bounds that forgot the earlier steps' rounding would stay flat; ours passes."""
    module = _RunningSum()
    graph = read_model(tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module).convert()).main
    (name,), (out,) = graph.inputs, graph.outputs
    rng = np.random.default_rng(0)
    steps = [{name: rng.uniform(0, 1, (1, 64)).astype(np.float32)} for _ in range(100)]
    bounds = sequence_bounds(graph, steps)
    relative = [float(np.median(b.allowed[out] / np.abs(b.truth[out]))) for b in bounds]
    assert relative[-1] > 4 * relative[0], relative
    interp = Interpreter(graph)
    for step, (feeds, b) in enumerate(zip(steps, bounds)):
        verdict = judge(out, interp.run(feeds)[out], b.truth[out], b.allowed[out])
        assert verdict.passed, (step, verdict)


def test_int8_steps_bit_exact_with_litert_reference(files):
    graph = _graph(files["int8"])
    assert graph.tensors[graph.inputs[0]].dtype == "int8"
    steps = _frames(graph)
    (out,) = graph.outputs
    interp = Interpreter(graph)
    ours = [interp.run(feeds)[out] for feeds in steps]
    lite = _litert_steps(files["int8"], graph, steps, reference=True)
    for step in range(STEPS):
        np.testing.assert_array_equal(ours[step], lite[step], err_msg=f"step {step}")


@pytest.mark.parametrize("kind", ["float", "int8"])
def test_state_lives_on_and_a_new_interpreter_resets_it(files, kind):
    graph = _graph(files[kind])
    steps = _frames(graph)
    (out,) = graph.outputs
    interp = Interpreter(graph)
    carried = [interp.run(feeds)[out] for feeds in steps]
    fresh = [Interpreter(graph).run(feeds)[out] for feeds in steps]
    np.testing.assert_array_equal(carried[0], fresh[0])
    # Every later step sees the frames before it (their effect on the output is >= 0.03).
    differ = [not np.array_equal(c, f) for c, f in zip(carried[1:], fresh[1:])]
    assert all(differ), differ
    interp.reset()
    np.testing.assert_array_equal(interp.run(steps[0])[out], carried[0])


def test_run_a_step_npz(files, tmp_path):
    out = tmp_path / "out.npz"
    proc = toco("run", str(files["float"]), "--inputs", str(files["frames"]), "-o", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert [s["step"] for s in report["steps"]] == list(range(STEPS))
    graph = _graph(files["float"])
    (name,) = graph.outputs
    interp = Interpreter(graph)
    expected = np.stack([interp.run(feeds)[name] for feeds in _frames(graph)])
    with np.load(out) as saved:
        np.testing.assert_array_equal(saved[name], expected)
    assert report["outputs"][0]["shape"] == [STEPS, 1, 1]
    assert [s["outputs"][0]["mean"] for s in report["steps"]] == [float(v) for v in expected.ravel()]


@pytest.mark.parametrize("kind", ["float", "int8"])
def test_run_random_steps(files, kind, tmp_path):
    out = tmp_path / "out.npz"
    proc = toco("run", str(files[kind]), "--random", "--steps", "3", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "3 steps on one interpreter" in proc.stdout
    assert [line.split()[0] for line in proc.stdout.splitlines()[2:]] == ["0", "1", "2"]
    with np.load(out) as saved:
        (value,) = saved.values()
    assert value.shape == (3, 1, 1)


def test_validate_a_step_npz(files):
    proc = toco("validate", str(files["float"]), "--inputs", str(files["frames"]), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()]
    per_step = [r for r in rows if r[:1] and r[0].isdigit() and "toco-py" in r]
    assert [r[0] for r in per_step] == [str(s) for s in range(STEPS)]
    assert all(r[-1] == "pass" for r in per_step)


def test_validate_int8_steps_and_samples(files):
    """Each sample a new interpreter; integer outputs equal to LiteRT's reference kernels'."""
    proc = toco("validate", str(files["int8"]), "--steps", "4", "--samples", "2", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    per_step = [line.split() for line in proc.stdout.splitlines() if "toco-py vs LiteRT" in line]
    assert [r[0] for r in per_step[:4]] == ["0", "1", "2", "3"]
    assert all(r[-2:] == ["exact", "pass"] for r in per_step)


def test_validate_per_tensor_over_steps(files):
    """Every tensor, step after step. LiteRT's get_tensor on a variable's handle crashed the
    process in about 4 runs of 5 (a segmentation fault), so the LiteRT engine never reads one."""
    graph = _graph(files["float"])
    engine = litert_engine(str(files["float"]), graph)
    values = engine.run(_frames(graph)[0], True)
    handles = {n for n, t in graph.tensors.items() if t.dtype == "resource"}
    assert handles and not handles & set(values) and graph.outputs[0] in values
    proc = toco("validate", str(files["float"]), "--steps", "6", "--samples", "2", "--per-tensor", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "per tensor (in op order)" in proc.stdout and "beyond tolerance" not in proc.stdout


def test_validate_names_the_first_diverging_step(files, tmp_path):
    """Against a reference that never updates its state (its ASSIGN_VARIABLEs removed), the
    first step agrees and the second is the first divergence."""
    model = read_model(files["float"].read_bytes())
    model.main.ops = [op for op in model.main.ops if op.type != "ASSIGN_VARIABLE"]
    stateless = tmp_path / "stateless.tflite"
    stateless.write_bytes(model_bytes(model.main))
    proc = toco("validate", str(stateless), str(files["float"]), "--inputs", str(files["frames"]), timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "first divergence: step 1 (StatefulPartitionedCall:0, toco-py vs reference in LiteRT)" in proc.stdout


def test_validate_stateless_steps_against_tensorflow(files):
    proc = toco("validate", str(files["pair.pb"]), str(files["pair"]), "--steps", "3", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    per_step = [line.split() for line in proc.stdout.splitlines() if "vs TensorFlow" in line]
    assert sorted({r[0] for r in per_step[:-2]}) == ["0", "1", "2"]
    assert {r[-1] for r in per_step} == {"pass"}


X = np.zeros((3, 1, 4), np.float32)


@pytest.mark.parametrize("commands,arrays,flags,fragments", [
    (("run", "validate"), {"x": X, "y": X[:2]}, [], ["step axes differ in length (x: 3, y: 2)"]),
    (("run", "validate"), {"x": X, "y": X[0]}, [],
     ["input 'y' has shape [1, 4]", "[steps, *[1, 4]]", "got [1, 4]", "'x' carries a step axis"]),
    (("run", "validate"), {"x": X[None], "y": X}, [], ["input 'x' has shape [1, 4]", "got [1, 3, 1, 4]"]),
    (("run", "validate"), {"x": X[:0], "y": X[:0]}, [], ["0 steps"]),
    (("run", "validate"), {"x": X, "y": X}, ["--steps", "3"],
     ["--steps N draws N random input sets", "leading axis of every input's array"]),
    # validate draws random inputs by default
    (("run",), None, ["--steps", "3"], ["--steps N draws N random input sets: add --random"]),
], ids=["counts", "mixed", "rank", "empty", "steps-and-file", "steps-without-random"])
def test_bad_step_data(files, tmp_path, commands, arrays, flags, fragments):
    given = []
    if arrays is not None:
        np.savez(tmp_path / "seq.npz", **arrays)
        given = ["--inputs", str(tmp_path / "seq.npz")]
    out = tmp_path / "out.npz"
    for command in commands:
        output = ["-o", str(out)] if command == "run" else []
        assert_one_line_error(toco(command, str(files["pair"]), *given, *flags, *output), *fragments)
        assert not out.exists()
