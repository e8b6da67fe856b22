"""C bundles of models of several subgraphs (IF, WHILE, CALL_ONCE) and with resource variables
(VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE): built, run for several invokes in one process
and compared step by step with the interpreter (itself checked against LiteRT in
test_control_flow_interpreter.py), the int8 streaming spotter also with LiteRT's reference
kernels directly; NAME_reset(); the model plan's invariant; the one-line error for a loop
whose variables change shape."""
from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from tests.support.cli import assert_one_line_error, toco
from tests.support.codegen_check import TEST_OPT, check_bundle, roundtrip
from toco_py.codegen.bundle import generate_bundle
from toco_py.codegen.model_plan import check_model_plan, model_lifetimes, plan_model
from toco_py.codegen.planner import PlanError, arena_tensors
from toco_py.codegen.verify import build, run_bundle_steps, verify_steps
from toco_py.interpreter import Interpreter
from toco_py.ir import Graph, Op, QuantParams, Tensor, const_tensor
from toco_py.tflite.reader import read_model

# ---- hand-made models: each control-flow and variable op in its float, int8 and int16 (16x8)
# variants ----


def _q(scale: float, zero: int, dtype: str = "int8") -> QuantParams | None:
    """The params of a dtype tensor: none for float, int16's zero point 0."""
    if dtype == "float32":
        return None
    return QuantParams(np.array([scale], np.float32), np.array([0 if dtype == "int16" else zero], np.int64))


def _graph(name: str, tensors: list[Tensor], ops: list[Op], inputs: list[str],
           outputs: list[str]) -> Graph:
    g = Graph()
    g.name = name
    for t in tensors:
        g.add_tensor(t)
    for op in ops:
        g.add_op(op)
    g.inputs, g.outputs = inputs, outputs
    return g


def _model(*graphs: Graph) -> Graph:
    """The graphs as one model (graphs[0] the entry point), written to .tflite and read back."""
    shared = list(graphs)
    for g in graphs:
        g.subgraphs = shared
    return roundtrip(graphs[0])


def if_model(dtype: str) -> Graph:
    """y = RELU(x) if p else x passed through (a branch without ops); int8 / int16: quantized
    across the IF, as the int8 / int16 variant of IF sees it."""
    q = _q(0.05, 3, dtype)
    t = lambda name: Tensor(name, (2, 3), dtype, quant=q)  # noqa: E731
    main = _graph("main", [Tensor("p", (1,), "bool"), t("x"), t("y")],
                  [Op("IF", ["p", "x"], ["y"], {"then_subgraph_index": 1, "else_subgraph_index": 2})],
                  ["p", "x"], ["y"])
    then = _graph("then", [t("a"), t("b")], [Op("RELU", ["a"], ["b"])], ["a"], ["b"])
    other = _graph("else", [t("c")], [], ["c"], ["c"])
    return _model(main, then, other)


def while_model(dtype: str) -> Graph:
    """x goes through RELU(x - 1) (float), MAXIMUM(x, x) (int8) or RELU(x) (int16) n times
    (int32 counter)."""
    q = _q(0.1, -2, dtype)
    t = lambda name: Tensor(name, (4,), dtype, quant=q)  # noqa: E731
    s = lambda name: Tensor(name, (), "int32")  # noqa: E731
    main = _graph("main", [t("x"), s("n"), const_tensor("zero", np.array(0, np.int32)),
                           t("y"), s("i_end"), s("n_end")],
                  [Op("WHILE", ["x", "zero", "n"], ["y", "i_end", "n_end"],
                      {"cond_subgraph_index": 1, "body_subgraph_index": 2})], ["x", "n"], ["y"])
    cond = _graph("cond", [t("cx"), s("ci"), s("cn"), Tensor("more", (), "bool")],
                  [Op("LESS", ["ci", "cn"], ["more"])], ["cx", "ci", "cn"], ["more"])
    if dtype == "float32":
        step = ([const_tensor("one_f", np.ones(4, np.float32)), t("bd")],
                [Op("SUB", ["bx", "one_f"], ["bd"]), Op("RELU", ["bd"], ["bx2"])])
    elif dtype == "int8":
        step = ([], [Op("MAXIMUM", ["bx", "bx"], ["bx2"])])
    else:  # RELU with its input's params: x where positive, else 0
        step = ([], [Op("RELU", ["bx"], ["bx2"])])
    body = _graph("body", [t("bx"), s("bi"), s("bn"), t("bx2"), s("bi2"),
                           const_tensor("one", np.array(1, np.int32)), *step[0]],
                  [*step[1], Op("ADD", ["bi", "one"], ["bi2"])], ["bx", "bi", "bn"], ["bx2", "bi2", "bn"])
    return _model(main, cond, body)


