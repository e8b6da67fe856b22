"""A command run under /usr/bin/time -v: its wall seconds and peak resident memory. Shared by
compare_tf.py and scale.py."""
from __future__ import annotations

import re
import subprocess
import time


def run_timed(argv: list[str], **kwargs) -> tuple[subprocess.CompletedProcess, float, float | None]:
    """(the finished process, wall seconds, peak RSS in MB; None when time -v reported none).
    kwargs go to subprocess.run (e.g. preexec_fn)."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *argv], capture_output=True, text=True, check=False,
                          **kwargs)
    seconds = time.perf_counter() - start
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return proc, seconds, int(rss.group(1)) / 1024 if rss else None
