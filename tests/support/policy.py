"""Checks under the float tolerance policy (toco_py/tolerance.py): end to end against the
float64 truth, and op by op with each op fed LiteRT's own inputs."""
from __future__ import annotations

import contextlib

import numpy as np

from toco_py.interpreter import Interpreter, kernel_for, run_op
from toco_py.ir import Graph
from toco_py.tensor_io import random_inputs
from toco_py.tflite.reader import read_model
from toco_py.tolerance import float_bounds, judge, op_bounds

from .oracle import litert, run_tf

# LiteRT's kernels a check runs: "builtin" (its optimized builtin kernels, no delegate),
# "reference" (BUILTIN_REF) or "default" (with XNNPACK, as an app gets it).
KINDS = {"builtin": {"delegates": False}, "reference": {"reference": True}, "default": {}}


def litert_by_name(model: bytes, graph: Graph, feeds: dict[str, np.ndarray], kind: str = "builtin",
               keep_all: bool = False) -> dict[str, np.ndarray]:
    """LiteRT's values by our tensor names (the reader keeps the file's tensor order); every
    tensor it keeps with keep_all, else the outputs."""
    names = list(graph.tensors)
    interp = litert(model, preserve_all=keep_all, **KINDS[kind])
    for name, value in feeds.items():
        interp.set_tensor(names.index(name), value)
    interp.invoke()
    # Not a variable's handle: LiteRT's get_tensor on one can crash the process.
    wanted = [n for n in names if graph.tensors[n].dtype != "resource"] if keep_all else graph.outputs
    out = {}
    for name in wanted:
        # A tensor LiteRT never materialised (an absent optional input) raises.
        with contextlib.suppress(ValueError):
            out[name] = interp.get_tensor(names.index(name))
    return out


def policy_failures(graph: Graph, feeds: dict[str, np.ndarray],
                    candidates: dict[str, dict[str, np.ndarray]]) -> list[str]:
    """'label output: ratio' for every float output of a candidate run outside the policy's
    allowance of the float64 truth (integer outputs must equal the truth)."""
    bounds = float_bounds(graph, feeds)
    exact = Interpreter(graph).run(feeds)
    failures = []
    for label, outputs in candidates.items():
        for name in graph.outputs:
            got = np.asarray(outputs[name])
            if name in bounds.allowed:
                verdict = judge(name, got, bounds.truth[name], bounds.allowed[name])
                if not verdict.passed:
                    failures.append(f"{label} {name}: {verdict.ratio:.3g} allowances ({verdict.max_abs:.3g} off)")
            elif not np.array_equal(got, exact[name]):
                failures.append(f"{label} {name}: integer output differs")
    return failures


def end_to_end_failures(model: bytes, seeds=range(10), kinds=("builtin",),
                        same_function: tuple[bytes, ...] = ()) -> list[str]:
    """Our interpreter and LiteRT's kernels on the model, each against the policy, per seed.
    same_function: other conversions of the same graph (TF's converter's), whose outputs, in
    the same order, are judged against the model's truth too (in ours and in LiteRT)."""
    graph = read_model(model).main
    others = [read_model(m).main for m in same_function]
    interps = [Interpreter(g) for g in [graph, *others]]
    failures = []
    for seed in seeds:
        feeds = random_inputs(graph, seed)
        candidates = {"toco-py": interps[0].run(feeds)}
        candidates |= {f"LiteRT {kind}": litert_by_name(model, graph, feeds, kind) for kind in kinds}
        for i, (other, other_model) in enumerate(zip(others, same_function)):
            by_position = dict(zip(other.outputs, graph.outputs))
            for label, outs in ((f"toco-py on model {i + 1}", interps[i + 1].run(feeds)),
                                (f"LiteRT builtin on model {i + 1}", litert_by_name(other_model, other, feeds))):
                candidates[label] = {by_position[n]: v for n, v in outs.items()}
        failures += [f"seed {seed}: {f}" for f in policy_failures(graph, feeds, candidates)]
    return failures


def op_by_op_failures(model: bytes, kind: str = "builtin", other_schemes: bool = False,
                      seed: int = 0, feeds: dict | None = None) -> list[str]:
    """Every op fed the values LiteRT's `kind` kernels computed for its inputs (the whole
    model run once on `feeds`, else seeded random inputs; every tensor kept): see
    ops_against_litert."""
    graph = read_model(model).main
    feeds = random_inputs(graph, seed) if feeds is None else feeds
    return ops_against_litert(graph, litert_by_name(model, graph, feeds, kind, keep_all=True), other_schemes)


def ops_against_litert(graph: Graph, lite: dict[str, np.ndarray], other_schemes: bool = False,
                       not_judged: frozenset | set = frozenset()) -> list[str]:
    """Each op fed LiteRT's values of its inputs (`lite`: every tensor by name): LiteRT's
    outputs and our kernel's, each within op_bounds' allowance of the op's float64 result
    (integer outputs: equal). LiteRT's outputs of ops whose type is in not_judged are not
    judged (ours are)."""
    failures = []
    for index, op in enumerate(graph.ops):
        args = [None if not n else graph.tensors[n].data if graph.tensors[n].is_const else lite[n]
                for n in op.inputs]
        truth, allowed = op_bounds(graph, op, args, other_schemes)
        ours = run_op(op, kernel_for(graph, op), args)
        for name, want, allow, mine in zip(op.outputs, truth, allowed, ours):
            theirs = None if op.type in not_judged else lite.get(name)
            for label, got in (("LiteRT", theirs), ("toco-py", mine)):
                if got is None:
                    continue
                if allow is None:
                    if not np.array_equal(np.asarray(got), np.asarray(want)):
                        failures.append(f"#{index} {op!r} {label}: integer output differs")
                    continue
                verdict = judge(name, got, want, allow)
                if not verdict.passed:
                    failures.append(f"#{index} {op!r} {label}: {verdict.ratio:.3g} allowances")
    return failures


def tensorflow_and_litert_failures(pb: bytes, model: bytes, feeds: dict[str, np.ndarray],
                                   tf_outputs: list[str]) -> list[str]:
    """TensorFlow running the .pb and LiteRT's builtin kernels running the model, each within
    the policy's allowance of the model's float64 truth (tf_outputs: the .pb's tensors in the
    order of the model's outputs). Both are float32 implementations of the same function, on
    any CPU: their summation orders (oneDNN's, ruy's) are what the allowance is for."""
    graph = read_model(model).main
    tf_values = dict(zip(graph.outputs, run_tf(pb, feeds, tf_outputs), strict=True))
    return policy_failures(graph, feeds, {"TensorFlow": tf_values,
                                          "LiteRT": litert_by_name(model, graph, feeds)})
