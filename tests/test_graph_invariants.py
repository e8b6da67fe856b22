"""The Graph keeps its producer/consumer maps up to date edit by edit: seeded random sequences
of its edit methods, each followed by a comparison with the maps rebuilt from the ops. And the
debug check the pass driver runs after every rewrite: it catches a pass that edits the graph
behind its back, and names that pass."""
import os
import subprocess
import sys
from collections import Counter
from contextlib import contextmanager

import numpy as np
import pytest

from toco_py.ir import Graph, InvariantError, Op, Tensor, enable_invariant_checks, invariant_checks_enabled
from toco_py.passes.base import Pass
from toco_py.passes.driver import run_stage

SEEDS = range(300)
EDITS = 40


class RandomEditor:
    """Makes one random edit at a time through the Graph's methods, each keeping the graph
    well formed (topological order, every read tensor defined), so that every check holds."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.g = Graph()
        for name in ("x0", "x1"):
            self.g.add_tensor(Tensor(name, (2,)))
        self.g.inputs = ["x0", "x1"]
        self.g.add_const("c", np.zeros(2, np.float32))
        for _ in range(6):
            self.add_op()
        self.g.outputs = [self.g.ops[-1].outputs[0]]

    # ---- picking ---------------------------------------------------------------------------

    def pick(self, items):
        return items[self.rng.integers(len(items))] if items else None

    def fresh(self, base: str = "t") -> str:
        name = self.g.unique_name(base)
        self.g.add_tensor(Tensor(name, (2,)))
        return name

    def defined_before(self, index: int) -> list[str]:
        """The tensors an op at position `index` may read."""
        names = list(self.g.inputs) + [n for n, t in self.g.tensors.items() if t.is_const]
        return names + [o for op in self.g.ops[:index] for o in op.outputs]

    def position(self, op: Op) -> int:
        return next(i for i, o in enumerate(self.g.ops) if o is op)

    def some_inputs(self, index: int) -> list[str]:
        """One to three tensors defined before `index`, repeats and absent inputs included."""
        names = self.defined_before(index)
        chosen = [self.pick(names) for _ in range(self.rng.integers(1, 4))]
        if len(chosen) > 1 and self.rng.random() < 0.2:
            chosen[-1] = ""
        return chosen

    def intermediates(self) -> list[str]:
        return [o for op in self.g.ops for o in op.outputs if o not in self.g.outputs]

    # ---- edits (each returns False when it found nothing to edit) ---------------------------

    def add_op(self) -> bool:
        i = int(self.rng.integers(len(self.g.ops) + 1))
        inputs = self.some_inputs(i)
        op_type = "Identity" if len(inputs) == 1 else "ADD_N"
        before = self.g.ops[i] if i < len(self.g.ops) else None
        self.g.add_op(Op(op_type, inputs, [self.fresh()]), before=before)
        return True

    def remove_op(self) -> bool:
        unread = [op for op in self.g.ops if not any(self.g.consumers(o) or o in self.g.outputs
                                                     for o in op.outputs)]
        op = self.pick(unread)
        if op is None:
            return False
        self.g.remove_op(op)
        self.g.drop_unused(op.outputs + op.inputs)
        return True

    def replace_op(self) -> bool:
        """By a chain of two ops, by a copy, or by itself behind a new op."""
        op = self.pick(self.g.ops)
        if op is None:
            return False
        kind = self.rng.integers(3)
        if kind == 0:
            tmp = self.fresh()
            new = [Op("Identity", [op.inputs[0]], [tmp]), Op(op.type, [tmp] + op.inputs[1:], op.outputs)]
        elif kind == 1:
            new = [Op(op.type, list(op.inputs), list(op.outputs))]
        else:
            new = [Op("Identity", self.some_inputs(self.position(op))[:1], [self.fresh()]), op]
        self.g.replace_op(op, new)
        return True

    def replace_uses(self) -> bool:
        read = [n for n in self.g.tensors if self.g.consumers(n)]
        old = self.pick(read)
        if old is None:
            return False
        first_reader = self.position(self.g.consumers(old)[0])
        new = self.pick([n for n in self.defined_before(first_reader) if n != old])
        if new is None:
            return False
        self.g.replace_uses(old, new)
        return True

    def bypass(self) -> bool:
        op = self.pick([op for op in self.g.ops if op.type == "Identity" and self.g.can_bypass(op)])
        if op is None:
            return False
        self.g.bypass(op)
        return True

    def set_input(self) -> bool:
        op = self.pick([op for op in self.g.ops if op.inputs])
        if op is None:
            return False
        index = int(self.rng.integers(len(op.inputs)))
        names = self.defined_before(self.position(op)) + [""] * (index > 0)  # (absent: not the first)
        self.g.set_input(op, index, self.pick(names))
        return True

    def set_outputs(self) -> bool:
        """An op writes a new tensor, which its readers then read instead of the old one."""
        op = self.pick(self.g.ops)
        if op is None:
            return False
        old, new = op.outputs[0], self.fresh()
        self.g.set_outputs(op, [new] + op.outputs[1:])
        self.g.replace_uses(old, new)
        self.g.drop_unused([old])
        return True

    def rename(self) -> bool:
        old = self.pick(self.intermediates())
        if old is None:
            return False
        self.g._rename_tensor(old, self.g.unique_name(f"{old}/renamed"))
        return True

    def reorder(self) -> bool:
        """The op list assigned anew and sorted again (as the quantizer does)."""
        ops = list(self.g.ops)
        self.rng.shuffle(ops)
        self.g.ops = ops
        self.g.toposort()
        return True

    def insert_in_place(self) -> bool:
        """The list edited in place and then invalidate() called (as the rule asks)."""
        self.g.ops.insert(0, Op("Identity", [self.pick(self.g.inputs)], [self.fresh()]))
        self.g.invalidate()
        return True

    def remove_dead(self) -> bool:
        return self.g.remove_dead() > 0

    def edit_unmapped(self) -> bool:
        """An edit while the maps are dropped (the next query rebuilds them)."""
        self.g.invalidate()
        return self.pick([self.add_op, self.set_input, self.remove_op])()

    EDITS = ("add_op", "remove_op", "replace_op", "replace_uses", "bypass", "set_input",
             "set_outputs", "rename", "reorder", "insert_in_place", "remove_dead", "edit_unmapped")

    def edit(self) -> str | None:
        name = self.pick(self.EDITS)
        return name if getattr(self, name)() else None


def assert_maps_match(g: Graph) -> None:
    """The kept maps equal a rebuild, and the queries answer what a scan of the ops says."""
    assert g.map_problems() == []
    assert g.structure_problems() == []
    for name in g.tensors:
        producer = [op for op in g.ops if name in op.outputs]
        assert [g.producer(name)] == (producer or [None]), name
        assert [id(op) for op in g.consumers(name)] == [id(op) for op in g.ops if name in op.inputs], name


def test_random_edits_keep_the_maps_equal_to_a_rebuild():
    done = Counter()
    for seed in SEEDS:
        editor = RandomEditor(seed)
        assert_maps_match(editor.g)
        for step in range(EDITS):
            what = editor.edit()
            done[what] += 1
            try:
                assert_maps_match(editor.g)
            except AssertionError as err:
                raise AssertionError(f"seed {seed}, edit {step} ({what}): {err}") from None
    # Every kind of edit was really made, many times over.
    assert all(done[name] >= 50 for name in RandomEditor.EDITS), done


@contextmanager
def invariant_checks(on: bool):
    saved = invariant_checks_enabled()
    enable_invariant_checks(on)
    try:
        yield
    finally:
        enable_invariant_checks(saved)


def _chain() -> tuple[Graph, list[Op]]:
    g = Graph()
    for name in ("x", "a", "y"):
        g.add_tensor(Tensor(name, (2,)))
    g.inputs, g.outputs = ["x"], ["y"]
    ops = [g.add_op(Op("RELU", ["x"], ["a"], name="relu")), g.add_op(Op("TANH", ["a"], ["y"], name="tanh"))]
    return g, ops


def test_an_edit_behind_the_graphs_back_is_seen():
    g, (relu, tanh) = _chain()
    assert g.consumers("a") == [tanh]
    tanh.inputs[0] = "x"  # in place, without set_inputs or invalidate()
    problems = g.map_problems()
    assert any("TANH(tanh) was edited behind the graph's back" in p for p in problems)
    assert any("read 'a'" in p for p in problems) and any("read 'x'" in p for p in problems)


# Ways to break the chain x -RELU-> a -TANH-> y (see break_chain), and what the check then says.
BREAKAGES = {
    "missing input": "TANH(tanh) reads 'gone', which has no tensor",
    "out of order": "TANH(tanh) reads 'a' before it is defined",
    "never written": "TANH(tanh) reads 'b' before it is defined",
    "missing output": "TANH(tanh) writes 'gone', which has no tensor",
    "two writers": "'a' is written by TANH(tanh) and another op",
    "writes an input": "RELU(relu) writes 'x', a graph input or constant",
    "writes a constant": "TANH(tanh) writes 'c', a graph input or constant",
    "removed op": "RELU(relu) is in the op list but marked removed",
    "op twice": "TANH(tanh) is in the op list twice",
    "input without tensor": "graph input 'gone' has no tensor",
    "output without tensor": "graph output 'gone' has no tensor",
    "output never computed": "graph output 'b' is never computed",
}


def break_chain(how: str, g: Graph, relu: Op, tanh: Op) -> None:
    """Edits behind the graph's back, as a buggy pass would."""
    g.add_tensor(Tensor("b", (2,)))
    g.add_const("c", np.zeros(2, np.float32))
    if how == "missing input":
        tanh.inputs[0] = "gone"
    elif how == "out of order":
        g.ops.reverse()
    elif how == "never written":
        tanh.inputs[0] = "b"
    elif how == "missing output":
        tanh.outputs[0] = "gone"
    elif how == "two writers":
        tanh.outputs[0] = "a"
    elif how == "writes an input":
        relu.outputs[0] = "x"
    elif how == "writes a constant":
        tanh.outputs[0] = "c"
    elif how == "removed op":
        relu.alive = False
    elif how == "op twice":
        g.ops.append(tanh)
    elif how == "input without tensor":
        g.inputs.append("gone")
    elif how == "output without tensor":
        g.outputs.append("gone")
    elif how == "output never computed":
        g.outputs.append("b")
    g.invalidate()


