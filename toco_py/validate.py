"""`toco-py validate`: run a reference (a .pb in TensorFlow, or our IR of it when TensorFlow is
not installed; or a reference .tflite) and a candidate .tflite in our interpreter and in LiteRT
on the same inputs, and measure how far apart they are, per output or per tensor.

When both compute the same function (the candidate checked against itself in LiteRT, or a
float .tflite against its .pb or a float .tflite), the verdict is the float tolerance policy's
(toco_py/tolerance.py): two float32 runs pass when they are within twice its allowance of each
other (each may be one allowance from the float64 truth), integer tensors when they are equal.
A quantized model against a float reference is an accuracy measurement: --atol/--rtol judge it,
and they replace the policy whenever they are given."""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .errors import TocoError
from .interpreter import Interpreter
from .ir import Graph, QuantParams
from .ops.quantize_ops import dequantize as dequantize_array
from .ops.quantize_ops import is_quantized_tensor
from .tensor_io import adapt_inputs
from .tolerance import judge, sequence_bounds

if TYPE_CHECKING:  # sensitivity.py reads this module's helpers
    from .sensitivity import Sensitivity

# The fixed tolerances of a quantized model against a float reference (and of --atol/--rtol
# given alone): an accuracy threshold for the user to set, not a rounding bound.
DEFAULT_ATOL = 1e-4
DEFAULT_RTOL = 1e-3

Runner = Callable[[dict[str, np.ndarray], bool], dict[str, np.ndarray]]


@dataclass
class Engine:
    """One way of running one model: name for the table, its graph, run(feeds, all), and
    restart(), after which the runs start from a new interpreter's state (the runs between
    two restarts are a sequence of steps on one interpreter, resource variables carried)."""
    label: str
    graph: Graph
    run: Runner
    restart: Callable[[], None]


@dataclass
class Comparison:
    tensor: str
    candidate: str
    reference: str
    max_abs: float
    max_rel: float
    snr_db: float
    cosine: float
    passed: bool
    # Under the policy: max |difference| / limit over the elements (pass <= 1).
    ratio: float | None = None
    step: int | None = None  # in a sequence of steps, the step compared


@dataclass
class Tolerance:
    """Fixed atol/rtol, or (both None) the float tolerance policy."""
    atol: float | None = None
    rtol: float | None = None

    @property
    def policy(self) -> bool:
        return self.atol is None and self.rtol is None

    def describe(self) -> str:
        if self.policy:
            return ("float tolerance policy: float outputs within twice the allowance of the float64 "
                    "truth of each other, integer outputs equal")
        return f"atol={self.atol or 0.0} rtol={self.rtol or 0.0}"


# ---- engines -------------------------------------------------------------------------------


def ours(graph: Graph, label: str = "toco-py") -> Engine:
    interp = Interpreter(graph)
    return Engine(label, graph, lambda feeds, everything: interp.run(feeds, keep_all=everything),
                  interp.reset)