def state_model(dtype: str) -> Graph:
    """A delay line: each invoke outputs the previous invoke's input (the initializer's value
    on the first), the variable set up by a CALL_ONCE initializer subgraph."""
    q = _q(0.02, -7, dtype)
    t = lambda name: Tensor(name, (1, 5), dtype, quant=q)  # noqa: E731
    handle = lambda name: Tensor(name, (), "resource")  # noqa: E731
    var = {"container": "", "shared_name": "delay"}
    main = _graph("main", [t("x"), t("previous"), handle("h")],
                  [Op("CALL_ONCE", [], [], {"init_subgraph_index": 1}),
                   Op("VAR_HANDLE", [], ["h"], dict(var)),
                   Op("READ_VARIABLE", ["h"], ["previous"]),
                   Op("ASSIGN_VARIABLE", ["h", "x"], [])], ["x"], ["previous"])
    first = np.arange(5, dtype=np.float32).reshape(1, 5)
    init_value = const_tensor("first", first.astype(dtype))
    init_value.quant = q
    init = _graph("init", [handle("h0"), init_value],
                  [Op("VAR_HANDLE", [], ["h0"], dict(var)), Op("ASSIGN_VARIABLE", ["h0", "first"], [])],
                  [], [])
    return _model(main, init)


HAND_MADE = {f"{kind}_{dtype}": (make, dtype) for kind, make in
             (("if", if_model), ("while", while_model), ("state", state_model))
             for dtype in ("float32", "int8", "int16")}


def one_op_graphs() -> list[Graph]:
    """The models whose bundles test_hand_made_models checks (test_codegen_tables lowers them)."""
    return [make(dtype) for make, dtype in HAND_MADE.values()]


def _steps_of(graph: Graph, case: str) -> list[dict[str, np.ndarray]]:
    """Feeds for a few invokes: both branches, trip counts 0 to 3."""
    rng = np.random.default_rng(3)
    steps = []
    for k in range(4):
        feeds = {}
        for name in graph.inputs:
            t = graph.tensors[name]
            if t.dtype == "bool":
                feeds[name] = np.array([k % 2 == 0])
            elif t.dtype == "int32":
                feeds[name] = np.array((0, 3, 1, 2)[k], np.int32)
            elif t.dtype in ("int8", "int16"):
                info = np.iinfo(t.dtype)
                feeds[name] = rng.integers(info.min, info.max, t.shape, endpoint=True).astype(t.dtype)
            else:
                feeds[name] = (rng.standard_normal(t.shape) * 2).astype(np.float32)
        steps.append(feeds)
    return steps


def _verify_steps(graph: Graph, folder, name: str, steps: list[dict]) -> None:
    out = str(folder / name)
    bundle = generate_bundle(graph, out, name)
    report = verify_steps(graph, out, name, bundle.plan.arena_size, len(steps), opt=TEST_OPT, feeds=steps)
    assert report.passed, "\n".join(f"{c.name}: {c.max_abs} {c.note}" for c in report.checks if not c.passed)


@pytest.mark.parametrize("case", sorted(HAND_MADE))
def test_hand_made_models(case, tmp_path):
    make, dtype = HAND_MADE[case]
    graph = make(dtype)
    _verify_steps(graph, tmp_path, case, _steps_of(graph, case))