@pytest.mark.parametrize("how, says", BREAKAGES.items(), ids=BREAKAGES.keys())
def test_each_broken_structure_fact_is_named(how, says):
    g, (relu, tanh) = _chain()
    assert g.structure_problems() == []
    break_chain(how, g, relu, tanh)
    assert says in g.structure_problems()


def _corrupt(graph: Graph, op: Op) -> bool:
    if op.type != "TANH" or op.inputs[0] == "x":
        return False
    op.inputs[0] = "x"
    return True


def _orphan(graph: Graph, op: Op) -> bool:
    """Removes an op whose output is still read (through the graph's methods)."""
    if op.type != "RELU":
        return False
    graph.remove_op(op)
    return True


def test_the_driver_names_the_pass_that_corrupted_the_maps():
    g, _ = _chain()
    with invariant_checks(True), pytest.raises(
            InvariantError, match=r"pass test/corrupt at TANH\(tanh\) broke the graph's invariants: "
                                  r".*edited behind the graph's back"):
        run_stage(g, "test", [Pass("corrupt", _corrupt)])


def test_the_driver_names_the_pass_that_left_a_read_undefined():
    g, _ = _chain()
    with invariant_checks(True), pytest.raises(
            InvariantError, match=r"pass test/orphan at RELU\(relu\) .*TANH\(tanh\) reads 'a' before it is defined"):
        run_stage(g, "test", [Pass("orphan", _orphan)])


def test_with_the_checks_off_the_driver_does_not_look():
    g, (relu, tanh) = _chain()
    with invariant_checks(False):
        assert run_stage(g, "test", [Pass("corrupt", _corrupt)]) == 1
    assert tanh.inputs == ["x"]


def test_the_checks_are_on_in_the_suite_and_off_by_default():
    assert invariant_checks_enabled() == (os.environ["TOCO_CHECK_INVARIANTS"] not in ("", "0"))
    env = {k: v for k, v in os.environ.items() if k != "TOCO_CHECK_INVARIANTS"}
    probe = "import toco_py.ir as ir; print(ir.invariant_checks_enabled())"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
