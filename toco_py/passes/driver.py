"""Runs the passes of a stage to a fixpoint, with per-pass statistics."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from ..errors import ConversionError
from ..ir import Graph
from .base import Pass
from .propagate_shapes import propagate_shapes

MAX_SWEEPS = 200


class PassLog:
    """Collects what each pass did; prints per-rewrite lines when verbose."""

    def __init__(self, emit: Callable[[str], None] | None = None) -> None:
        self.emit = emit
        self.counts: Counter[str] = Counter()
        self.remarked: set[str] = set()

    def record(self, stage: str, p: Pass, what: str) -> None:
        self.counts[f"{stage}/{p.name}"] += 1
        if self.emit:
            self.emit(f"  {stage}/{p.name}: {what}")

    def remarks(self, graph: Graph) -> None:
        """The graph's remarks (why a pass left an op as it is) not yet shown, on the ops
        still there (a later sweep may have rewritten an op after all)."""
        for text, op in graph.remarks.items():
            if self.emit and op.alive and text not in self.remarked:
                self.remarked.add(text)
                self.emit(f"  note: {text}")


def run_stage(graph: Graph, stage: str, passes: Sequence[Pass], log: PassLog | None = None,
              after_pass: Callable[[str, Graph], None] | None = None) -> int:
    """Sweeps all passes over all ops until a sweep changes nothing. Returns the rewrites."""
    total = 0
    # The graph's structure maps follow its methods; rebuild them once in case code before
    # this stage edited op inputs or outputs in place.
    graph.invalidate()
    graph.checkpoint(f"the code before the {stage} stage")
    for _ in range(MAX_SWEEPS):
        propagate_shapes(graph)
        changed = 0
        for p in passes:
            applied = 0
            for op in list(graph.ops):
                if not op.alive:
                    continue
                label = repr(op) if log and log.emit else ""  # (before the rewrite changes op)
                if p.run(graph, op):
                    graph.checkpoint(f"pass {stage}/{p.name}", op)
                    applied += 1
                    if log:
                        log.record(stage, p, label)
            if applied:
                changed += applied
                propagate_shapes(graph)
                if after_pass:
                    after_pass(p.name, graph)
        graph.remove_dead()
        graph.checkpoint(f"removing dead ops after the {stage} passes")
        total += changed
        if not changed:
            if log:
                log.remarks(graph)
            return total
    raise ConversionError(
        f"the {stage} passes did not settle after {MAX_SWEEPS} sweeps; run with -v to see "
        "which rewrites repeat, and report the graph")
