"""The float tolerance policy: how far a correct float32 run of a model may be from the exact
result, per output element, derived from the model and its inputs.

Two correct float32 implementations of a model disagree through rounding: each op rounds its
results, sums round in whatever order a kernel adds, and the differences grow or shrink
through the ops after them (a LOG near zero amplifies them, a deep network lets them drift).
A fixed constant is either too tight for a deep network or too loose for a shallow one, so
the policy derives the allowance from the model:

- the truth is the model run in float64 (toco_py's kernels; integer arithmetic unchanged);
- each op's own float32 rounding is modelled as noise of standard deviation
  u * sqrt(K * (Q + y^2)) per output element y: u = 2^-24 the float32 unit roundoff, K the
  number of terms the element sums (OpDef.sum_length; 1 for an elementwise op) and Q the sum
  of the squared terms (OpDef.squares; 0 when not a sum of products), times OpDef.ulps for
  transcendental functions, which vectorized libraries approximate. Sequential float32
  summation, the least accurate order a correct kernel uses, rounds each of its K partial sums
  by up to u of itself; partial sums wander about sqrt(Q) from zero when the terms' signs are
  mixed and towards y when they agree, so this is above its standard deviation in both cases
  (pairwise and blocked sums do better). A hybrid (dynamic-range) op follows TFLite's
  reference arithmetic (as LiteRT's reference kernels, our interpreter and our C bundles do):
  its input is rounded to int8 on the fly, and a rounding that the upstream noise flips by one
  step is part of what the perturbed runs below carry. (Op by op, against kernels with other
  schemes, op_rounding_std(other_schemes=True) allows half a step per input element.);
- MEMBERS further float64 runs inject that noise after every op, with seeded draws, so the
  noise travels through the ops exactly as the model carries it (amplified, damped, flipped
  across a discontinuity such as a hybrid op's input rounding);
- a float32 result passes when every element is within SPREAD times the members' root mean
  square deviation from the truth (plus the float32 rounding of the truth itself).

Integer outputs are not judged here: integer kernels are bit-exact with LiteRT's reference
kernels, and compared bit for bit. The draws are seeded and float64 rounding is far below the
bound, so a verdict is the same on every machine.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from .errors import TocoError
from .ir import Graph, Op
from .ops import definition
from .ops.common import ACTIVATION_ATTR
from .ops.hybrid import input_rounding_std, is_hybrid
from .ops.quantize_ops import quant_attrs

# float32 unit roundoff: round to nearest is off by at most half an ulp, 2^-24 relative.
U = 2.0 ** -24
# Perturbed runs, and the allowed deviation in units of their root mean square spread. A
# correct run's error over that estimate follows Student's t with MEMBERS degrees of freedom
# where the noise model is exact (it is for hybrid models, whose flipped input roundings
# dominate: measured 0.9-1.0 spreads rms on MobileNetV2); float models are 3-6x inside it.
# t with 32 degrees of freedom exceeds 8 with probability 4e-9 per element, so a correct run
# fails about once in 250 million output elements; 16 members would need 10 for that.
MEMBERS = 32
SPREAD = 8.0

# A hybrid op's float part rounds three times per output: the product of the input's and
# the weights' scales, its product with the integer sum, and the bias added.
HYBRID_ROUNDINGS = 3
# An absolute floor for results at the bottom of the float32 range: subnormal results lose
# precision, and vectorized exp approximations flush results up to a few smallest normals
# (1.2e-38) to zero (XNNPACK and TensorFlow did so to softmax outputs of 1.6e-38 on
# InceptionV3). 2^-100 leaves a margin far below anything a model's output means.
TINY = 2.0 ** -100


@dataclass
class Bounds:
    """The float64 truth and the allowed |float32 result - truth| of each named tensor."""
    truth: dict[str, np.ndarray]
    allowed: dict[str, np.ndarray]


@dataclass
class Verdict:
    name: str
    max_abs: float       # max |got - truth|
    max_allowed: float   # the allowance where the error is largest relative to it
    ratio: float         # max over elements of |got - truth| / allowed (0/0 counts as 0)
    passed: bool
    note: str = ""


def float_bounds(graph: Graph, feeds: dict[str, np.ndarray], names: list[str] | None = None,
                 members: int = MEMBERS, seed: int = 0) -> Bounds:
    """The truth and the allowance of `names` (default: the outputs) for these inputs, the run
    starting from a new interpreter's state (resource variables as their initializers set them)."""
    return sequence_bounds(graph, [feeds], names, members, seed)[0]


