"""Calibration: run the float graph in the interpreter over the samples and record each float
tensor's range (min/max over all samples, percentiles for outlier-heavy activations, or the
range with the least quantization error: range_search.py), in every subgraph. The samples run
one after the other on one interpreter, so a streaming model's variables carry its state from
sample to sample, as from invoke to invoke."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..interpreter import Interpreter
from ..ir import Graph
from ..ops.registry import definition
from ..progress import with_progress
from .range_search import mse_range
from .schemes import INT8, Scheme

RESERVOIR = 1 << 15  # values kept per tensor for percentiles and the MSE search
DEFAULT_PERCENTILE = 99.99  # the percentile method's, when none is given


class RangeTracker:
    """Each tensor's min/max and, for the percentile and mse methods, a uniform sample of its
    values (RESERVOIR of them, each run's share in proportion to its size)."""

    def __init__(self, percentile: float | None = None, seed: int = 0, method: str | None = None,
                 scheme: Scheme = INT8, keep_values: bool | None = None) -> None:
        self.method = method or ("minmax" if percentile is None else "percentile")
        self.percentile = percentile or DEFAULT_PERCENTILE
        # Values are sampled for any method but min/max (keep_values: for ranges(method) of several).
        self.keep_values = self.method != "minmax" if keep_values is None else keep_values
        self.scheme = scheme
        self.lo: dict[str, float] = {}
        self.hi: dict[str, float] = {}
        self.kept: dict[str, np.ndarray] = {}
        self.seen: dict[str, int] = {}
        self.rng = np.random.default_rng(seed)

    def add(self, name: str, value: np.ndarray) -> None:
        if value.dtype.kind != "f" or value.size == 0:
            return
        lo, hi = float(np.min(value)), float(np.max(value))
        self.lo[name] = min(lo, self.lo.get(name, lo))
        self.hi[name] = max(hi, self.hi.get(name, hi))
        if self.keep_values:
            self._keep(name, value.ravel())

    def _keep(self, name: str, flat: np.ndarray) -> None:
        """Merges the new values into the sample in proportion to how many each side stands
        for, so the first runs weigh as much as the last."""
        kept, seen = self.kept.get(name, np.empty(0, flat.dtype)), self.seen.get(name, 0)
        total = seen + flat.size
        self.seen[name] = total
        if kept.size + flat.size <= RESERVOIR:
            self.kept[name] = np.concatenate([kept, flat])
            return
        new = int(round(RESERVOIR * flat.size / total))
        old = min(RESERVOIR - new, kept.size)
        self.kept[name] = np.concatenate([self.rng.choice(kept, old, replace=False),
                                          self.rng.choice(flat, min(new, flat.size), replace=False)])

    def ranges(self, method: str | None = None) -> dict[str, tuple[float, float]]:
        """Each tensor's range by the method (the tracker's own when None), widened by the
        scheme's headroom."""
        h = self.scheme.headroom
        return {n: (lo * h, hi * h) for n, (lo, hi) in self._chosen(method or self.method).items()}

    def _chosen(self, method: str) -> dict[str, tuple[float, float]]:
        if method == "minmax":
            return {n: (self.lo[n], self.hi[n]) for n in self.lo}
        if method == "mse":
            return {n: mse_range(v, self.lo[n], self.hi[n], self.scheme) for n, v in self.kept.items()}
        p = self.percentile
        return {n: (float(np.percentile(v, 100 - p)), float(np.percentile(v, p))) for n, v in self.kept.items()}


def calibrate(graph: Graph, samples: Sequence[dict[str, np.ndarray]], percentile: float | None = None,
              method: str | None = None, scheme: Scheme = INT8,
              observe: Callable | None = None) -> list[dict[str, tuple[float, float]]]:
    """Each subgraph's ranges (one subgraph: the graph's), over every time it runs: every
    iteration of a loop body, every branch taken. A subgraph's inputs are its caller's values
    (WHILE and IF inputs, body outputs), whose ranges subgraph_ranges shares with them.
    method: minmax, percentile or mse (range_search; scheme: the one the ranges are for);
    observe(index, op, args, outputs) sees every op run, as Interpreter.run's on_op."""
    trackers = track(graph, samples, [RangeTracker(percentile, method=method, scheme=scheme)
                                      for _ in graph.subgraphs or [graph]], observe)
    return [tracker.ranges() for tracker in trackers]


def calibrate_methods(graph: Graph, samples: Sequence[dict[str, np.ndarray]], methods: Sequence[str],
                      percentile: float | None = None, scheme: Scheme = INT8,
                      observe: Callable | None = None) -> dict[str, list[dict[str, tuple[float, float]]]]:
    """calibrate's ranges by each of the methods, from one run over the samples."""
    trackers = track(graph, samples, [RangeTracker(percentile, scheme=scheme, keep_values=True)
                                      for _ in graph.subgraphs or [graph]], observe)
    return {method: [tracker.ranges(method) for tracker in trackers] for method in methods}


def track(graph: Graph, samples: Sequence[dict[str, np.ndarray]], trackers: list[RangeTracker],
          observe: Callable | None = None) -> list[RangeTracker]:
    """The trackers (one per subgraph) fed every float value the samples produce."""
    interp = Interpreter(graph)

    def record(index, op, args, outputs):
        tracker = trackers[index[0]] if isinstance(index, tuple) else trackers[0]
        for name, value in zip(op.outputs, outputs):
            tracker.add(name, np.asarray(value))
        opdef = definition(op)
        if opdef is not None and opdef.observed is not None:
            for name, value in opdef.observed(op, *args).items():
                tracker.add(name, np.asarray(value))
        if observe is not None:
            observe(index, op, args, outputs)

    for feeds in with_progress(samples, len(samples), "calibrating"):
        for name in graph.inputs:
            trackers[0].add(name, np.asarray(feeds[name]))
        interp.run(feeds, on_op=record)
    return trackers
