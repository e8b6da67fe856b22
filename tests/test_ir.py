"""Graph helpers: ordering, rewiring, removal, dead-op pruning."""
import numpy as np
import pytest

from toco_py.errors import ConversionError
from toco_py.ir import Graph, Op, Tensor


def _chain():
    g = Graph()
    for name in ("x", "a", "b", "y"):
        g.add_tensor(Tensor(name, (1, 4)))
    g.inputs, g.outputs = ["x"], ["y"]
    ops = [Op("RELU", ["x"], ["a"]), Op("Identity", ["a"], ["b"]), Op("TANH", ["b"], ["y"])]
    for op in ops:
        g.add_op(op)
    return g, ops


def test_producer_and_consumers_follow_mutation():
    g, (relu, ident, tanh) = _chain()
    assert g.producer("b") is ident and g.consumers("a") == [ident]
    g.bypass(ident)
    assert g.consumers("a") == [tanh] and "b" not in g.tensors
    assert not ident.alive and tanh.inputs == ["a"]


def test_bypass_keeps_output_name():
    g, (relu, ident, tanh) = _chain()
    g.remove_op(tanh)
    g.outputs = ["b"]
    assert g.can_bypass(ident)
    g.bypass(ident)
    assert g.outputs == ["b"] and relu.outputs == ["b"] and "a" not in g.tensors


def test_bypass_refused_between_input_and_output():
    g = Graph()
    g.add_tensor(Tensor("x", (2,)))
    g.add_tensor(Tensor("y", (2,)))
    g.inputs, g.outputs = ["x"], ["y"]
    op = g.add_op(Op("Identity", ["x"], ["y"]))
    assert not g.can_bypass(op)


def test_toposort_restores_order_and_finds_cycles():
    g, ops = _chain()
    g.ops = list(reversed(g.ops))
    g.toposort()
    assert [o.type for o in g.ops] == ["RELU", "Identity", "TANH"]
    g.ops[0].inputs = ["y"]
    with pytest.raises(ConversionError, match="cycle"):
        g.toposort()


def test_remove_dead():
    g, ops = _chain()
    g.add_tensor(Tensor("unused", (1,)))
    g.add_op(Op("RELU", ["a"], ["unused"]))
    g.add_const("c", np.zeros(3))
    assert g.remove_dead() == 1
    assert "unused" not in g.tensors and "c" not in g.tensors
    g.validate()


def test_replace_uses_and_validate():
    g, (relu, ident, tanh) = _chain()
    g.replace_uses("b", "x")
    assert tanh.inputs == ["x"]
    g.ops.reverse()
    with pytest.raises(ConversionError, match="before it is defined"):
        g.validate()


def test_unique_names():
    g, _ = _chain()
    assert g.add_const("a", np.ones(1)) == "a_1"
    assert g.add_const("a", np.ones(1)) == "a_2"