def litert_engine(path: str, graph: Graph, label: str = "LiteRT") -> Engine | None:
    """LiteRT on the file, when installed (tensors found by index, as our reader orders them).
    Its builtin kernels, without the default XNNPACK delegate, which computes dynamic-range
    models with a quantization scheme of its own (and float with approximations). A quantized
    model runs on its reference kernels, whose integer arithmetic ours follows bit for bit,
    where they have every op it uses."""
    try:
        from ai_edge_litert.interpreter import Interpreter as LiteRT
        from ai_edge_litert.interpreter import OpResolverType
    except ImportError:
        return None
    names = list(graph.tensors)
    interpreters = {}  # keep-all-tensors flag -> LiteRT's interpreter, built once
    # Last, the default resolver: a custom op LiteRT's Python package runs (MediaPipe's
    # Convolution2DTransposeBias) has a kernel only in its XNNPACK delegate.
    resolvers = [OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES, OpResolverType.AUTO]
    if is_quantized(graph):
        resolvers.insert(0, OpResolverType.BUILTIN_REF)

    def loaded(resolver, everything):
        interp = LiteRT(model_path=path, num_threads=1, experimental_preserve_all_tensors=everything,
                        experimental_op_resolver_type=resolver)
        interp.allocate_tensors()
        return interp

    def load(everything):
        """The first resolver with a kernel for every op of the model."""
        for resolver in resolvers[:-1]:
            try:
                return loaded(resolver, everything)
            except (ValueError, RuntimeError):
                continue
        return loaded(resolvers[-1], everything)

    def run(feeds, everything):
        try:
            return run_once(feeds, everything)
        except RuntimeError:
            # A reference kernel can refuse what the builtin one computes: LiteRT's reference
            # SUM reads int16 as bytes, and the int16 SQRT after it then fails on a negative
            # value (basic-pitch in 16x8). The next resolver runs the model.
            if len(resolvers) < 3:
                raise
            resolvers.pop(0)
            interpreters.clear()
            return run_once(feeds, everything)

    def run_once(feeds, everything):
        interp = interpreters.get(everything)
        if interp is None:
            interp = interpreters[everything] = load(everything)
        details = interp.get_input_details()
        # Data for an input of unknown size (-1) may take any size there (tensor_io.check_shapes).
        resized = [d for d in details if tuple(d["shape"]) != np.shape(feeds[names[d["index"]]])]
        for detail in resized:
            interp.resize_tensor_input(detail["index"], np.shape(feeds[names[detail["index"]]]))
        if resized:
            interp.allocate_tensors()
        for detail in details:
            interp.set_tensor(detail["index"], feeds[names[detail["index"]]])
        interp.invoke()
        # Not a resource variable's handle: LiteRT's get_tensor reads one as a Python object
        # through a pointer it does not own (it crashed the process on the streaming models'
        # handles), and a handle is not compared anyway.
        wanted = ([i for i, n in enumerate(names) if graph.tensors[n].dtype != "resource"]
                  if everything else [names.index(n) for n in graph.outputs])
        out = {}
        for i in wanted:
            # A tensor LiteRT never materialised (e.g. optional, constant-folded) raises.
            with contextlib.suppress(ValueError):
                out[names[i]] = interp.get_tensor(i)
        return out
    return Engine(label, graph, run, interpreters.clear)


def tensorflow_engine(pb_path: str, graph: Graph) -> Engine | None:
    """TensorFlow running the frozen graph, fetching tensors by the .tflite's names."""
    tf = _quiet_import_tensorflow()
    if tf is None:
        return None
    v1 = tf.compat.v1
    gd = v1.GraphDef()
    with open(pb_path, "rb") as f:
        gd.ParseFromString(f.read())
    tf_graph = tf.Graph()
    with tf_graph.as_default():
        tf.import_graph_def(gd, name="")

    def tf_tensor(name):
        try:
            return tf_graph.get_tensor_by_name(name if ":" in name else f"{name}:0")
        except (KeyError, ValueError):
            return None

    sessions = []  # the sequence's session (a frozen graph holds no state; one is faster)

    def run(feeds, everything):
        feed = {}
        for name, value in feeds.items():
            t = tf_tensor(name)
            if t is None:
                raise TocoError(f"input {name!r} of the .tflite is not a tensor of {pb_path}")
            feed[t] = value
        names = list(graph.tensors) if everything else graph.outputs
        fetch = {n: tf_tensor(n) for n in names if n not in feeds}
        fetch = {n: t for n, t in fetch.items() if t is not None}
        with _quiet_native_stderr():
            if not sessions:
                sessions.append(v1.Session(graph=tf_graph))
            values = sessions[0].run(fetch, feed)
        return {**feeds, **values} if everything else values

    def restart():
        while sessions:
            sessions.pop().close()
    return Engine("TensorFlow", graph, run, restart)


@contextmanager
def _quiet_native_stderr():
    """TensorFlow's C++ chatter (CUDA probes, oneDNN notices) is written to file descriptor 2,
    past sys.stderr: point the descriptor at /dev/null meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _quiet_import_tensorflow():
    """TensorFlow, or None when it is not installed."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _quiet_native_stderr():
        try:
            import tensorflow as tf
        except ImportError:
            return None
    return tf


# ---- comparing ------------------------------------------------------------------------------


def dequantize(value: np.ndarray, quant: QuantParams | None) -> np.ndarray:
    if quant is None or value.dtype.kind not in "iu":
        return np.asarray(value, np.float64)
    return np.asarray(dequantize_array(value, quant.scale, quant.zero_point, quant.axis), np.float64)