def sequence_bounds(graph: Graph, steps: list[dict[str, np.ndarray]], names: list[str] | None = None,
                    members: int = MEMBERS, seed: int = 0) -> list[Bounds]:
    """float_bounds of each step of a sequence run in order on one interpreter, from a new
    interpreter's state. The resource variables carry rounding from one step to the next: the
    truth keeps its float64 state, and each perturbed member keeps its own perturbed state
    (snapshots of one float64 interpreter's variables), so an earlier step's rounding reaches
    the later ones exactly as the model carries it (amplified by a feedback, forgotten as a
    ring buffer moves on). A stateless model's steps are independent runs."""
    from .interpreter import Interpreter

    names = list(graph.outputs) if names is None else names
    interp = Interpreter(graph, float64=True)
    model = interp.model
    truth_state = model.snapshot()
    states = [truth_state] * members
    rngs = [np.random.default_rng([seed, member]) for member in range(members)]
    bounds = []
    for feeds in steps:
        # By op index (in a subgraph: (subgraph, index)); an op a loop runs again keeps the
        # largest rounding of its iterations, an op of a branch the truth did not take adds none.
        noise: dict[int | tuple[int, int], list[np.ndarray | None]] = {}
        model.restore(truth_state)
        truth = interp.run(feeds, keep_all=True, on_op=partial(_record, graph, noise))
        truth_state = model.snapshot()
        squares = {n: np.zeros(np.shape(truth[n])) for n in names if _is_inexact(truth.get(n))}
        for member in range(members if squares else 0):
            model.restore(states[member])
            run = interp.run(feeds, keep_all=True, on_op=partial(_perturb, noise, rngs[member]))
            states[member] = model.snapshot()
            for n in squares:
                with np.errstate(invalid="ignore", over="ignore"):
                    squares[n] += np.abs(np.asarray(run[n]) - truth[n]) ** 2
        allowed = {n: allowance(np.sqrt(total / members), truth[n]) for n, total in squares.items()}
        bounds.append(Bounds({n: truth[n] for n in names if n in truth}, allowed))
    return bounds


def _record(graph: Graph, noise: dict, index: int | tuple[int, int], op: Op, args: list,
            outputs: list) -> None:
    """Keeps the op's modelled rounding noise in `noise` (on_op of the truth's run)."""
    owner = graph.subgraphs[index[0]] if isinstance(index, tuple) else graph
    stds = op_rounding_std(owner, op, args, outputs)
    noise[index] = [_larger(old, new) for old, new in zip(noise.get(index, stds), stds)]


def _perturb(noise: dict, rng: np.random.Generator, index: int | tuple[int, int], op: Op, args: list,
             outputs: list) -> list:
    """The op's results with the recorded noise added (on_op of a perturbed member's run)."""
    return [out if std is None else out + std * _draw(rng, out)
            for out, std in zip(outputs, noise.get(index, [None] * len(outputs)))]


def _larger(old: np.ndarray | None, new: np.ndarray | None) -> np.ndarray | None:
    """The larger rounding of an op's two runs, element by element (the new one when a loop
    changed the output's shape)."""
    if old is None or new is None or np.shape(old) != np.shape(new):
        return new
    return np.maximum(old, new)


def allowance(spread: np.ndarray, truth) -> np.ndarray:
    """SPREAD times the estimated spread, plus the float32 rounding of the truth itself and
    the floor for results at the bottom of the float32 range."""
    return SPREAD * spread + U * _magnitude(truth) + TINY


def op_bounds(graph: Graph, op: Op, args: list, other_schemes: bool = False
              ) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """One op on given inputs (another runtime's, to check op by op): its float64 results and
    the allowance of a float32 result of each (None for integer outputs, which are exact)."""
    from .interpreter import kernel_for, run_op, widened

    kernel = kernel_for(graph, op)
    if kernel is None:
        raise TocoError(f"the interpreter has no kernel for {op!r}")
    if not (definition(op).float32_only or is_hybrid(graph, op)):
        args = [widened(a, True) for a in args]
    quant_attrs(graph, op)
    truth = run_op(op, kernel, args)
    stds = op_rounding_std(graph, op, args, truth, other_schemes)
    allowed = [None if std is None else allowance(std, t) for t, std in zip(truth, stds)]
    return truth, allowed


