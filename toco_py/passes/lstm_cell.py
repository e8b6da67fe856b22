"""Reads one step of an LSTM cell as the graph has it after the earlier passes, by structure
alone, whatever built it: TF1's BasicLSTMCell and LSTMCell (peepholes, cell clipping,
projection), Keras's LSTMCell (both implementations) and TF's LSTMBlockCell kernels as the
frontend lowers them:

    i, g, f, o = the gates' pre-activations, each W_x x + W_h h_prev + b
    c = [clip] (c_prev * sigmoid(f [+ w_f * c_prev]) + sigmoid(i [+ w_i * c_prev]) * act(g))
    m = sigmoid(o [+ w_o * c]) * act(c)
    (act: tanh, or another activation LiteRT's kernel offers: RELU, RELU6, RELU_N1_TO_1)
    h = [clip] (FULLY_CONNECTED(m, P)) with a projection, else m

A pre-activation is read as a sum (ADD in any order) of constants (the gate's bias, a forget
bias), at most one peephole product, and affine terms: FULLY_CONNECTED of x, of h_prev or of
CONCATENATION(x, h_prev), or one part of a SPLIT of such a sum (the cell's product of all four
gates at once; its gate order does not matter: each gate is told by where its activation
goes). With a zero state the earlier passes have removed everything that multiplies it (the
recurrent weights, the forget gate, the input peephole): such a cell leaves those parameters
undetermined (None), as they do not change what it computes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir import Graph, Op
from ..ops.lstm import ACTIVATIONS
from .patterns import has_activation, scalar_const

# The gates by the schema's names (input_to_{gate}_weights, ...).
GATES = ("input", "forget", "cell", "output")


class NoCell(Exception):
    """The ops are not an LSTM cell this pass can fuse; the message says why."""


@dataclass
class Cell:
    anchor: Op  # the cell gate's activation, act(g)
    x: str  # the step's input
    h: str = ""  # the new output and cell state
    c: str = ""
    ops: list[Op] = field(default_factory=list)
    # UNIDIRECTIONAL_SEQUENCE_LSTM's inputs by schema name (input_to_cell_weights, ...), and
    # n_output, activation, cell_clip, proj_clip; None where the cell does not determine one
    # (see the module doc).
    params: dict = field(default_factory=dict)


@dataclass
class _Affine:
    """W_x x + W_h h_prev + b over `rows` output columns (x, W_x None until an x is seen)."""
    bias: np.ndarray
    x: str | None = None
    w_x: np.ndarray | None = None
    w_h: np.ndarray | None = None

    def add(self, other: _Affine) -> None:
        if other.x is not None:
            if self.x not in (None, other.x):
                raise NoCell(f"the gates read two step inputs, {self.x!r} and {other.x!r}")
            self.x = other.x
        self.bias = self.bias + other.bias
        self.w_x = _plus(self.w_x, other.w_x)
        self.w_h = _plus(self.w_h, other.w_h)

    def rows(self, k: int, n: int) -> _Affine:
        def part(a):
            return None if a is None else np.split(a, n)[k]
        return _Affine(part(self.bias), self.x, part(self.w_x), part(self.w_h))


def _plus(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None or b is None:
        return b if a is None else a
    if a.shape != b.shape:
        raise NoCell("the gates' products have different shapes")
    return a + b


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
    def __init__(self, graph: Graph, h_prev: str | None, c_prev: str | None) -> None:
        self.graph, self.h_prev, self.c_prev = graph, h_prev, c_prev
        self.ops: dict[int, Op] = {}
        self.split_inputs: dict[str, _Affine] = {}

    def take(self, op: Op) -> Op:
        self.ops.setdefault(id(op), op)
        return op

    def vector(self, name: str, rows: int) -> np.ndarray | None:
        """A constant broadcast over a [batch, rows] gate: a scalar or a [rows] row."""
        value = self.graph.const_value(name)
        if value is None or value.dtype != np.float32:
            return None
        if value.size == 1:
            return np.full(rows, value.ravel()[0], np.float32)
        if value.shape[-1:] == (rows,) and value.size == rows:
            return value.reshape(rows)
        return None

    def product(self, fc: Op, rows: int) -> _Affine:
        """A FULLY_CONNECTED of x, of h_prev or of CONCATENATION(x, h_prev) (of x and zeros
        when the state is zero), by constant weights."""
        weights = self.graph.const_value(fc.inputs[1])
        bias_name = fc.inputs[2] if len(fc.inputs) > 2 else ""
        bias = self.vector(bias_name, rows) if bias_name else np.zeros(rows, np.float32)
        if weights is None or weights.dtype != np.float32 or weights.ndim != 2 or weights.shape[0] != rows \
                or fc.attrs.get("keep_num_dims") or bias is None:
            raise NoCell(f"{fc!r} has no constant float weights for {rows} gate values")
        shape = self.graph.tensors[fc.inputs[0]].shape
        if shape is None or len(shape) != 2:
            raise NoCell(f"{fc!r} does not multiply a [batch, features] tensor")
        operand = fc.inputs[0]
        if operand == self.h_prev:
            return _Affine(bias, w_h=weights)
        concat = self.graph.producer(operand)
        if concat is not None and concat.type == "CONCATENATION" and len(self.graph.consumers(operand)) == 1:
            state = self.h_prev is not None and concat.inputs[1:] == [self.h_prev]
            zero = self.h_prev is None and len(concat.inputs) == 2 and is_zero(self.graph, concat.inputs[1])
            x_shape = self.graph.tensors[concat.inputs[0]].shape
            if (state or zero) and concat.attrs.get("axis") in (1, -1) and not has_activation(concat) \
                    and x_shape is not None and len(x_shape) == 2:
                self.take(concat)
                n_input = x_shape[1]
                return _Affine(bias, concat.inputs[0], weights[:, :n_input], weights[:, n_input:] if state else None)
        if operand in (self.c_prev, self.h_prev) or self.graph.const_value(operand) is not None:
            raise NoCell(f"{fc!r} multiplies neither the step's input nor the previous output")
        return _Affine(bias, operand, weights)

    def affine(self, name: str, rows: int) -> _Affine:
        """The affine form of `name`, a sum of constants and products (see the module doc)."""
        total = _Affine(np.zeros(rows, np.float32))
        pending = [name]
        while pending:
            t = pending.pop()
            constant = self.vector(t, rows)
            if constant is not None:
                total.bias = total.bias + constant
                continue
            op = self.take(_producer(self.graph, t, "ADD", "FULLY_CONNECTED", "SPLIT"))
            if op.type == "ADD":
                pending += op.inputs
            elif op.type == "FULLY_CONNECTED":
                total.add(self.product(op, rows))
            else:
                n = op.attrs.get("num_splits")
                axis = self.graph.const_value(op.inputs[0])
                if not n or axis is None or int(axis) not in (1, -1):
                    raise NoCell(f"{op!r} does not split the gates' product along its last axis")
                whole = op.inputs[1]
                if whole not in self.split_inputs:
                    self.split_inputs[whole] = self.affine(whole, rows * n)
                total.add(self.split_inputs[whole].rows(op.outputs.index(t), n))
        return total

    def gate(self, activated: str, kind: tuple[str, ...], state: str | None) -> tuple[Op, _Affine, np.ndarray | None]:
        """The gate whose activation (of `kind`) writes `activated`: (the activation, the
        pre-activation's affine form, the peephole weights on `state` or None). The
        peephole is a product of a constant row and the state, added to the affine form."""
        op = self.take(_producer(self.graph, activated, *kind))
        shape = self.graph.tensors[activated].shape
        if shape is None or len(shape) != 2:
            raise NoCell(f"the gate {activated!r} has no static [batch, units] shape")
        units = shape[1]
        peephole, terms = None, [op.inputs[0]]
        affine = _Affine(np.zeros(units, np.float32))
        while terms:
            t = terms.pop()
            add = self.graph.producer(t)
            if add is not None and add.type == "ADD" and not has_activation(add):
                terms += self.take(add).inputs
                continue
            mul = self.graph.producer(t)
            if mul is not None and mul.type == "MUL" and state is not None and state in mul.inputs \
                    and not has_activation(mul):
                weights = self.vector(_other(mul, state), units)
                if weights is None or peephole is not None:
                    raise NoCell(f"{mul!r} in a gate is not one peephole on the cell state")
                self.take(mul)
                peephole = weights
                continue
            affine.add(self.affine(t, units))
        return op, affine, peephole

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


def _gated_activation(graph: Graph, act: Op) -> tuple[Op, str] | None:
    """For an activation LiteRT's LSTM offers, multiplied by a sigmoid and by nothing else:
    (the product, the sigmoid's output)."""
    if act.type not in ACTIVATIONS or has_activation(act):
        return None
    users = graph.consumers(act.outputs[0])
    if len(users) != 1 or users[0].type != "MUL" or has_activation(users[0]) or len(set(users[0].inputs)) != 2:
        return None
    gate = _other(users[0], act.outputs[0])
    sigmoid = graph.producer(gate)
    return (users[0], gate) if sigmoid is not None and sigmoid.type == "LOGISTIC" else None


def _affine_reads(graph: Graph, name: str, seen: list[str]) -> bool:
    """Whether `name` has an affine form (see the module doc); adds the tensors it reads to
    `seen`. Reads only: a quick test for the passes."""
    # (tensor, role): a term of the sum, a product's operand, or a part of a concatenated operand
    pending = [(name, "term")]
    while pending:
        t, role = pending.pop()
        op = graph.producer(t)
        if graph.const_value(t) is not None:
            continue
        if role == "part" or role == "operand" and (op is None or op.type != "CONCATENATION"
                                                    or has_activation(op)):
            if t not in seen:
                seen.append(t)
        elif role == "operand":
            pending += [(n, "part") for n in op.inputs]
        elif op is None or has_activation(op):
            return False
        elif op.type == "FULLY_CONNECTED" and graph.const_value(op.inputs[1]) is not None:
            pending.append((op.inputs[0], "operand"))
        elif op.type == "ADD":
            pending += [(n, "term") for n in op.inputs]
        elif op.type == "MUL" and any(graph.const_value(n) is not None for n in op.inputs):
            continue  # (a peephole, on the state)
        elif op.type == "SPLIT":
            pending.append((op.inputs[1], "term"))
        else:
            return False
    return True


def step_inputs(graph: Graph, act: Op) -> list[str] | None:
    """When `act` may be a cell's act(g) (see the module doc), multiplied by a sigmoid, both
    of affine forms: the tensors those forms read (a first step reads one, its input x; a
    later step reads x and h_prev), else None."""
    gated = _gated_activation(graph, act)
    seen: list[str] = []
    if gated is None or not all(_affine_reads(graph, arg, seen)
                                for arg in (act.inputs[0], graph.producer(gated[1]).inputs[0])):
        return None
    return seen


def _split_reads(graph: Graph, split: Op) -> list[str] | None:
    """When `split` cuts an affine form into four (a cell's gates, see the module doc): the
    tensors that form reads, else None."""
    seen: list[str] = []
    if split.type != "SPLIT" or split.attrs.get("num_splits") != 4 or len(split.inputs) != 2 \
            or graph.producer(split.inputs[1]) is None \
            or graph.producer(split.inputs[1]).type not in ("FULLY_CONNECTED", "ADD") \
            or not _affine_reads(graph, split.inputs[1], seen):
        return None
    return seen


def gate_split_without_cell(graph: Graph, split: Op) -> bool:
    """Whether `split` cuts a first step's affine form into four (a cell's gates, see the
    module doc) none of which reaches an act(g) (an activation LiteRT's LSTM lacks)."""
    reads = _split_reads(graph, split)
    return reads is not None and len(reads) == 1 and not _gate_activations(graph, split)


def cell_anchors(graph: Graph) -> list[Op]:
    """The ops read_cell reads a cell at: each act(g) (step_inputs), and each SPLIT of four
    gates that reaches none (a cell whose activation LiteRT's LSTM lacks, which read_cell
    says)."""
    return [op for op in graph.ops if step_inputs(graph, op) is not None
            or _split_reads(graph, op) is not None and not _gate_activations(graph, op)]


def _gate_activations(graph: Graph, split: Op) -> list[Op]:
    """The act(g)s (see the module doc) that read outputs of `split`, through ADDs."""
    found = []
    for t in split.outputs:
        while len(users := graph.consumers(t)) == 1 and users[0].type == "ADD":
            t = users[0].outputs[0]
        found += [op for op in users if _gated_activation(graph, op) is not None]
    return found


def next_anchor(graph: Graph, c: str) -> Op | None:
    """The act(g) of the cell whose forget gate keeps `c`, a previous step's cell state."""
    found = []
    for keep in graph.consumers(c):
        if keep.type != "MUL" or has_activation(keep) or len(set(keep.inputs)) != 2:
            continue
        sigmoid = graph.producer(_other(keep, c))
        users = graph.consumers(keep.outputs[0])
        if sigmoid is None or sigmoid.type != "LOGISTIC" or len(users) != 1 or users[0].type != "ADD":
            continue
        product = graph.producer(_other(users[0], keep.outputs[0])) if len(set(users[0].inputs)) == 2 else None
        for name in product.inputs if product is not None and product.type == "MUL" else ():
            act = graph.producer(name)
            if act is not None and _gated_activation(graph, act) == (product, _other(product, name)):
                found.append(act)
    return found[0] if len(found) == 1 else None


def read_cell(graph: Graph, anchor: Op, h_prev: str | None, c_prev: str | None) -> Cell:
    """The cell whose cell gate's activation act(g) is `anchor` (or that a SPLIT `anchor` cuts
    the gates of), given its state (None: zero)."""
    if anchor.type == "SPLIT":
        anchor = next(iter(_gate_activations(graph, anchor)), anchor)
    gated = _gated_activation(graph, anchor)
    if gated is None:
        raise NoCell(f"at {anchor!r}, the cell gate's activation is none of LiteRT's LSTM's (TANH, RELU, "
                     "RELU6, RELU_N1_TO_1) multiplied by a LOGISTIC")
    reader = _Reader(graph, h_prev, c_prev)
    activation = anchor.type
    _, g, _ = reader.gate(anchor.outputs[0], (activation,), None)
    product, sigmoid_i = gated
    reader.take(product)
    _, i, i_peep = reader.gate(sigmoid_i, ("LOGISTIC",), c_prev)
    raw = product.outputs[0]
    f = f_peep = None
    if c_prev is not None:
        add = reader.take(_only_consumer(graph, raw, "ADD"))
        keep = reader.take(_producer(graph, _other(add, raw), "MUL"))
        _, f, f_peep = reader.gate(_other(keep, c_prev), ("LOGISTIC",), c_prev)
        raw = add.outputs[0]
    c, cell_clip = reader.clip(raw)
    # The output: sigmoid(o) * act(c), read back from the act of c (the cell gate's
    # activation: LiteRT's kernel applies one to both).
    acts = [op for op in graph.consumers(c) if op.type == activation and not has_activation(op)]
    if len(acts) != 1:
        raise NoCell(f"the cell state {c!r} is not read by one {activation}, the cell gate's activation")
    reader.take(acts[0])
    out = reader.take(_only_consumer(graph, acts[0].outputs[0], "MUL"))
    _, o, o_peep = reader.gate(_other(out, acts[0].outputs[0]), ("LOGISTIC",), c)
    h, projection, proj_clip = out.outputs[0], None, 0.0
    users = graph.consumers(h)
    # (an output read as it is, by the graph or anything else, is not before a projection; a
    # product of h that a sum reads is the next step's recurrent product)
    if len(users) == 1 and users[0].type == "FULLY_CONNECTED" and users[0].inputs[0] == h \
            and h not in graph.outputs \
            and not any(u.type in ("ADD", "SPLIT") for u in graph.consumers(users[0].outputs[0])):
        proj = reader.take(users[0])
        projection = graph.const_value(proj.inputs[1])
        if projection is None or projection.dtype != np.float32 or has_activation(proj) \
                or len(proj.inputs) > 2 and proj.inputs[2]:
            raise NoCell(f"{proj!r} is not a projection by constant weights without bias")
        h, proj_clip = reader.clip(proj.outputs[0])
    units = g.bias.size
    n_output = units if projection is None else projection.shape[0]
    gates = {"input": i, "forget": f, "cell": g, "output": o}
    x = g.x
    if x is None or any(a is not None and a.x not in (None, x) for a in gates.values()):
        raise NoCell("the gates do not all read one step input")
    if h_prev is not None and all(a is None or a.w_h is None for a in gates.values()):
        raise NoCell(f"the gates do not read {h_prev!r} as the previous output")
    n_input = g.w_x.shape[1]
    params = {"n_output": n_output, "activation": activation, "cell_clip": cell_clip, "proj_clip": proj_clip,
              "projection_weights": projection, "cell_to_output_weights": _or_zeros(o_peep, units),
              "cell_to_input_weights": None if c_prev is None else _or_zeros(i_peep, units),
              "cell_to_forget_weights": None if c_prev is None else _or_zeros(f_peep, units)}
    for gate, a in gates.items():
        # (a gate that reads no x or no h_prev multiplies it by zeros)
        known = a is not None
        params[f"input_to_{gate}_weights"] = (a.w_x if a.w_x is not None else np.zeros((units, n_input), np.float32)) \
            if known else None
        params[f"recurrent_to_{gate}_weights"] = (
            a.w_h if a.w_h is not None else np.zeros((units, n_output), np.float32)) \
            if known and h_prev is not None else None
        params[f"{gate}_gate_bias"] = a.bias if known else None
    for kind, shape in (("input_to", (units, n_input)), ("recurrent_to", (units, n_output))):
        weights = [params[f"{kind}_{gate}_weights"] for gate in GATES]
        if any(w is not None and w.shape != shape for w in weights):
            raise NoCell(f"the gates' {kind.replace('_to', '')} weights are not all {shape}")
    return Cell(anchor, x, h, c, list(reader.ops.values()), params)


def _or_zeros(peephole: np.ndarray | None, units: int) -> np.ndarray:
    return np.zeros(units, np.float32) if peephole is None else peephole