def is_quantized(graph: Graph) -> bool:
    """Whether the model computes with integer-quantized or float16 tensors anywhere, other
    than a float model's fake-quant emulation (QUANTIZE + DEQUANTIZE of an activation)."""
    from .passes.emulate_fake_quant import emulation_tensors

    emulation = emulation_tensors(graph)
    return any((is_quantized_tensor(t) and t.name not in emulation)
               or t.dtype == "float16" for t in graph.tensors.values())


def measure(tensor: str, candidate: np.ndarray, reference: np.ndarray, tolerance: Tolerance,
            labels: tuple[str, str], allowed: np.ndarray | None = None) -> Comparison:
    """allowed: the policy's allowance of this tensor (None: an integer tensor, compared
    exactly, or fixed tolerances)."""
    a, b = np.asarray(candidate, np.float64), np.asarray(reference, np.float64)
    if a.shape != b.shape:
        raise TocoError(f"{tensor}: {labels[0]} gives shape {list(a.shape)}, {labels[1]} {list(b.shape)}")
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # a LOG of 0 is -inf in both
        err = a - b
        max_abs = float(np.max(np.abs(err))) if err.size else 0.0
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        signal, noise = float(np.sum(b * b)), float(np.sum(err * err))
        snr = float("inf") if noise == 0 else 10 * np.log10(max(signal, 1e-30) / noise)
        norms = float(np.linalg.norm(a) * np.linalg.norm(b))
        cosine = float(np.sum(a * b) / norms) if norms else 1.0
    ratio = None
    if not tolerance.policy:
        passed = bool(np.all(np.abs(err) <= (tolerance.atol or 0.0) + (tolerance.rtol or 0.0) * np.abs(b)))
    elif allowed is None:
        passed = bool(np.array_equal(a, b))
    else:
        verdict = judge(tensor, a, b, 2 * np.asarray(allowed))
        passed, ratio = verdict.passed, verdict.ratio
    return Comparison(tensor, labels[0], labels[1], max_abs, max_abs / scale if scale else max_abs,
                      snr, cosine, passed, ratio)


def compare_engines(candidate: Engine, reference: Engine, cand_out: dict, ref_out: dict,
                    names: list[str], tolerance: Tolerance,
                    allowed: dict[str, np.ndarray] | None = None) -> list[Comparison]:
    rows = []
    for name in names:
        if name not in cand_out or name not in ref_out:
            continue
        if name in candidate.graph.tensors and candidate.graph.tensors[name].dtype == "resource":
            continue  # a variable's handle: each runtime numbers its variables its own way
        a = dequantize(np.asarray(cand_out[name]), candidate.graph.tensors[name].quant
                       if name in candidate.graph.tensors else None)
        ref_t = reference.graph.tensors.get(name)
        b = dequantize(np.asarray(ref_out[name]), ref_t.quant if ref_t is not None else None)
        if a.shape != b.shape:
            continue  # same name, different tensor (e.g. a fused op's output)
        limit = (allowed or {}).get(name)
        if tolerance.policy and limit is None and np.asarray(cand_out[name]).dtype.kind == "f":
            continue  # a float tensor the policy has no allowance for (not computed by the model)
        rows.append(measure(name, a, b, tolerance, (candidate.label, reference.label), limit))
    return rows


def keep_worst(worst: dict[tuple[str, str], Comparison], rows: list[Comparison]) -> None:
    """Keeps the worst row per (tensor, candidate engine) over the samples: a failing one
    over a passing one, then the one with the larger error."""
    for row in rows:
        key = (row.tensor, row.candidate)
        if key not in worst or _badness(row) > _badness(worst[key]):
            worst[key] = row


def _badness(row: Comparison) -> tuple[bool, float]:
    return not row.passed, row.ratio if row.ratio is not None else row.max_abs


def first_divergence(rows: list[Comparison]) -> Comparison | None:
    return next((r for r in rows if not r.passed), None)


# ---- the command ----------------------------------------------------------------------------


