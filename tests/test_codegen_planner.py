"""The C bundle's memory planner: lifetimes, in-place reshapes, packing, and the checker."""
from __future__ import annotations

import numpy as np
import pytest

from toco_py.codegen.planner import (
    ALIGNMENT,
    Lifetime,
    PlanError,
    aligned,
    check_plan,
    first_fit,
    lifetimes,
    plan_memory,
)
from toco_py.ir import Graph, Op, Tensor, const_tensor


def graph_of(tensors: dict[str, int], ops: list[tuple[str, list[str], list[str]]],
             inputs: list[str], outputs: list[str]) -> Graph:
    """tensors: name -> float32 element count (1-D); ops: (type, inputs, outputs)."""
    g = Graph()
    for name, n in tensors.items():
        g.add_tensor(Tensor(name, (n,), "float32"))
    for op_type, ins, outs in ops:
        g.add_op(Op(op_type, ins, outs))
    g.inputs, g.outputs = inputs, outputs
    return g


def chain(sizes: list[int]) -> Graph:
    """t0 -> RELU -> t1 -> RELU -> ... : each tensor alive only next to its neighbours."""
    names = [f"t{i}" for i in range(len(sizes))]
    ops = [("RELU", [a], [b]) for a, b in zip(names, names[1:])]
    return graph_of(dict(zip(names, sizes)), ops, [names[0]], [names[-1]])


def branchy() -> Graph:
    """x feeds two branches that meet again; one op output is never read."""
    g = graph_of({"x": 100, "a": 50, "b": 80, "unused": 30, "c": 50, "y": 50},
                 [("RELU", ["x"], ["a"]), ("SPLIT", ["x"], ["b", "unused"]),
                  ("ADD", ["a", "b"], ["c"]), ("TANH", ["c"], ["y"])],
                 ["x"], ["y"])
    return g


def shared_on_purpose(plan) -> set[tuple[str, str]]:
    """The pairs of tensors an alias chain puts in one buffer."""
    def root(name):
        while name in plan.aliases:
            name = plan.aliases[name]
        return name
    names = list(plan.offsets)
    return {(a, b) for i, a in enumerate(names) for b in names[i + 1:] if root(a) == root(b)}


def brute_force_overlaps(g: Graph, plan) -> list[tuple[str, str]]:
    """Every pair alive at one op whose bytes intersect, checked the slow, obvious way."""
    lives = lifetimes(g)
    names = list(plan.offsets)
    bad = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            same_op = any(lives[a].first <= t <= lives[a].last and lives[b].first <= t <= lives[b].last
                          for t in range(len(g.ops)))
            bytes_meet = plan.offsets[a] < plan.end(b) and plan.offsets[b] < plan.end(a)
            if same_op and bytes_meet and plan.sizes[a] and plan.sizes[b]:
                bad.append((a, b))
    return bad


def test_lifetimes_follow_the_op_order():
    lives = lifetimes(branchy())
    assert lives["x"] == Lifetime(0, 1)       # a graph input from the start to its last reader
    assert lives["a"] == Lifetime(0, 2)       # producer to last consumer
    assert lives["b"] == Lifetime(1, 2)
    assert lives["unused"] == Lifetime(1, 1)  # written, never read: alive at its producer only
    assert lives["y"] == Lifetime(3, 3)       # a graph output to the end
    g = chain([4, 4, 4])
    g.outputs = ["t1", "t2"]
    assert lifetimes(g)["t1"] == Lifetime(0, 1)  # an output is kept to the last op


def test_plan_has_no_overlaps_and_is_aligned():
    g = branchy()
    plan = plan_memory(g)
    # The RELU's a, the ADD's c and the TANH's y share one buffer (in place), and only they.
    assert plan.aliases == {"c": "a", "y": "c"}
    assert set(brute_force_overlaps(g, plan)) <= shared_on_purpose(plan)
    check_plan(g, plan)
    assert not brute_force_overlaps(g, plan_memory(g, in_place=False))
    assert all(offset % ALIGNMENT == 0 for offset in plan.offsets.values())
    assert plan.arena_size % ALIGNMENT == 0
    # At op 1, x, a, b and unused are all alive: the arena holds at least them.
    assert plan.arena_size >= sum(aligned(4 * n) for n in (100, 50, 80, 30))


