"""Where a quantized model loses its accuracy: each quantized op's contribution to the output
error, as the error the model's outputs get when that op alone computes quantized.

For each op of the quantized graph that computes on quantized integers (or is a hybrid op):
the float reference's values of its inputs, quantized with the op's input params, go through
its integer kernel (the interpreter's); its outputs, dequantized, replace the float op's
outputs, and the ops of the float graph downstream of them run in float. The error measure
of an output is mean |perturbed - float| over the samples and the output's elements, divided
by the float output's range (max - min over the samples; 1 where it is constant), the share
of the output range the issue's accuracy targets speak of; an op's (and a model's) error is
the largest over the outputs.

Tensors match by name, as `validate --per-tensor` matches them: a name of the quantized graph
stands for the float tensor of the same name and shape, or for the one it is the QUANTIZE,
DEQUANTIZE or requantization of (image/int8 is image, scores/int8 is scores). A quantized op
whose outputs match no float tensor is not measured (`Sensitivity.unmatched`).

Cost: one float run per sample, then per measured op its kernel and the float ops downstream
of it: about ops^2 / 2 float op runs per sample. Measured on one (shared) core: MobileNetV2 at
96x96 (65 ops measured), 16 samples, 23 s, the float ops downstream three quarters of it; the
MLP of tests/test_validate_json.py, well under a second. Deterministic: no randomness, and
the samples are the caller's."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import InternalError
from .interpreter import Interpreter, kernel_for, run_op
from .ir import Graph
from .naming import node_name
from .ops import has_trait
from .ops.hybrid import is_hybrid
from .ops.quantize_ops import dequantize, is_quantized_tensor, quantize, runs_quantized
from .tensor_io import adapt_inputs


@dataclass
class Contribution:
    op: int                    # its index in the quantized graph
    type: str
    name: str                  # node_name of the op
    tensor: str                # the float tensor its (first) output stands for
    error: float               # the model's error with only this op quantized
    outputs: dict[str, float]  # that error per output of the model


@dataclass
class Sensitivity:
    contributions: list[Contribution]   # largest error first (ties: in op order)
    model_error: float | None           # the quantized model's own error, same measure
    model_outputs: dict[str, float] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)  # quantized ops not measured
    note: str | None = None             # why nothing was measured


def float_names(quant: Graph, reference: Graph) -> dict[str, str]:
    """Each tensor of the quantized graph that stands for a float tensor -> that tensor's name."""
    def same(name: str) -> bool:
        f, q = reference.tensors.get(name), quant.tensors[name]
        return f is not None and (f.shape is None or q.shape is None or tuple(f.shape) == tuple(q.shape))

    names = {n: n for n in quant.tensors if same(n)}
    links = [(op.inputs[0], op.outputs[0]) for op in quant.ops
             if op.type in ("QUANTIZE", "DEQUANTIZE") and op.inputs and op.outputs]
    changed = True
    while changed:  # along chains of conversions (DEQUANTIZE of a requantization ...)
        changed = False
        for a, b in links:
            for known, other in ((a, b), (b, a)):
                if known in names and other not in names:
                    names[other] = names[known]
                    changed = True
    return names


def measured_ops(quant: Graph) -> list[int]:
    """The ops whose contribution is measured: those computing quantized (requantizations
    and the conversions at the edges excepted) or hybrid."""
    return [i for i, op in enumerate(quant.ops) if op.type not in ("QUANTIZE", "DEQUANTIZE")
            and (runs_quantized(quant, op) or is_hybrid(quant, op))]


def _unsupported(graph: Graph) -> str | None:
    if graph.subgraphs:
        return "not measured for a model of several subgraphs"
    if any(t.variable for t in graph.tensors.values()) or any(
            has_trait(op.type, "runs_model") for op in graph.ops):
        return "not measured for a model with variables"
    return None


def _downstream(graph: Graph, index: int, changed: set[str]) -> list[int]:
    """The ops after `index` that read the changed tensors, directly or not, in order."""
    tainted, ops = set(changed), []
    for j in range(index + 1, len(graph.ops)):
        op = graph.ops[j]
        if any(n in tainted for n in op.inputs):
            ops.append(j)
            tainted.update(op.outputs)
    return ops


def _producers(graph: Graph) -> dict[str, int]:
    return {n: i for i, op in enumerate(graph.ops) for n in op.outputs}


