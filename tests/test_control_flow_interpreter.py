"""The interpreter runs models of several subgraphs as LiteRT runs them: IF (a tf.cond on an
input predicate), WHILE (a tf.while_loop with an input bound, maybe a cond in its body) and
resource variables with their CALL_ONCE initializer (a tf.Module holding a tf.Variable), whose
values live on from one run to the next. The models are TF's converter's, made here with
TFLiteConverter.from_concrete_functions; LiteRT's builtin kernels are the oracle, within the
float tolerance policy, or exactly where every op is IEEE arithmetic (MUL, ADD, RELU)."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.support import cf_models
from tests.support.cli import assert_one_line_error, toco
from tests.support.oracle import litert
from tests.support.policy import litert_by_name, policy_failures
from toco_py.interpreter import Interpreter
from toco_py.tflite.reader import InvalidModelError, read_model
from toco_py.tflite.writer import model_bytes

RNG = np.random.default_rng(0)
X = RNG.standard_normal((1, 4)).astype(np.float32)
X23 = RNG.standard_normal((2, 3)).astype(np.float32)


def _convert(fn, specs, module=None) -> bytes:
    concrete = fn.get_concrete_function(*specs)
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], module or fn).convert()


@tf.function
def _loop_of_cond(x, n):
    """Odd and even iterations take different branches of a cond in the loop's body."""
    def body(i, x):
        return i + 1, tf.cond(i % 2 == 0, lambda: tf.tanh(x) * 3.0, lambda: x * 0.5 - 1.0)
    return tf.while_loop(lambda i, x: i < n[0], body, [tf.constant(0), x])[1]


class _Stream(tf.Module):
    """A streaming model: its state decays by half and accumulates the input at every call."""

    def __init__(self):
        self.state = tf.Variable(tf.fill([1, 4], 0.25))

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def __call__(self, x):
        new = self.state * 0.5 + x
        self.state.assign(new)
        return new


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, tuple[bytes, str]]:
    """name -> (the .tflite bytes, its path)."""
    folder = tmp_path_factory.mktemp("control_flow")
    stream = _Stream()
    made = {
        "cond": cf_models.cond_model(),
        "while": cf_models.while_model(),
        "while_cond": _convert(_loop_of_cond, [tf.TensorSpec([2, 3], tf.float32),
                                               tf.TensorSpec([1], tf.int32)]),
        "stream": _convert(stream.__call__, [], stream),
    }
    found = {}
    for name, data in made.items():
        (folder / f"{name}.tflite").write_bytes(data)
        found[name] = (data, str(folder / f"{name}.tflite"))
    return found


def _ops(data: bytes) -> list[list[str]]:
    return [[op.type for op in graph.ops] for graph in read_model(data).graphs]


def _against_litert(data: bytes, feeds: dict, exact: bool) -> dict:
    graph = read_model(data).main
    ours = Interpreter(graph).run(feeds)
    lite = litert_by_name(data, graph, feeds)
    if exact:
        for name in graph.outputs:
            np.testing.assert_array_equal(ours[name], lite[name], err_msg=name)
    else:
        assert policy_failures(graph, feeds, {"toco-py": ours, "LiteRT": lite}) == []
    return ours