def op_rounding_std(graph: Graph, op: Op, args: list, outputs: list,
                    other_schemes: bool = False) -> list[np.ndarray | None]:
    """Each output's modelled float32 rounding noise (standard deviation per element), or None
    for outputs that are not float. other_schemes: a hybrid op may also quantize its input by
    another scheme than TFLite's reference arithmetic (as LiteRT's optimized kernels and
    XNNPACK do), off by up to half its on-the-fly step per input element."""
    opdef = definition(op)
    hybrid = is_hybrid(graph, op)
    if not any(_is_inexact(out) for out in outputs) or not opdef.ulps:  # ulps 0: no arithmetic
        return [None] * len(outputs)
    if hybrid:
        length = HYBRID_ROUNDINGS
    else:
        length = max(opdef.sum_length(op, *args), 1) if opdef.sum_length else 1
    terms = _squared_terms(op, opdef, args, length) if opdef.squares and not hybrid else 0.0
    stds = []
    for k, out in enumerate(outputs):
        if not _is_inexact(out):
            stds.append(None)
            continue
        squares = terms[k] if isinstance(terms, list) else terms
        if hybrid:
            # The scaled integer sum and the bias it is added to, which may cancel.
            value = np.asarray(out, np.float64)
            bias = np.asarray(args[2], np.float64) if len(args) > 2 and args[2] is not None else 0.0
            squares = (value - bias) ** 2 + bias ** 2
        magnitude = _magnitude(out)
        std = U * opdef.ulps * np.sqrt(length * (squares + magnitude * magnitude))
        if hybrid and other_schemes:
            std = np.sqrt(std ** 2 + input_rounding_std(op, graph, args[0], args[1]) ** 2)
        stds.append(np.broadcast_to(std, magnitude.shape))
    return stds


def _squared_terms(op: Op, opdef, args: list, length: int) -> np.ndarray:
    """The sum of the squared terms each output element adds up (OpDef.squares): the kernel on
    the inputs' squares, without fused activation, or the op's own function of its inputs (a
    list, one per result, for an op that also updates variable tensors)."""
    if callable(opdef.squares):
        value = opdef.squares(op, *args)
        if isinstance(value, list):
            return [np.asarray(v, np.float64) for v in value]
        return np.asarray(value, np.float64)
    plain = replace(op, attrs={**op.attrs, ACTIVATION_ATTR: "NONE"})
    squared = [a * a if _is_float(a) else a for a in args]
    total = np.asarray(opdef.kernel(plain, *squared), np.float64)
    return total * length if opdef.squares == "mean" else total


def _is_float(value) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f" or isinstance(value, np.floating)


def _is_inexact(value) -> bool:
    """Float or complex: a result float32 arithmetic rounds (a complex one in each part)."""
    return _is_float(value) or isinstance(value, (np.ndarray, np.complexfloating)) and np.iscomplexobj(value)


def _magnitude(value) -> np.ndarray:
    """|value| in float64, of a float or complex result."""
    value = np.asarray(value)
    return np.abs(value.astype(np.complex128 if np.iscomplexobj(value) else np.float64))


def _draw(rng: np.random.Generator, out) -> np.ndarray:
    """Standard normal noise shaped as `out`, in each part of a complex result."""
    if np.iscomplexobj(out):
        real, imag = rng.standard_normal((2, *np.shape(out)), np.float32)
        return real + 1j * imag
    return rng.standard_normal(np.shape(out), np.float32)


def judge(name: str, got: np.ndarray, truth: np.ndarray, allowed: np.ndarray) -> Verdict:
    """Whether a float32 result is within the allowance of the truth, element by element.
    NaN must match NaN and an infinity the same infinity."""
    exact = np.complex128 if np.iscomplexobj(got) or np.iscomplexobj(truth) else np.float64
    got, truth = np.asarray(got, exact), np.asarray(truth, exact)
    if got.shape != truth.shape:
        return Verdict(name, np.inf, 0.0, np.inf, False,
                       f"shape {list(got.shape)}, expected {list(truth.shape)}")
    finite = np.isfinite(truth) & np.isfinite(got)
    special_mismatch = bool(np.any(~finite & ~((got == truth) | (np.isnan(got) & np.isnan(truth)))))
    error = np.where(finite, np.abs(got - truth), 0.0)
    allow = np.where(finite, np.asarray(allowed, np.float64), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(error == 0, 0.0, error / allow)
    worst = int(np.argmax(ratios)) if ratios.size else 0
    ratio = float(ratios.flat[worst]) if ratios.size else 0.0
    max_abs = float(np.max(error)) if error.size else 0.0
    max_allowed = float(allow.flat[worst]) if allow.size else 0.0
    passed = ratio <= 1.0 and not special_mismatch
    note = "NaN or infinity where the truth has none (or the reverse)" if special_mismatch else ""
    return Verdict(name, max_abs, max_allowed, ratio, passed, note)
