"""Reads one step of a TF1 LSTM cell (BasicLSTMCell, LSTMCell: peepholes, cell clipping,
projection) as the graph has it after the earlier passes, by structure alone:

    z = FULLY_CONNECTED(CONCATENATION(x, h_prev), W[4H, F + H], bias)
    i, j, f, o = SPLIT(z, 4)                   (TensorFlow's gate order)
    c = [clip] (c_prev * sigmoid(f + forget_bias [+ w_f * c_prev])
                + sigmoid(i [+ w_i * c_prev]) * tanh(j))
    m = sigmoid(o [+ w_o * c]) * tanh(c)
    (tanh, or another activation LiteRT's kernel offers: RELU, RELU6, RELU_N1_TO_1)
    h = [clip] (FULLY_CONNECTED(m, P)) with a projection, else m

A gate's argument is read as a sum (ADD in any order) of its split output, constants (folded
into the gate's bias) and at most one peephole product. With a zero c_prev the earlier passes
have removed everything that multiplies it (the forget gate, the input peephole): such a cell
leaves those parameters undetermined (None), as they do not change what it computes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir import Graph, Op
from ..ops.lstm import ACTIVATIONS
from .patterns import has_activation, scalar_const

# TF's kernel columns, in its split order, per TFLite gate name.
TF_GATE_ORDER = ("input", "cell", "forget", "output")


class NoCell(Exception):
    """The ops are not an LSTM cell this pass can fuse; the message says why."""


@dataclass
class Cell:
    fc: Op  # the gates' product
    x: str  # the step's input
    h: str = ""  # the new output and cell state
    c: str = ""
    ops: list[Op] = field(default_factory=list)
    # name -> value; None where the cell does not determine it (see the module doc).
    params: dict = field(default_factory=dict)


def is_zero(graph: Graph, name: str) -> bool:
    value = graph.const_value(name)
    return value is not None and value.dtype == np.float32 and not np.any(value)


def _only_consumer(graph: Graph, name: str, *types: str) -> Op:
    users = graph.consumers(name)
    if len(users) != 1 or users[0].type not in types or has_activation(users[0]):
        raise NoCell(f"{name!r} is read by {users!r}, not by one {'/'.join(types)}")
    return users[0]


def _other(op: Op, name: str) -> str:
    if sorted(op.inputs) == [name, name] or name not in op.inputs:
        raise NoCell(f"{op!r} does not read {name!r} once")
    return op.inputs[1] if op.inputs[0] == name else op.inputs[0]


def _producer(graph: Graph, name: str, *types: str) -> Op:
    op = graph.producer(name)
    if op is None or op.type not in types or has_activation(op):
        raise NoCell(f"{name!r} is not made by a {'/'.join(types)} ({op!r})")
    return op


class _Reader:
    def __init__(self, graph: Graph, cell: Cell, units: int) -> None:
        self.graph, self.cell, self.units = graph, cell, units

    def take(self, op: Op) -> Op:
        self.cell.ops.append(op)
        return op

    def vector(self, name: str) -> np.ndarray | None:
        """A constant broadcast over a gate's [batch, units]: a scalar or a [units] row."""
        value = self.graph.const_value(name)
        if value is None or value.dtype != np.float32:
            return None
        if value.size == 1:
            return np.full(self.units, value.ravel()[0], np.float32)
        if value.shape[-1:] == (self.units,) and value.size == self.units:
            return value.reshape(self.units)
        return None

    def gate_sum(self, name: str, split_out: str, state: str | None) -> tuple[np.ndarray, np.ndarray | None]:
        """(constant addends, peephole weights or None) of the sum `name`, which must hold
        split_out once; the peephole is a product of a constant [units] row and `state`."""
        bias = np.zeros(self.units, np.float32)
        peephole = None
        seen_split = False
        pending = [name]
        while pending:
            t = pending.pop()
            if t == split_out and not seen_split:
                seen_split = True
                continue
            constant = self.vector(t)
            if constant is not None:
                bias = bias + constant
                continue
            op = self.take(_producer(self.graph, t, "ADD", "MUL"))
            if op.type == "ADD":
                pending += op.inputs
                continue
            if state is None or peephole is not None or state not in op.inputs:
                raise NoCell(f"{op!r} in a gate is not a peephole on the cell state")
            weights = self.vector(_other(op, state))
            if weights is None:
                raise NoCell(f"{op!r}: the peephole weights are not a constant row")
            peephole = weights
        if not seen_split:
            raise NoCell(f"the gate sum {name!r} does not hold its part of the cell's product")
        return bias, peephole

    def gate(self, activated: str, kind: str, split_out: str, state: str | None):
        op = self.take(_producer(self.graph, activated, kind))
        return self.gate_sum(op.inputs[0], split_out, state)

    def clip(self, name: str) -> tuple[str, float]:
        """Follows a symmetric clip_by_value after `name` (MINIMUM then MAXIMUM, either
        order): (the clipped tensor, the bound), or (name, 0.0) without one."""
        users = self.graph.consumers(name)
        if len(users) != 1 or users[0].type not in ("MINIMUM", "MAXIMUM") or has_activation(users[0]):
            return name, 0.0
        first = users[0]
        second = _only_consumer(self.graph, first.outputs[0], "MAXIMUM" if first.type == "MINIMUM" else "MINIMUM")
        bounds = [scalar_const(self.graph, _other(op, t)) for op, t in ((first, name), (second, first.outputs[0]))]
        # (a bound of 0 clips everything to 0, while TFLite reads cell_clip 0 as no clip)
        if None in bounds or (first.type == "MAXIMUM") != (bounds[0] < 0) or bounds[0] != -bounds[1] \
                or bounds[0] == 0:
            raise NoCell(f"{first!r} and {second!r} are not a symmetric clip")
        self.take(first)
        self.take(second)
        return second.outputs[0], abs(bounds[0])