@pytest.mark.parametrize("case", ["while_float32", "state_int8"])
def test_sanitizers_run_clean(case, tmp_path):
    """Under AddressSanitizer each kernel call may touch only its own tensors (the rest of the
    arena is poisoned), in the subgraphs' functions too; the copies into and out of a subgraph
    run with the arena open."""
    make, dtype = HAND_MADE[case]
    graph = make(dtype)
    out = str(tmp_path / case)
    bundle = generate_bundle(graph, out, case)
    steps = _steps_of(graph, case)
    report = verify_steps(graph, out, case, bundle.plan.arena_size, len(steps), opt="-O1 -g",
                          extra_cflags="-fsanitize=address,undefined -fno-sanitize-recover=all",
                          feeds=steps)
    assert report.passed


# ---- TF's converter's models ----------------------------------------------------------------


@pytest.fixture(scope="module")
def tf_models(tmp_path_factory) -> dict[str, bytes]:
    from tests.support import cf_models, streaming_models

    return {"cond": cf_models.cond_model(), "while": cf_models.while_model(),
            "cond_int8": cf_models.int8_model("cond"), "while_int8": cf_models.int8_model("while"),
            "while_of_cond": _while_of_cond(),
            "spotter": streaming_models.float_model(), "spotter_int8": streaming_models.int8_model()}


def _while_of_cond() -> bytes:
    """A tf.cond in a tf.while_loop's body (the first two rounds take the other branch): an
    IF inside a WHILE's body, three levels of subgraphs in one arena."""
    import tensorflow as tf

    @tf.function
    def loop(x, n):
        def body(i, x):
            return i + 1, tf.cond(i < 2, lambda: tf.tanh(x) * 3.0, lambda: x * 0.5 - 1.0)
        return tf.while_loop(lambda i, x: i < n[0], body, [tf.constant(0), x])[1]
    concrete = loop.get_concrete_function(tf.TensorSpec([2, 3], tf.float32), tf.TensorSpec([1], tf.int32))
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], loop).convert()


@pytest.mark.parametrize("name", ["cond", "while", "cond_int8", "while_int8", "while_of_cond"])
def test_tf_control_flow(tf_models, name, tmp_path):
    """Both branches, trip counts 0 to 5: a float bundle within the tolerance policy of the
    float64 truth, an int8 one bit for bit with the interpreter (TF's converter keeps IF and
    WHILE in float between DEQUANTIZE and QUANTIZE, and the subgraphs' ops in int8)."""
    from tests.support import cf_models

    graph = read_model(tf_models[name]).main
    steps = []
    for values in cf_models.feeds("while" if name == "while_of_cond" else name.removesuffix("_int8")):
        feeds = dict(zip(graph.inputs, values))
        steps.append({n: _quantized(graph, n, v) for n, v in feeds.items()})
    _verify_steps(graph, tmp_path, name, steps)


def _quantized(graph: Graph, name: str, value: np.ndarray) -> np.ndarray:
    t = graph.tensors[name]
    if t.dtype != "int8":
        return value.astype(t.dtype)
    scale, zero = float(t.quant.scale[0]), int(t.quant.zero_point[0])
    return np.clip(np.round(value / scale) + zero, -128, 127).astype(np.int8)


def _spotter_steps(graph: Graph) -> list[dict[str, np.ndarray]]:
    from tests.support import streaming_models

    (name,) = graph.inputs
    return [{name: _quantized(graph, name, frame)} for frame in streaming_models.frames()]


@pytest.mark.parametrize("name", ["spotter", "spotter_int8"])
def test_streaming_spotter_over_several_steps(tf_models, name, tmp_path):
    """The microWakeWord-style spotter (conv stack with VAR_HANDLE / READ / ASSIGN ring
    buffers): every step agrees with the interpreter's same step (float: within the policy of
    the float64 truth of the sequence; int8: bit for bit), the state carried in between."""
    graph = read_model(tf_models[name]).main
    _verify_steps(graph, tmp_path, name, _spotter_steps(graph))


def test_int8_spotter_matches_litert_reference_kernels_step_by_step(tf_models, tmp_path):
    from tests.support.oracle import litert

    data = tf_models["spotter_int8"]
    graph = read_model(data).main
    steps = _spotter_steps(graph)
    bundle = generate_bundle(graph, str(tmp_path / "s"), "s")
    ours = run_bundle_steps(build(str(tmp_path / "s"), "s", TEST_OPT), graph, steps)
    interp = litert(data, reference=True)
    (detail,), (out,) = interp.get_input_details(), interp.get_output_details()
    for k, feeds in enumerate(steps):
        interp.set_tensor(detail["index"], feeds[graph.inputs[0]])
        interp.invoke()
        np.testing.assert_array_equal(ours[k][graph.outputs[0]], interp.get_tensor(out["index"]),
                                      err_msg=f"step {k}")
    assert bundle.state_size == 112  # int8 ring buffers: [1, 2, 1, 40] + [1, 4, 1, 8] (16-aligned)