class _Perturbation:
    """One quantized op, ready to run on a sample's float values."""

    def __init__(self, quant: Graph, index: int, reference: Graph, names: dict[str, str],
                 producers: dict[str, int]) -> None:
        op = quant.ops[index]
        self.index, self.op, self.quant, self.names = index, op, quant, names
        self.kernel = kernel_for(quant, op)
        self.replaced = [names.get(n) if n else None for n in op.outputs]
        first = self.replaced[0] if self.replaced else None
        self.float_op = producers.get(first) if first is not None else None
        self.downstream = ([] if self.float_op is None else
                           _downstream(reference, self.float_op, {n for n in self.replaced if n}))

    @property
    def matched(self) -> bool:
        inputs = all(not n or self.quant.tensors[n].is_const or n in self.names for n in self.op.inputs)
        return self.float_op is not None and all(self.replaced) and inputs

    def results(self, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The op's outputs, dequantized, by the float names they replace."""
        args = [self._input(n, values) if n else None for n in self.op.inputs]
        outputs = run_op(self.op, self.kernel, args)
        return {f: self._dequantized(n, v) for n, f, v in zip(self.op.outputs, self.replaced, outputs)}

    def _input(self, name: str, values: dict[str, np.ndarray]):
        t = self.quant.tensors[name]
        if t.is_const:
            return t.data
        value = values[self.names[name]]
        if is_quantized_tensor(t):
            return quantize(np.asarray(value), t.quant.scale, t.quant.zero_point, t.quant.axis, t.dtype)
        return value

    def _dequantized(self, name: str, value: np.ndarray) -> np.ndarray:
        t = self.quant.tensors[name]
        if is_quantized_tensor(t):
            return dequantize(value, t.quant.scale, t.quant.zero_point, t.quant.axis)
        return value


def contributions(reference: Graph, quant: Graph, feeds: list[dict[str, np.ndarray]]) -> Sensitivity:
    """Each measured op's contribution over the samples `feeds` (float inputs of the
    reference graph), ranked; and the quantized model's own error by the same measure (None
    when its outputs do not all stand for the float model's)."""
    note = _unsupported(reference) or _unsupported(quant)
    if note is not None:
        return Sensitivity([], None, note=note)
    names = float_names(quant, reference)
    producers = _producers(reference)
    perturbations = [_Perturbation(quant, i, reference, names, producers) for i in measured_ops(quant)]
    unmatched = [f"#{p.index} {p.op.type}" for p in perturbations if not p.matched]
    perturbations = [p for p in perturbations if p.matched]
    float_run = Interpreter(reference)
    kernels = [kernel_for(reference, op) for op in reference.ops]
    outputs = list(reference.outputs)
    errors = {p.index: dict.fromkeys(outputs, 0.0) for p in perturbations}
    truths: list[dict[str, np.ndarray]] = []
    for sample in feeds:
        base = float_run.run(sample, keep_all=True)
        truth = {o: np.asarray(base[o], np.float64) for o in outputs}
        truths.append(truth)
        for p in perturbations:
            values = p.results(base)
            for j in p.downstream:
                op = reference.ops[j]
                args = [(values[n] if n in values else base[n]) if n else None for n in op.inputs]
                values.update(zip(op.outputs, run_op(op, kernels[j], args)))
            for o in outputs:
                if o in values:
                    errors[p.index][o] += float(np.sum(np.abs(np.asarray(values[o], np.float64) - truth[o])))
    ranked = []
    for p in perturbations:
        per_output = {o: errors[p.index][o] / _norm([t[o] for t in truths]) for o in outputs}
        ranked.append(Contribution(p.index, p.op.type, node_name(p.op), p.replaced[0],
                                   max(per_output.values(), default=0.0), per_output))
    ranked.sort(key=lambda c: (-c.error, c.op))
    model = output_errors(reference, quant, feeds) if feeds and _stand_for(quant, reference, names) else {}
    return Sensitivity(ranked, max(model.values()) if model else None, model, unmatched)


def _norm(values: list[np.ndarray]) -> float:
    """What a sum of |errors| over these samples is divided by: the element count times the
    range of the values (1 for a constant output, measured in absolute terms)."""
    count = sum(v.size for v in values)
    if count == 0:
        return 1.0
    lo = min(float(np.min(v)) for v in values if v.size)
    hi = max(float(np.max(v)) for v in values if v.size)
    return count * (hi - lo if hi > lo else 1.0)


def model_error(reference: Graph, quant: Graph, feeds: list[dict[str, np.ndarray]],
                truths: list[dict[str, np.ndarray]] | None = None) -> float:
    """The quantized model's error over the samples by the measure of contributions: the
    largest over the outputs of mean |quantized - float| / the float output's range (truths:
    float_outputs of the feeds, when already known)."""
    return max(output_errors(reference, quant, feeds, truths).values())


def float_outputs(reference: Graph, feeds: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """The float model's outputs for each sample, as float64."""
    run = Interpreter(reference)
    return [{o: np.asarray(v, np.float64) for o, v in run.run(sample).items()} for sample in feeds]


def output_errors(reference: Graph, quant: Graph, feeds: list[dict[str, np.ndarray]],
                  truths: list[dict[str, np.ndarray]] | None = None) -> dict[str, float]:
    """model_error's measure per output of the float model."""
    candidate = _stand_for(quant, reference, float_names(quant, reference))
    outputs = list(reference.outputs)
    if candidate is None:
        raise InternalError(f"the quantized model's outputs {quant.outputs} do not stand for the float "
                            f"model's {outputs}")
    truths = float_outputs(reference, feeds) if truths is None else truths
    quant_run = Interpreter(quant)
    sums = dict.fromkeys(outputs, 0.0)
    for sample, truth in zip(feeds, truths):
        got = quant_run.run(adapt_inputs(sample, quant))
        for o in outputs:
            sums[o] += float(np.sum(np.abs(_as_real(quant, candidate[o], got[candidate[o]]) - truth[o])))
    return {o: sums[o] / _norm([t[o] for t in truths]) for o in outputs}


def _stand_for(quant: Graph, reference: Graph, names: dict[str, str]) -> dict[str, str] | None:
    """Each float output -> the quantized model's output standing for it; None when one has none."""
    candidate = {names[n]: n for n in quant.outputs if n in names}
    return candidate if all(o in candidate for o in reference.outputs) else None


def _as_real(graph: Graph, name: str, value) -> np.ndarray:
    """A tensor's value as float64 reals (dequantized when it is quantized)."""
    t = graph.tensors[name]
    if is_quantized_tensor(t):
        value = dequantize(value, t.quant.scale, t.quant.zero_point, t.quant.axis)
    return np.asarray(value, np.float64)