def _or_zeros(peephole: np.ndarray | None, units: int) -> np.ndarray:
    return np.zeros(units, np.float32) if peephole is None else peephole


def read_cell(graph: Graph, fc: Op, h_prev: str | None, c_prev: str | None) -> Cell:
    """The cell whose gate product is `fc` (FULLY_CONNECTED of CONCATENATION(x, h_prev)),
    given its state (None: zero)."""
    concat = _producer(graph, fc.inputs[0], "CONCATENATION")
    shape = graph.tensors[fc.inputs[0]].shape
    if len(concat.inputs) != 2 or concat.attrs.get("axis") not in (1, -1) or shape is None \
            or len(shape) != 2 or (concat.inputs[1] != h_prev if h_prev else not is_zero(graph, concat.inputs[1])):
        raise NoCell(f"{concat!r} is not the concatenation of a step's input and the previous output")
    x = concat.inputs[0]
    weights = graph.const_value(fc.inputs[1])
    bias_name = fc.inputs[2] if len(fc.inputs) > 2 else ""
    bias = graph.const_value(bias_name) if bias_name else None
    if weights is None or weights.dtype != np.float32 or weights.shape[0] % 4 or fc.attrs.get("keep_num_dims") \
            or has_activation(fc) or (bias_name and bias is None):
        raise NoCell(f"{fc!r} has no constant float weights of 4 gates")
    units = weights.shape[0] // 4
    cell = Cell(fc, x, ops=[fc, concat])
    reader = _Reader(graph, cell, units)
    split = reader.take(_only_consumer(graph, fc.outputs[0], "SPLIT"))
    axis = graph.const_value(split.inputs[0])
    if split.attrs.get("num_splits") != 4 or axis is None or int(axis) not in (1, -1):
        raise NoCell(f"{split!r} does not split the product into 4 gates")
    s_i, s_j, s_f, s_o = split.outputs
    # Forward from the cell gate to its product with the input gate, then to the new state.
    t = s_j
    try:
        while (op := _only_consumer(graph, t, "ADD", *ACTIVATIONS)).type == "ADD":
            t = op.outputs[0]
    except NoCell as why:
        raise NoCell(f"the cell gate's activation is none of LiteRT's LSTM ({why})") from None
    activation, tanh_j = op.type, op.outputs[0]
    j_bias, _ = reader.gate(tanh_j, activation, s_j, None)
    product = reader.take(_only_consumer(graph, tanh_j, "MUL"))
    i_bias, i_peep = reader.gate(_other(product, tanh_j), "LOGISTIC", s_i, c_prev)
    raw = product.outputs[0]
    f_bias = f_peep = None
    if c_prev is not None:
        add = reader.take(_only_consumer(graph, raw, "ADD"))
        keep = reader.take(_producer(graph, _other(add, raw), "MUL"))
        f_bias, f_peep = reader.gate(_other(keep, c_prev), "LOGISTIC", s_f, c_prev)
        raw = add.outputs[0]
    elif graph.consumers(s_f):
        raise NoCell("the forget gate of a cell with a zero state is still computed")
    c, cell_clip = reader.clip(raw)
    # The output: sigmoid(o) * tanh(c), read back from the TANH of c (or the cell gate's
    # other activation, which LiteRT's kernel applies to both).
    tanhs = [op for op in graph.consumers(c) if op.type == activation and not has_activation(op)]
    if len(tanhs) != 1:
        raise NoCell(f"the cell state {c!r} is not read by one {activation}, the cell gate's activation")
    reader.take(tanhs[0])
    out = reader.take(_only_consumer(graph, tanhs[0].outputs[0], "MUL"))
    o_bias, o_peep = reader.gate(_other(out, tanhs[0].outputs[0]), "LOGISTIC", s_o, c)
    h, projection, proj_clip = out.outputs[0], None, 0.0
    users = graph.consumers(h)
    # (an output read as it is, by the graph or anything else, is not before a projection)
    if len(users) == 1 and users[0].type == "FULLY_CONNECTED" and users[0].inputs[0] == h \
            and h not in graph.outputs:
        proj = reader.take(users[0])
        projection = graph.const_value(proj.inputs[1])
        if projection is None or projection.dtype != np.float32 or has_activation(proj) \
                or len(proj.inputs) > 2 and proj.inputs[2]:
            raise NoCell(f"{proj!r} is not a projection by constant weights without bias")
        h, proj_clip = reader.clip(proj.outputs[0])
    n_output = units if projection is None else projection.shape[0]
    if weights.shape[1] <= n_output:
        raise NoCell(f"{fc!r} has no columns for the step's input")
    fc_bias = np.zeros(4 * units, np.float32) if bias is None else bias.reshape(4 * units)
    parts = dict(zip(TF_GATE_ORDER, range(4)))
    gate_bias = {"input": i_bias, "cell": j_bias, "output": o_bias, "forget": f_bias}
    cell.h, cell.c = h, c
    cell.params = {
        "weights": weights, "n_output": n_output, "activation": activation,
        "cell_clip": cell_clip, "proj_clip": proj_clip,
        "projection": projection, "cell_to_output": _or_zeros(o_peep, units),
        "cell_to_input": None if c_prev is None else _or_zeros(i_peep, units),
        "cell_to_forget": None if c_prev is None else _or_zeros(f_peep, units),
    }
    for name, extra in gate_bias.items():
        k = parts[name]
        cell.params[f"{name}_bias"] = None if extra is None else fc_bias[k * units:(k + 1) * units] + extra
    return cell