RESET_DRIVER = r"""
#include <stdio.h>
#include <string.h>
#include "s.h"

/* Runs the frames of argv[1] twice, NAME_reset() in between, writing every output to argv[2]. */
int main(int argc, char **argv)
{
    static unsigned char frames[64][S_INPUT_0_BYTES];
    FILE *in, *out;
    size_t count, k;
    int round;
    if (argc != 3 || !(in = fopen(argv[1], "rb")) || !(out = fopen(argv[2], "wb"))) {
        return 2;
    }
    count = fread(frames, S_INPUT_0_BYTES, 64, in);
    fclose(in);
    for (round = 0; round < 2; ++round) {
        for (k = 0; k < count; ++k) {
            memcpy(s_input(0), frames[k], S_INPUT_0_BYTES);
            if (s_invoke() != S_OK) {
                return 1;
            }
            fwrite(s_output(0), 1, S_OUTPUT_0_BYTES, out);
        }
        s_reset();
    }
    return fclose(out) != 0;
}
"""


@pytest.mark.parametrize("name", ["spotter", "spotter_int8", "state_int8"])
def test_reset_starts_the_stream_again(tf_models, name, tmp_path):
    """After NAME_reset() the same frames give the same outputs as from program start (the
    variables zeroed, the CALL_ONCE initializer run again: the delay line's initial value is
    not zero), and those are the interpreter's."""
    if name in HAND_MADE:
        graph = HAND_MADE[name][0](HAND_MADE[name][1])
        steps = _steps_of(graph, name)
    else:
        graph = read_model(tf_models[name]).main
        steps = _spotter_steps(graph)
    folder = tmp_path / "s"
    generate_bundle(graph, str(folder), "s")
    header = (folder / "s.h").read_text()
    assert "void s_reset(void);" in header and "#define S_STATE_SIZE" in header
    (folder / "reset_main.c").write_text(RESET_DRIVER)
    sources = [str(folder / f) for f in _sources(folder) if f != "main.c"] + [str(folder / "reset_main.c")]
    subprocess.run(["cc", "-std=c99", "-O1", "-o", str(folder / "reset_run"), *sources, "-lm"], check=True)
    (name_in,), (name_out,) = graph.inputs, graph.outputs
    np.stack([s[name_in] for s in steps]).tofile(folder / "frames.bin")
    subprocess.run([str(folder / "reset_run"), str(folder / "frames.bin"), str(folder / "out.bin")], check=True)
    t = graph.tensors[name_out]
    got = np.fromfile(folder / "out.bin", t.dtype).reshape(2, len(steps), *t.shape)
    np.testing.assert_array_equal(got[0], got[1])
    interp = Interpreter(graph)
    want = np.stack([interp.run(s)[name_out] for s in steps])
    if t.dtype == "int8":
        np.testing.assert_array_equal(got[0], want)
    else:  # the float steps are checked within the policy above; here: no state left over
        assert np.max(np.abs(got[0] - want)) < 1e-5 * max(1.0, float(np.max(np.abs(want))))


def _sources(folder) -> list[str]:
    for line in (folder / "Makefile").read_text().splitlines():
        if line.startswith("SOURCES ="):
            return line.split("=", 1)[1].split()
    raise AssertionError("no SOURCES in the Makefile")


# ---- the plan over subgraphs -----------------------------------------------------------------