def max_pair(sizes: list[int]) -> int:
    """The max live set of a chain: the largest two neighbours (in aligned bytes)."""
    return max(aligned(4 * a) + aligned(4 * b) for a, b in zip(sizes, sizes[1:]))


@pytest.mark.parametrize("sizes", [
    [1000, 700, 700, 300, 120, 50, 10],      # shrinking feature maps
    [10, 40, 90, 200, 500],                  # growing (a decoder)
    [512, 256, 64, 16, 64, 256, 512],        # bottleneck
    [64] * 7,                                # equal
    [100, 900, 100, 900, 100],               # alternating
], ids=["shrinking", "growing", "bottleneck", "equal", "alternating"])
def test_largest_first_first_fit_on_a_chain_is_the_max_live_set(sizes):
    g = chain(sizes)
    plan = plan_memory(g, in_place=False)
    assert plan.arena_size == max_pair(sizes)
    assert plan.arena_size < sum(aligned(4 * s) for s in sizes)
    assert not brute_force_overlaps(g, plan)


@pytest.mark.parametrize("seed", range(6))
def test_random_chains_stay_between_the_bounds(seed):
    # Greedy first fit is not optimal on every chain (two large neighbours can push a
    # third buffer above them), but never needs more than all buffers side by side.
    sizes = np.random.default_rng(seed).integers(1, 400, 9).tolist()
    g = chain(sizes)
    plan = plan_memory(g, in_place=False)
    assert max_pair(sizes) <= plan.arena_size <= sum(aligned(4 * s) for s in sizes)
    assert not brute_force_overlaps(g, plan)


def test_first_fit_takes_the_lowest_gap():
    assert first_fit(16, []) == 0
    assert first_fit(16, [(32, 16), (0, 16)]) == 16
    assert first_fit(32, [(0, 16), (32, 16)]) == 48
    assert first_fit(16, [(0, 64), (16, 16)]) == 64  # nested ranges


def test_reshape_reuses_a_dying_input_in_place():
    g = graph_of({"x": 24, "h": 24, "r": 24, "y": 24},
                 [("SOFTMAX", ["x"], ["h"]), ("RESHAPE", ["h"], ["r"]), ("SOFTMAX", ["r"], ["y"])],
                 ["x"], ["y"])
    plan = plan_memory(g)
    assert plan.aliases == {"r": "h"}
    assert plan.offsets["r"] == plan.offsets["h"]
    # h and r share bytes on purpose (both alive at the reshape), and only they do.
    assert brute_force_overlaps(g, plan) == [("h", "r")]
    check_plan(g, plan)


@pytest.mark.parametrize("why", ["read later", "graph output"])
def test_reshape_copies_when_its_input_lives_on(why):
    g = graph_of({"x": 24, "h": 24, "r": 24, "y": 24},
                 [("SOFTMAX", ["x"], ["h"]), ("RESHAPE", ["h"], ["r"]), ("CONCATENATION", ["r", "h"], ["y"])],
                 ["x"], ["y"])
    if why == "graph output":
        g.ops[2].inputs = ["r", "r"]
        g.outputs = ["y", "h"]
    plan = plan_memory(g)
    assert plan.aliases == {}
    assert plan.offsets["r"] != plan.offsets["h"]


def test_reshape_chains_alias_transitively():
    g = graph_of({"x": 8, "a": 8, "b": 8, "c": 8},
                 [("SOFTMAX", ["x"], ["a"]), ("RESHAPE", ["a"], ["b"]), ("SQUEEZE", ["b"], ["c"])],
                 ["x"], ["c"])
    plan = plan_memory(g)
    assert plan.aliases == {"b": "a", "c": "b"}
    assert plan.offsets["a"] == plan.offsets["b"] == plan.offsets["c"]