@pytest.mark.parametrize("p", [1.0, -1.0])
def test_cond_takes_either_branch(models, p):
    data, _ = models["cond"]
    assert _ops(data)[0][-1] == "IF"
    out = _against_litert(data, {"x": X, "p": np.array([p], np.float32)}, exact=False)
    branch = np.maximum(X, 0) * 2 if p > 0 else np.tanh(X.astype(np.float64)) - 1
    np.testing.assert_allclose(next(iter(out.values())), branch, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("n", [0, 1, 5])
def test_while_runs_its_body_n_times(models, n):
    data, _ = models["while"]
    assert _ops(data)[0] == ["WHILE"]
    out = _against_litert(data, {"x": X23, "n": np.array([n], np.int32)}, exact=True)
    expected = X23
    for _ in range(n):
        expected = expected * np.float32(1.5) + np.float32(1.0)
    np.testing.assert_array_equal(next(iter(out.values())), expected)


@pytest.mark.parametrize("n", [0, 1, 4])
def test_cond_inside_a_loop_body(models, n):
    data, _ = models["while_cond"]
    ops = _ops(data)
    assert ops[0] == ["WHILE"] and any("IF" in sub for sub in ops[1:])
    _against_litert(data, {"x": X23, "n": np.array([n], np.int32)}, exact=False)


def test_variables_live_on_between_runs(models):
    data, _ = models["stream"]
    ops = _ops(data)
    assert {"CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"} <= set(ops[0])
    graph = read_model(data).main
    (name,) = graph.inputs
    ours, lite = Interpreter(graph), litert(data, delegates=False)
    lite.allocate_tensors()
    (lite_in,), (lite_out,) = lite.get_input_details(), lite.get_output_details()
    steps = []
    for step in range(4):
        feeds = {name: X + step}
        lite.set_tensor(lite_in["index"], feeds[name])
        lite.invoke()
        got = ours.run(feeds)[graph.outputs[0]]
        np.testing.assert_array_equal(got, lite.get_tensor(lite_out["index"]), err_msg=f"step {step}")
        steps.append(got)
    # The state was initialized once (0.25), then carried: new = state / 2 + x.
    state = np.full((1, 4), 0.25, np.float32)
    for step, got in enumerate(steps):
        state = state * np.float32(0.5) + (X + step)
        np.testing.assert_array_equal(got, state)
    # A new interpreter, or reset(), starts again from the initializer's value.
    first = {name: X}
    np.testing.assert_array_equal(Interpreter(graph).run(first)[graph.outputs[0]], steps[0])
    ours.reset()
    np.testing.assert_array_equal(ours.run(first)[graph.outputs[0]], steps[0])
    # The first step under the policy (float_bounds runs from a new interpreter's state).
    assert policy_failures(graph, first, {"toco-py": {graph.outputs[0]: steps[0]}}) == []


def test_float64_runs_subgraphs_in_float64(models):
    data, _ = models["while_cond"]
    graph = read_model(data).main
    feeds = {"x": X23, "n": np.array([3], np.int32)}
    wide = Interpreter(graph, float64=True).run(feeds)[graph.outputs[0]]
    narrow = Interpreter(graph).run(feeds)[graph.outputs[0]]
    assert wide.dtype == np.float64 and narrow.dtype == np.float32
    np.testing.assert_allclose(wide, narrow, rtol=1e-6, atol=1e-6)


def test_on_op_sees_every_iteration_of_a_body(models):
    """Calibration's view: every op each time it runs, a subgraph's as (subgraph, index)."""
    data, _ = models["while"]
    model = read_model(data)
    seen = []
    Interpreter(model.main).run({"x": X23, "n": np.array([3], np.int32)},
                                on_op=lambda index, op, args, outputs: seen.append((index, op.type)))
    cond, body = model.main.ops[0].attrs["cond_subgraph_index"], model.main.ops[0].attrs["body_subgraph_index"]
    assert seen[-1] == (0, "WHILE")
    runs = {}
    for index, _ in seen[:-1]:
        runs[index] = runs.get(index, 0) + 1
    assert {runs[(cond, i)] for i in range(len(model.graphs[cond].ops))} == {4}
    assert {runs[(body, i)] for i in range(len(model.graphs[body].ops))} == {3}


@pytest.mark.parametrize("name", ["cond", "while", "while_cond", "stream"])
def test_run_and_validate_on_the_command_line(models, name, tmp_path):
    data, path = models[name]
    proc = toco("run", path, "--random", "-o", str(tmp_path / "out.npz"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.npz").exists()
    proc = toco("validate", path, "--samples", "3", "--per-tensor", timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "toco-py vs LiteRT" in proc.stdout and "pass" in proc.stdout
    assert "beyond tolerance" not in proc.stdout  # a variable's handle is not compared


def test_a_subgraph_index_naming_no_subgraph_is_refused(models, tmp_path):
    data, _ = models["cond"]
    model = read_model(data)
    model.main.ops[-1].attrs["else_subgraph_index"] = len(model.graphs)
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(model_bytes(model.main))
    with pytest.raises(InvalidModelError, match="names no subgraph"):
        read_model(broken.read_bytes())
    assert_one_line_error(toco("run", str(broken), "--random"), "else_subgraph_index 3 names no subgraph")


def test_a_variable_read_before_any_assignment_is_named(models, tmp_path):
    """Without its CALL_ONCE initializer, the streaming model reads a variable never assigned
    (LiteRT fails its invoke there)."""
    data, _ = models["stream"]
    model = read_model(data)
    model.main.ops = [op for op in model.main.ops if op.type != "CALL_ONCE"]
    broken = tmp_path / "no_init.tflite"
    broken.write_bytes(model_bytes(model.main))
    assert_one_line_error(toco("run", str(broken), "--random"),
                          "variable 'Variable' is read before any value is assigned to it")