def _overlaps_by_brute_force(graph: Graph, plan) -> list[tuple]:
    """Pairs of tensors (of any subgraphs) alive at one global step whose bytes meet."""
    lives, _ = model_lifetimes(graph)
    graphs = graph.subgraphs or [graph]
    placed = [((s, n), plan.plans[s].offsets[n], plan.plans[s].sizes[n])
              for s in plan.order for n in arena_tensors(graphs[s])]
    shared = {frozenset({(s, d), (s, a)}) for s in plan.order for d, a in plan.plans[s].aliases.items()}
    bad = []
    for i, (a, a_at, a_size) in enumerate(placed):
        for b, b_at, b_size in placed[i + 1:]:
            alive = lives[a].first <= lives[b].last and lives[b].first <= lives[a].last
            meet = a_size and b_size and a_at < b_at + b_size and b_at < a_at + a_size
            if alive and meet and frozenset({a, b}) not in shared:
                bad.append((a, b))
    return bad


@pytest.mark.parametrize("case", sorted(HAND_MADE))
def test_plan_never_overlaps_live_tensors_of_any_subgraph(case):
    make, dtype = HAND_MADE[case]
    graph = make(dtype)
    plan = plan_model(graph)
    assert _overlaps_by_brute_force(graph, plan) == []
    # The caller's tensors the op reads or writes live across every step of its subgraphs.
    lives, _ = model_lifetimes(graph)
    for s in plan.order[1:]:
        for name in arena_tensors(graph.subgraphs[s]):
            for caller in graph.inputs + graph.outputs:
                assert lives[(0, caller)].first <= lives[(s, name)].first <= lives[(s, name)].last \
                    <= lives[(0, caller)].last


def test_a_cond_and_its_body_share_bytes_and_the_checker_catches_a_bad_move():
    graph = while_model("float32")
    plan = plan_model(graph)
    cond, body = plan.plans[1], plan.plans[2]
    # Never alive together: the planner lets them share (that is what planning them in one
    # arena buys over an arena per subgraph).
    assert set(cond.offsets.values()) & set(body.offsets.values())
    check_model_plan(graph, plan)
    # Moving a body tensor onto the WHILE's loop values (alive across the body) is caught.
    body.offsets["bx2"] = plan.plans[0].offsets["y"]
    assert _overlaps_by_brute_force(graph, plan)
    with pytest.raises(PlanError, match="overlap"):
        check_model_plan(graph, plan)


# ---- what stays unsupported ---------------------------------------------------------------------


def _growing_loop() -> bytes:
    import tensorflow as tf

    @tf.function
    def grow(x, n):
        def body(i, y):
            return i + 1, tf.concat([y, x], axis=0)
        _, y = tf.while_loop(lambda i, y: i < n[0], body, [tf.constant(0), x],
                             shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, 3])])
        return y
    concrete = grow.get_concrete_function(tf.TensorSpec([1, 3], tf.float32), tf.TensorSpec([1], tf.int32))
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], grow).convert()


def test_a_loop_variable_that_grows_is_a_one_line_error(tmp_path):
    model = tmp_path / "grow.tflite"
    model.write_bytes(_growing_loop())
    out = tmp_path / "bundle"
    proc = toco("codegen", str(model), "-o", str(out))
    assert_one_line_error(proc, "WHILE", "loop variable", "changes as the loop runs", "fixed shapes")
    assert not out.exists()


def test_steps_need_verify(tmp_path):
    model = tmp_path / "delay.tflite"
    from toco_py.tflite.writer import model_bytes

    model.write_bytes(model_bytes(state_model("float32")))
    proc = toco("codegen", str(model), "-o", str(tmp_path / "b"), "--steps", "3")
    assert_one_line_error(proc, "--steps 3", "--verify")
    assert not os.path.exists(tmp_path / "b")


def test_cli_verifies_several_steps(tmp_path):
    model = tmp_path / "delay.tflite"
    from toco_py.tflite.writer import model_bytes

    model.write_bytes(model_bytes(state_model("int8")))
    proc = toco("codegen", str(model), "-o", str(tmp_path / "b"), "--verify", "--steps", "3",
                timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "(step 2)" in proc.stdout and "state 16 bytes" in proc.stderr


def test_a_single_subgraph_bundle_has_no_state_api(tmp_path):
    """Models without subgraphs or variables keep the plain API (no NAME_reset)."""
    from tests.support.codegen_check import one_op

    graph = one_op("RELU", [np.ones((2, 2), np.float32)])
    check_bundle(graph, tmp_path, name="plain")
    assert "reset" not in (tmp_path / "plain" / "plain.h").read_text()