def test_checker_catches_a_broken_plan():
    g = branchy()
    plan = plan_memory(g)
    plan.offsets["b"] = plan.offsets["a"]  # a and b are both alive at op 1 and op 2
    with pytest.raises(PlanError, match=r"overlap: 'a' \(ops 0-2.*'b' \(ops 1-2"):
        check_plan(g, plan)


def test_checker_catches_partial_overlap_and_a_bad_alias():
    g = chain([8, 8, 8])
    plan = plan_memory(g, in_place=False)
    plan.offsets["t1"] = plan.offsets["t0"] + ALIGNMENT  # t0 is 32 bytes: t1 starts inside
    plan.arena_size += 64
    with pytest.raises(PlanError, match="overlap"):
        check_plan(g, plan)
    g = graph_of({"t0": 8, "t1": 8, "t2": 8}, [("SOFTMAX", ["t0"], ["t1"]), ("SOFTMAX", ["t1"], ["t2"])],
                 ["t0"], ["t2"])
    plan = plan_memory(g)
    plan.offsets["t1"] = plan.offsets["t0"]
    plan.aliases = {"t1": "t0"}  # a SOFTMAX cannot work in place: no alias excuses the overlap
    with pytest.raises(PlanError, match="cannot reuse the bytes"):
        check_plan(g, plan)


def test_element_wise_ops_run_in_place_on_a_dying_input():
    # A chain of RELUs needs one buffer: each output takes its dying input's bytes.
    g = chain([64] * 5)
    plan = plan_memory(g)
    assert plan.aliases == {"t1": "t0", "t2": "t1", "t3": "t2", "t4": "t3"}
    assert plan.arena_size == aligned(4 * 64)
    check_plan(g, plan)


def test_element_wise_in_place_only_where_element_i_maps_to_element_i():
    # ADD of a [4, 6] and a broadcast [6]: the output may take a's bytes, never b's.
    g = Graph()
    for name, shape in (("a", (4, 6)), ("b", (6,)), ("y", (4, 6)), ("z", (4, 6))):
        g.add_tensor(Tensor(name, shape, "float32"))
    g.add_op(Op("ADD", ["b", "a"], ["y"]))
    g.add_op(Op("RELU", ["y"], ["z"]))
    g.inputs, g.outputs = ["a", "b"], ["z"]
    assert plan_memory(g).aliases == {"y": "a", "z": "y"}
    g.outputs = ["z", "a"]  # a must survive: nothing to take
    assert plan_memory(g).aliases == {"z": "y"}
    # An int8 -> int8 requantization in place; float32 -> int8 not.
    q = graph_of({"p": 8, "q": 8, "r": 8}, [("QUANTIZE", ["p"], ["q"]), ("QUANTIZE", ["q"], ["r"])], ["p"], ["r"])
    q.tensors["q"].dtype = q.tensors["r"].dtype = "int8"
    assert plan_memory(q).aliases == {"r": "q"}
    # float32 inputs, a 1-byte bool output: element i is not at the same bytes.
    h = graph_of({"p": 8, "q": 8}, [("LESS", ["p", "p"], ["q"])], ["p"], ["q"])
    h.tensors["q"].dtype = "bool"
    assert plan_memory(h).aliases == {}


def test_checker_catches_misalignment_and_overflow():
    g = chain([8, 8])
    plan = plan_memory(g)
    plan.offsets["t1"] += 4
    with pytest.raises(PlanError, match="not a multiple of 16"):
        check_plan(g, plan)
    plan = plan_memory(g)
    plan.arena_size -= ALIGNMENT
    with pytest.raises(PlanError, match="does not fit"):
        check_plan(g, plan)


def test_constant_outputs_get_a_place_and_weights_do_not():
    g = graph_of({"x": 4, "y": 4}, [("RELU", ["x"], ["y"])], ["x"], ["y", "k"])
    g.add_tensor(const_tensor("k", np.ones(4, np.float32)))
    g.add_tensor(const_tensor("w", np.ones(4, np.float32)))
    g.ops[0].inputs = ["x", "w"]
    plan = plan_memory(g)
    assert "k" in plan.offsets and "w" not in plan.offsets
    assert lifetimes(g)["k"] == Lifetime(0, 0)
