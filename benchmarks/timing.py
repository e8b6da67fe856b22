"""Timing shared by the benchmarks: a command run under /usr/bin/time -v (its wall seconds and
peak resident memory: compare_tf.py, scale.py), the best of a few calls, and a LiteRT
latency probe (compare_tf.py, compare_tf_int8.py)."""
from __future__ import annotations

import re
import subprocess
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter


def run_timed(argv: list[str], **kwargs) -> tuple[subprocess.CompletedProcess, float, float | None]:
    """(the finished process, wall seconds, peak RSS in MB; None when time -v reported none).
    kwargs go to subprocess.run (e.g. preexec_fn)."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *argv], capture_output=True, text=True, check=False,
                          **kwargs)
    seconds = time.perf_counter() - start
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return proc, seconds, int(rss.group(1)) / 1024 if rss else None


def best_time(fn, runs: int):
    """Best wall time of `runs` calls; returns (seconds, last result)."""
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


class LatencyProbe:
    """A LiteRT interpreter (num_threads=1, default resolver) with its inputs set. sample()
    times a batch of invokes lasting ~1 ms, so the timer's resolution does not swamp tiny models."""

    def __init__(self, model: bytes, feeds: dict[str, np.ndarray]):
        self.interp = Interpreter(model_content=model, num_threads=1)
        self.interp.allocate_tensors()
        values = list(feeds.values())  # inputs matched by tensor name, else by position
        for i, detail in enumerate(self.interp.get_input_details()):
            value = feeds.get(detail["name"].split(":")[0], values[min(i, len(values) - 1)])
            self.interp.set_tensor(detail["index"], value)
        once, _ = best_time(self.interp.invoke, 5)  # also the warm-up
        self.batch = max(1, int(1e-3 / max(once, 1e-7)))
        self.times: list[float] = []

    def sample(self) -> None:
        start = time.perf_counter()
        for _ in range(self.batch):
            self.interp.invoke()
        self.times.append((time.perf_counter() - start) / self.batch)
