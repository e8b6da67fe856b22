"""--accuracy_target X: the fewest ops kept in float (or, with --fallback int16x8, computed in
16x8 in an int8 model) for the quantized model's output error to be within X of the float
outputs' range, measured on calibration samples held back from the ranges.

1. The last quarter of the samples is held back; the rest calibrate the ranges, and the first
   16 of those measure each op's sensitivity: the output error when that op alone computes
   quantized (sensitivity.py, the same measure `validate --per-tensor` ranks ops by).
2. Ops join the fallback set in order of sensitivity, the shortest prefix of that order that meets
   the target on the held-back samples found by doubling, then bisection.
3. Each op of the set, least sensitive first, leaves it again when the target holds without it.
Every quantization is of the same float graph with the same ranges, so the choice depends on
the samples alone, and the same data gives the same model."""
from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ..errors import TocoError
from ..ir import Graph
from ..ops.registry import multiply_accumulates
from ..sensitivity import Contribution, contributions, model_error
from ..tflite.writer import model_bytes
from .full_integer import Int8Options, quantize_int8

Ranges = list[dict[str, tuple[float, float]]]
# At least this many samples: a quarter of them is held back.
MIN_SAMPLES = 8
# Sensitivity costs about ops^2 / 2 op runs a sample (sensitivity.py): the first 16 calibration
# samples rank the ops, as the error figures are means over 16 inputs.
RANKING_SAMPLES = 16


@dataclass
class Choice:
    keep: list[Contribution]   # the ops given the fallback, most sensitive first
    error: float               # the model's error on the held-back samples with their fallback
    full_error: float          # the error with every op quantized
    full_bytes: int            # the file's size with every op quantized


def held_back(samples: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    """(calibration samples, held-back samples): the last quarter is held back."""
    if len(samples) < MIN_SAMPLES:
        raise TocoError(f"--accuracy_target needs at least {MIN_SAMPLES} calibration samples (a quarter "
                        f"is held back to measure the error), not {len(samples)}: give more")
    cut = len(samples) - len(samples) // 4
    return list(samples[:cut]), list(samples[cut:])


def choose_fallback_ops(graph: Graph, ranges: Ranges, options: Int8Options, target: float, fallback: str,
                        calibration: list[dict], held: list[dict]) -> Choice:
    """The ops to give the fallback (float or int16x8) so that the model's error on `held` is
    at most `target`; raises TocoError when no choice meets it."""
    def error_with(keep: Sequence[Contribution]) -> float:
        quantized = copy.deepcopy(graph)
        quantize_int8(quantized, ranges, with_fallback(options, keep, target, fallback))
        return model_error(graph, quantized, held)

    full = copy.deepcopy(graph)
    quantize_int8(full, ranges, options)
    full_error = model_error(graph, full, held)
    full_bytes = len(model_bytes(full))
    if full_error <= target:
        return Choice([], full_error, full_error, full_bytes)
    # Every measured op, those causing no error alone last: a 16x8 island is cheaper with its
    # data-moving neighbours inside (each int16 -> int8 -> int16 crossing rounds to int8).
    ranked = contributions(graph, full, calibration[:RANKING_SAMPLES]).contributions
    count, error = _shortest_prefix(lambda n: error_with(ranked[:n]), len(ranked), target)
    if error > target:
        raise TocoError(f"--accuracy_target {target:g} is not met even with every quantized op in {fallback} "
                        f"(error {error:.3g} of the output range: the quantized inputs and outputs alone "
                        "cost that): raise the target, or keep float inputs and outputs")
    keep = ranked[:count]
    for candidate in reversed(ranked[:count]):  # least sensitive first
        fewer = [c for c in keep if c is not candidate]
        fewer_error = error_with(fewer)
        if fewer_error <= target:
            keep, error = fewer, fewer_error
    return Choice(keep, error, full_error, full_bytes)


def with_fallback(options: Int8Options, keep: Sequence[Contribution], target: float,
                  fallback: str) -> Int8Options:
    """The options with these ops (by their first output) kept in float, or computed in 16x8,
    saying why."""
    chosen = {c.tensor: f"for --accuracy_target {target:g}" for c in keep}
    if fallback == "int16x8":
        return replace(options, int16_ops={**options.int16_ops, **chosen})
    return replace(options, keep_float={**options.keep_float, **chosen})


def _shortest_prefix(error_of: Callable[[int], float], total: int, target: float) -> tuple[int, float]:
    """The smallest n in [1, total] with error_of(n) <= target, assuming the error falls as n
    grows (doubling, then bisection), with its error; (total, error) when none meets it."""
    known: dict[int, float] = {}

    def error(n: int) -> float:
        if n not in known:
            known[n] = error_of(n)
        return known[n]

    low, high = 0, 1
    while high < total and error(high) > target:
        low, high = high, min(2 * high, total)
    if error(high) > target:
        return high, error(high)
    while high - low > 1:
        middle = (low + high) // 2
        if error(middle) <= target:
            high = middle
        else:
            low = middle
    return high, error(high)


def describe(choice: Choice, target: float, fallback: str, float_graph: Graph, quantized: Graph) -> list[str]:
    """The notes: whether the target was met, which ops got the fallback and why, and what they
    cost: bytes, and the share of the multiply-accumulates they compute (LiteRT's latency is
    measured by benchmarks/quant_accuracy.py: convert does not load LiteRT)."""
    if not choice.keep:
        return [f"--accuracy_target {target:g}: met with every op quantized "
                f"(error {choice.error:.3g} of the output range on the held-back samples)"]
    listed = "; ".join(f"{c.type} {c.name} (alone {c.error:.3g})" for c in choice.keep)
    total = sum(1 for op in float_graph.ops if op.type not in ("QUANTIZE", "DEQUANTIZE"))
    kept = {c.tensor for c in choice.keep}
    macs = {op.outputs[0]: multiply_accumulates(float_graph, op) for op in float_graph.ops if op.outputs}
    share = sum(macs.get(t, 0) for t in kept) / max(sum(macs.values()), 1)
    cost = len(model_bytes(quantized)) - choice.full_bytes
    where = "kept in float" if fallback == "float" else "computed in 16x8"
    return [f"--accuracy_target {target:g}: {len(choice.keep)} of {total} ops ({len(choice.keep) / total:.0%}) "
            f"{where}, error {choice.full_error:.3g} -> {choice.error:.3g} of the output range on "
            f"the held-back samples; by the error each causes quantized alone: {listed}; cost: "
            f"{cost:+,} bytes, {share:.0%} of the multiply-accumulates {where}"]