def reference_engines(reference: str | None, candidate_path: str, candidate: Graph) -> list[Engine]:
    """What to compare against: the reference file's engines, else LiteRT on the candidate."""
    from .api import load_graphdef_as_ir
    from .tensor_io import is_tflite, load_tflite

    if reference is None:
        engine = litert_engine(candidate_path, candidate)
        if engine is None:
            raise TocoError("nothing to compare against: install LiteRT (pip install 'toco-py[tf]') "
                            "or pass the source model: toco-py validate MODEL.pb MODEL.tflite")
        return [engine]
    if is_tflite(reference):
        graph, _ = load_tflite(reference)
        engine = litert_engine(reference, graph, "reference in LiteRT")
        return [engine if engine is not None else ours(graph, "reference in toco-py")]
    engine = tensorflow_engine(reference, candidate)
    if engine is not None:
        return [engine]
    outputs = list(candidate.outputs)
    shapes = [candidate.tensors[n].shape for n in candidate.inputs]
    ir = load_graphdef_as_ir(reference, candidate.inputs, outputs, shapes)
    return [ours(ir, "source IR (no TensorFlow)")]


def same_function(reference: str | None, candidate: Graph) -> bool:
    """Whether reference and candidate compute the same function, up to float rounding: the
    candidate against itself, or a float candidate against a .pb or a float .tflite."""
    from .tensor_io import is_tflite, load_tflite

    if reference is None:
        return True
    if is_quantized(candidate):
        return False
    return not is_tflite(reference) or not is_quantized(load_tflite(reference)[0])


@dataclass
class Report:
    rows: list[Comparison]          # per output and candidate engine: the worst sample and step
    steps: list[Comparison]         # a sequence's: per step, output and engine, the worst sample
    tensors: list[Comparison]       # --per-tensor's, in op order
    tolerance: Tolerance            # the tolerance applied
    # A quantized candidate's ops ranked by the output error each alone causes (when asked
    # for and the reference is a float model).
    sensitivity: Sensitivity | None = None

    @property
    def first_divergence(self) -> Comparison | None:
        """A sequence's first failing comparison, by step."""
        return min((r for r in self.steps if not r.passed), key=lambda r: r.step, default=None)


def float_reference(reference: str | None, engine: Engine, candidate: Graph) -> Graph | None:
    """The float graph a quantized candidate's ops are measured against (sensitivity.py): a
    float reference .tflite, or a .pb converted by us in float, cut at the candidate's inputs
    and outputs (so that its tensors are named as ours); None when there is none."""
    from .api import convert
    from .tensor_io import is_tflite

    if reference is None or not is_quantized(candidate):
        return None
    if is_tflite(reference):
        return None if is_quantized(engine.graph) else engine.graph
    shapes = [candidate.tensors[n].shape for n in candidate.inputs]
    return convert(reference, input_arrays=list(candidate.inputs), output_arrays=list(candidate.outputs),
                   input_shapes=shapes).graph


def validate(reference: str | None, candidate_path: str,
             feeds: Callable[[Graph, int], dict | list[dict]], samples: int, tolerance: Tolerance,
             per_tensor: bool, contributors: bool = False) -> Report:
    """Every engine of the candidate compared with the reference over `samples` input sets:
    feeds(graph, sample) gives one input set, or a list of them, a sequence of steps that
    each engine runs in order on one interpreter (its resource variables carried from step to
    step; each sample starts from a new interpreter's state). The policy applies only where
    both compute the same function (its bounds carried through the steps as the state
    carries rounding: tolerance.sequence_bounds); otherwise the default fixed tolerances
    replace it. contributors: rank a quantized candidate's ops against a float reference
    (Report.sensitivity), on the samples' inputs (not for a sequence of steps)."""
    from .tensor_io import load_tflite

    graph, _ = load_tflite(candidate_path)
    if tolerance.policy and not same_function(reference, graph):
        tolerance = Tolerance(DEFAULT_ATOL, DEFAULT_RTOL)
    ref = reference_engines(reference, candidate_path, graph)[0]
    candidates = [ours(graph)]
    if ref.label != "LiteRT":
        lite = litert_engine(candidate_path, graph)
        if lite is not None:
            candidates.append(lite)
    worst: dict[tuple[str, str], Comparison] = {}
    by_step: dict[int, dict[tuple[str, str], Comparison]] = {}
    tensors: dict[str, Comparison] = {}
    op_order = [n for op in graph.ops for n in op.outputs]
    names = op_order if per_tensor else list(graph.outputs)
    sequence = False
    fed = []
    for sample in range(samples):
        given = feeds(ref.graph, sample)
        sequence = isinstance(given, list)
        if contributors:
            fed.append(given)
        steps = given if sequence else [given]
        for engine in [ref, *candidates]:
            engine.restart()
        bounds = [None] * len(steps)
        if tolerance.policy:
            bounds = sequence_bounds(graph, [adapt_inputs(f, graph) for f in steps], names)
        for step, (ref_feeds, bound) in enumerate(zip(steps, bounds)):
            ref_out = ref.run(ref_feeds, per_tensor)
            allowed = bound.allowed if bound is not None else None
            for engine in candidates:
                keep_all = per_tensor and engine is candidates[0]
                out = engine.run(adapt_inputs(ref_feeds, engine.graph), keep_all)
                rows = [replace(r, step=step if sequence else None) for r in
                        compare_engines(engine, ref, out, ref_out, graph.outputs, tolerance, allowed)]
                keep_worst(worst, rows)
                keep_worst(by_step.setdefault(step, {}), rows)
                if keep_all:
                    for row in compare_engines(engine, ref, out, ref_out, op_order, tolerance, allowed):
                        if row.tensor not in tensors or row.max_abs > tensors[row.tensor].max_abs:
                            tensors[row.tensor] = row
    order = {n: i for i, n in enumerate(op_order)}
    step_rows = [r for step in sorted(by_step) for r in by_step[step].values()] if sequence else []
    sensitivity = _sensitivity(reference, ref, graph, fed, sequence) if contributors else None
    return Report(list(worst.values()), step_rows,
                  sorted(tensors.values(), key=lambda r: order.get(r.tensor, 0)), tolerance, sensitivity)


