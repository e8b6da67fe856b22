"""Calibration: run the float graph in the interpreter over the samples and record each float
tensor's range (min/max over all samples, or percentiles for outlier-heavy activations), in
every subgraph. The samples run one after the other on one interpreter, so a streaming
model's variables carry its state from sample to sample, as from invoke to invoke."""
from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import nullcontext

import numpy as np

from ..interpreter import Interpreter
from ..ir import Graph
from ..ops.registry import definition

RESERVOIR = 1 << 15  # values kept per tensor for percentiles


class RangeTracker:
    def __init__(self, percentile: float | None, seed: int = 0) -> None:
        self.percentile = percentile
        self.lo: dict[str, float] = {}
        self.hi: dict[str, float] = {}
        self.kept: dict[str, np.ndarray] = {}
        self.rng = np.random.default_rng(seed)

    def add(self, name: str, value: np.ndarray) -> None:
        if value.dtype.kind != "f" or value.size == 0:
            return
        lo, hi = float(np.min(value)), float(np.max(value))
        self.lo[name] = min(lo, self.lo.get(name, lo))
        self.hi[name] = max(hi, self.hi.get(name, hi))
        if self.percentile is not None:
            flat = value.ravel()
            pick = flat if flat.size <= RESERVOIR else self.rng.choice(flat, RESERVOIR, replace=False)
            merged = np.concatenate([self.kept.get(name, np.empty(0, flat.dtype)), pick])
            if merged.size > RESERVOIR:
                merged = self.rng.choice(merged, RESERVOIR, replace=False)
            self.kept[name] = merged

    def ranges(self) -> dict[str, tuple[float, float]]:
        if self.percentile is None:
            return {n: (self.lo[n], self.hi[n]) for n in self.lo}
        p = self.percentile
        return {n: (float(np.percentile(v, 100 - p)), float(np.percentile(v, p))) for n, v in self.kept.items()}


def _progress(total: int):
    """A rich progress bar on a terminal; nothing otherwise (CI logs stay clean)."""
    if not sys.stderr.isatty():
        return nullcontext(None)
    from rich.progress import Progress

    return Progress(transient=True)


def calibrate(graph: Graph, samples: Sequence[dict[str, np.ndarray]],
              percentile: float | None = None) -> list[dict[str, tuple[float, float]]]:
    """Each subgraph's ranges (one subgraph: the graph's), over every time it runs: every
    iteration of a loop body, every branch taken. A subgraph's inputs are its caller's values
    (WHILE and IF inputs, body outputs), whose ranges subgraph_ranges shares with them."""
    interp = Interpreter(graph)
    trackers = [RangeTracker(percentile) for _ in graph.subgraphs or [graph]]

    def record(index, op, args, outputs):
        tracker = trackers[index[0]] if isinstance(index, tuple) else trackers[0]
        for name, value in zip(op.outputs, outputs):
            tracker.add(name, np.asarray(value))
        opdef = definition(op)
        if opdef is not None and opdef.observed is not None:
            for name, value in opdef.observed(op, *args).items():
                tracker.add(name, np.asarray(value))

    with _progress(len(samples)) as progress:
        task = progress.add_task("calibrating", total=len(samples)) if progress else None
        for feeds in samples:
            for name in graph.inputs:
                trackers[0].add(name, np.asarray(feeds[name]))
            interp.run(feeds, on_op=record)
            if progress:
                progress.advance(task)
    return [tracker.ranges() for tracker in trackers]
