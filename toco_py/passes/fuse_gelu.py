"""GELU written out -> one GELU op, in every order TensorFlow, Keras and hand-written models
spell it:

    0.5 * x * (1 + erf(x / sqrt(2)))                           (approximate=False)
    0.5 * x * erfc(-x / sqrt(2))                               (tf.nn.gelu, approximate=False)
    0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))  (approximate=True)

The subgraph under an op is read as a polynomial in two values: its input x and the output t
of one Erf, Erfc or TANH, whose argument is read as a polynomial in x alone. A tensor is
expanded through the arithmetic that produced it (ADD, SUB, MUL, NEG, SQUARE, division by a
constant, an integer POW) only while it is private to the subgraph (its one reader, not a
graph output); anything else is a leaf, and all leaves must be that one x. Equal coefficients,
to float32 precision, mean the same function whatever order the graph computes it in:
x * 0.5 * (...), x * (0.5 + 0.5 * erf(...)), x / 2 * (...), pow(x, 3), x * x * x,
0.044715 * x * x * x ... TensorFlow's converter matches ten fixed trees of these
(optimize_patterns.td: MatchGelu, MatchGeluWithErfc, MatchGeluApproximate*), all of which
are such polynomials.
"""
from __future__ import annotations

import math

from ..ir import Graph, Op
from ..ops.activation import GELU_CUBE_COEFFICIENT, GELU_TANH_SCALE
from .base import Pass
from .patterns import has_activation, private, scalar_const

# (power of x, power of t) -> coefficient
Poly = dict[tuple[int, int], float]

_HALF_X_TIMES_ONE_PLUS_T: Poly = {(1, 0): 0.5, (1, 1): 0.5}
_SQRT_HALF = math.sqrt(0.5)
# gate op -> (the whole in x and t, the gate's argument in x, GELU's approximate attr)
_SPELLINGS: dict[str, tuple[Poly, Poly, bool]] = {
    "Erf": (_HALF_X_TIMES_ONE_PLUS_T, {(1, 0): _SQRT_HALF}, False),
    "Erfc": ({(1, 1): 0.5}, {(1, 0): -_SQRT_HALF}, False),
    "TANH": (_HALF_X_TIMES_ONE_PLUS_T,
             {(1, 0): GELU_TANH_SCALE, (3, 0): GELU_TANH_SCALE * GELU_CUBE_COEFFICIENT}, True),
}
_ARITHMETIC = ("ADD", "SUB", "MUL", "DIV", "NEG", "SQUARE", "POW")
# A coefficient is a product of a few float32 constants, each rounded by up to 2^-24: 2^-20
# allows that and refuses a constant rounded by hand (0.7071 is 1.5e-5 off 1/sqrt(2)).
_REL_TOL = 2.0 ** -20
# Bounds on what one match reads; GELU spelled out takes at most nine ops and degree 3.
_MAX_OPS = 16
_MAX_DEGREE = 4


class _NoMatch(Exception):
    pass


def _add(a: Poly, b: Poly, sign: float = 1.0) -> Poly:
    total = dict(a)
    for key, c in b.items():
        total[key] = total.get(key, 0.0) + sign * c
    return total


def _mul(a: Poly, b: Poly) -> Poly:
    product: Poly = {}
    for (xa, ta), ca in a.items():
        for (xb, tb), cb in b.items():
            key = (xa + xb, ta + tb)
            if max(key) > _MAX_DEGREE:
                raise _NoMatch
            product[key] = product.get(key, 0.0) + ca * cb
    return product


def _small_power(value: float | None) -> int | None:
    """The exponent of a POW this pass expands: a constant 1 to _MAX_DEGREE."""
    if value is None or value != int(value) or not 1 <= value <= _MAX_DEGREE:
        return None
    return int(value)


class _Reading:
    """One attempt to read the subgraph under a root op as a polynomial."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.ops: list[Op] = []
        self.x: str | None = None
        self.gate: Op | None = None

    def op(self, op: Op, in_gate: bool) -> Poly:
        self.ops.append(op)
        if len(self.ops) > _MAX_OPS:
            raise _NoMatch
        a = self.tensor(op.inputs[0], op, in_gate)
        if op.type == "NEG":
            return {key: -c for key, c in a.items()}
        if op.type == "SQUARE":
            return _mul(a, a)
        if op.type == "POW":
            n = _small_power(scalar_const(self.graph, op.inputs[1]))
            result = a
            for _ in range(n - 1):
                result = _mul(result, a)
            return result
        if op.type == "DIV":
            return {key: c / scalar_const(self.graph, op.inputs[1]) for key, c in a.items()}
        b = self.tensor(op.inputs[1], op, in_gate)
        return _mul(a, b) if op.type == "MUL" else _add(a, b, -1.0 if op.type == "SUB" else 1.0)

    def tensor(self, name: str, reader: Op, in_gate: bool) -> Poly:
        c = scalar_const(self.graph, name)
        if c is not None:
            return {(0, 0): c}
        producer = self.graph.producer(name)
        if (producer is not None and not has_activation(producer) and reader.inputs.count(name) == 1
                and private(self.graph, name, reader)):
            if producer.type in _SPELLINGS and not in_gate and self.gate is None:
                self.gate = producer
                self.ops.append(producer)
                return {(0, 1): 1.0}
            if _expandable(self.graph, producer):
                return self.op(producer, in_gate)
        if self.x not in (None, name):
            raise _NoMatch
        self.x = name
        return {(1, 0): 1.0}


def _expandable(graph: Graph, op: Op) -> bool:
    if op.type == "POW":
        return _small_power(scalar_const(graph, op.inputs[1])) is not None
    if op.type == "DIV":
        return scalar_const(graph, op.inputs[1]) not in (None, 0.0)
    return op.type in _ARITHMETIC


def _equal(poly: Poly, target: Poly) -> bool:
    terms = {key: c for key, c in poly.items() if c != 0.0}
    return terms.keys() == target.keys() and all(
        math.isclose(terms[key], c, rel_tol=_REL_TOL) for key, c in target.items())


def _read_gelu(graph: Graph, root: Op) -> tuple[str, bool, list[Op]] | None:
    """(x, approximate, the ops to remove) when the subgraph under root is a GELU of x."""
    reading = _Reading(graph)
    try:
        whole = reading.op(root, in_gate=False)
        if reading.gate is None:
            return None
        argument = reading.tensor(reading.gate.inputs[0], reading.gate, in_gate=True)
    except _NoMatch:
        return None
    expected_whole, expected_argument, approximate = _SPELLINGS[reading.gate.type]
    if not (_equal(whole, expected_whole) and _equal(argument, expected_argument)):
        return None
    return reading.x, approximate, reading.ops[1:]


def fuse_gelu(graph: Graph, op: Op) -> bool:
    if has_activation(op) or not _expandable(graph, op):
        return False
    match = _read_gelu(graph, op)
    if match is None:
        return False
    x, approximate, removed = match
    x_tensor, out = graph.tensors[x], graph.tensors[op.outputs[0]]
    if x_tensor.shape is None or x_tensor.shape != out.shape:
        return False  # a constant operand broadcast the result beyond x's shape
    if x_tensor.dtype != "float32" or out.dtype != "float32":
        return False
    graph.replace_op(op, [Op("GELU", [x], op.outputs, {"approximate": approximate}, op.name)])
    for dead in removed:
        graph.remove_op(dead)
    return True


PASS = Pass("fuse_gelu", fuse_gelu)