def _sensitivity(reference: str | None, engine: Engine, candidate: Graph, fed: list,
                 sequence: bool) -> Sensitivity | None:
    """The candidate's ops ranked against the float reference, when there is one. What keeps
    them from being measured (a .pb our converter cannot cut at a TF-converted candidate's
    tensors, say) is a note: the comparison itself stands."""
    from .sensitivity import Sensitivity, contributions

    try:
        float_graph = float_reference(reference, engine, candidate)
    except TocoError as err:
        return Sensitivity([], None, note=f"not measured: {err}")
    if float_graph is None:
        return None
    if sequence:
        return Sensitivity([], None, note="not measured over a sequence of steps")
    return contributions(float_graph, candidate, fed)


# ---- reporting ------------------------------------------------------------------------------

TOP_CONTRIBUTORS = 5  # the ops the per-tensor table marks


def contributor_marks(sensitivity: Sensitivity | None) -> dict[str, str]:
    """The per-tensor table's marks: the float tensor of each of the top ops -> '#rank error'."""
    if sensitivity is None:
        return {}
    return {c.tensor: f"#{rank} {c.error:.3g}"
            for rank, c in enumerate(sensitivity.contributions[:TOP_CONTRIBUTORS], 1)}


def document(report: Report, reference: str | None, candidate: str, samples: int) -> dict:
    """validate --json: what the tables show, as one JSON-ready dict (README: validate)."""
    def row(r: Comparison) -> dict:
        out = {k: v for k, v in asdict(r).items() if k != "step" or r.step is not None}
        if r.ratio is None:
            out.pop("ratio")
        return out

    tol = report.tolerance
    doc = {"reference": reference, "candidate": candidate, "samples": samples,
           "tolerance": {"policy": tol.policy, "atol": tol.atol, "rtol": tol.rtol,
                         "description": tol.describe()},
           "outputs": [row(r) for r in report.rows]}
    if report.steps:
        first = report.first_divergence
        doc["steps"] = [row(r) for r in report.steps]
        doc["first_divergence"] = None if first is None else row(first)
    if report.tensors:
        first = first_divergence(report.tensors)
        doc["tensors"] = [row(r) for r in report.tensors]
        doc["first_beyond_tolerance"] = None if first is None else first.tensor
    s = report.sensitivity
    doc["contributors"] = None if s is None else {
        "measure": "mean |output error| / float output range, largest over the outputs",
        "model_error": s.model_error, "model_outputs": s.model_outputs,
        "ops": [{"rank": rank, "op": c.op, "type": c.type, "name": c.name, "tensor": c.tensor,
                 "error": c.error, "outputs": c.outputs}
                for rank, c in enumerate(s.contributions, 1)],
        "unmatched": s.unmatched, "note": s.note}
    doc["passed"] = bool(report.rows) and all(r.passed for r in report.rows)
    return _finite(doc)


def _finite(value):
    """JSON has no infinity nor NaN: null (an SNR is infinite where the tensors are equal)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return None if isinstance(value, float) and not np.isfinite(value) else value
