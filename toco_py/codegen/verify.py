"""Builds a bundle with the system compiler, runs it on seeded random inputs and compares its
outputs: float outputs with the float64 truth, within the allowance of the float tolerance
policy (toco_py/tolerance.py), integer outputs with the reference interpreter bit for bit.
With several steps, one process invokes the bundle once per step (a model's variables carry
its state on) and each step is checked against the same step of one interpreter."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import TocoError
from ..ir import Graph
from ..tolerance import float_bounds, judge, sequence_bounds
from .api_files import CFLAGS
from .mcu import HOST, McuTarget, invoke_counts, qemu_command, require_tools
from .mcu import target as mcu_target

BUILD_TIMEOUT = 900
RUN_TIMEOUT = 600
# Lines of compiler output shown when a build fails.
LOG_TAIL = 25


class VerifyError(TocoError):
    """The bundle does not build or run."""

    exit_code = 1


@dataclass
class OutputCheck:
    name: str
    dtype: str
    shape: tuple[int, ...]
    max_abs: float     # max |ours - reference| (float: the float64 truth)
    max_ref: float     # max |reference|
    passed: bool
    note: str = ""
    # Float outputs: the policy's allowance where the error is largest relative to it, and
    # that ratio (pass <= 1).
    allowed: float = 0.0
    ratio: float = 0.0


@dataclass
class VerifyReport:
    checks: list[OutputCheck]
    arena_size: int
    instructions: list[int] = field(default_factory=list)  # per invoke, on a Cortex-M target
    stack: list[int] = field(default_factory=list)         # bytes of stack each invoke wrote (Cortex-M)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


@dataclass
class Program:
    """A built bundle's runner: a host program, or a Cortex-M test program run by QEMU."""
    path: str
    mcu: McuTarget | None = None
    instructions: list[int] = field(default_factory=list)  # of each invoke of its last run (Cortex-M)
    stack: list[int] = field(default_factory=list)         # bytes of stack each invoke wrote (Cortex-M)

    def command(self, args: list[str]) -> list[str]:
        return [self.path, *args] if self.mcu is None else qemu_command(self.mcu, self.path, args)


def _makefile_sources(bundle_dir: str) -> list[str]:
    with open(os.path.join(bundle_dir, "Makefile"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("SOURCES ="):
                return line.split("=", 1)[1].split()
    raise VerifyError(f"{bundle_dir}/Makefile lists no SOURCES")


def build_command(bundle_dir: str, name: str, opt: str, extra_cflags: str, jobs: int) -> list[str]:
    """`make` in the bundle when there is one; else the compiler the Makefile would run."""
    if shutil.which("make"):
        # -B: objects left by an earlier build with other flags must not be reused.
        return ["make", "-s", "-B", "-C", bundle_dir, f"-j{jobs}", f"OPT={opt}",
                f"EXTRA_CFLAGS={extra_cflags}"]
    flags = [*CFLAGS.split(), *opt.split(), *extra_cflags.split()]
    sources = [os.path.join(bundle_dir, s) for s in _makefile_sources(bundle_dir)]
    return ["cc", *flags, "-o", os.path.join(bundle_dir, f"{name}_run"), *sources, "-lm"]


def build(bundle_dir: str, name: str, opt: str = "-O2", extra_cflags: str = "", jobs: int = 2,
          target: str = HOST) -> Program:
    """Compiles the bundle (generated for `target`); returns its runner."""
    mcu = mcu_target(target)
    if mcu is not None:
        require_tools()
        if not shutil.which("make"):
            raise VerifyError(f"cannot build {bundle_dir} for {target}: make is not installed")
    command = build_command(bundle_dir, name, opt, extra_cflags, jobs)
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    except FileNotFoundError:
        raise VerifyError(f"cannot build {bundle_dir}: {command[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise VerifyError(f"building {bundle_dir} took over {BUILD_TIMEOUT} s") from None
    if done.returncode:
        log = "\n".join((done.stdout + done.stderr).strip().splitlines()[-LOG_TAIL:])
        raise VerifyError(f"building {bundle_dir} failed ({' '.join(command[:2])} exit code "
                          f"{done.returncode}):\n{log}")
    path = os.path.abspath(os.path.join(bundle_dir, f"{name}_run"))
    return Program(path) if mcu is None else Program(path + ".elf", mcu)


def run_bundle(binary: Program | str, graph: Graph, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs the runner on raw little-endian files; returns the outputs by tensor name."""
    return run_bundle_steps(binary, graph, [feeds])[0]


def run_bundle_steps(binary: Program | str, graph: Graph, steps: list[dict[str, np.ndarray]]
                     ) -> list[dict[str, np.ndarray]]:
    """One process of the runner (a path: a host program) invoking the bundle once per
    step, in order (its state, if any, carried on): the outputs of each step by tensor
    name. The files lie in a temporary working directory, named relative to it."""
    program = binary if isinstance(binary, Program) else Program(os.path.abspath(binary))
    with tempfile.TemporaryDirectory(prefix="toco-codegen-") as folder:
        args, out_paths = [], []
        for k, feeds in enumerate(steps):
            for i, name in enumerate(graph.inputs):
                args.append(f"in{i}_{k}.bin")
                dtype = np.dtype(graph.tensors[name].dtype).newbyteorder("<")
                np.ascontiguousarray(feeds[name], dtype=dtype).tofile(os.path.join(folder, args[-1]))
            out_paths.append([f"out{i}_{k}.bin" for i in range(len(graph.outputs))])
            args += out_paths[-1]
        try:
            done = subprocess.run(program.command(args), check=False, capture_output=True, text=True,
                                  timeout=RUN_TIMEOUT, cwd=folder)
        except subprocess.TimeoutExpired:
            raise VerifyError(f"{program.path} ran for over {RUN_TIMEOUT} s") from None
        if done.returncode:
            raise VerifyError(f"{program.path} failed with exit code {done.returncode}: "
                              f"{(done.stderr or done.stdout).strip()[-2000:]}")
        counts = invoke_counts(done.stderr)
        program.instructions, program.stack = [n for n, _ in counts], [b for _, b in counts]
        results = []
        for paths in out_paths:
            outputs = {}
            for name, path in zip(graph.outputs, (os.path.join(folder, p) for p in paths)):
                t = graph.tensors[name]
                data = np.fromfile(path, dtype=np.dtype(t.dtype).newbyteorder("<"))
                outputs[name] = data.astype(t.dtype).reshape(t.shape)
            results.append(outputs)
        return results


def compare(name: str, want: np.ndarray, got: np.ndarray, allowed: np.ndarray | None = None) -> OutputCheck:
    """A float output against the float64 truth `want` within `allowed` (the policy's); an
    integer output against the interpreter's `want`, bit for bit."""
    want = np.asarray(want)
    if got.shape != want.shape:
        return OutputCheck(name, str(got.dtype), got.shape, np.inf, 0.0, False,
                           f"shape {list(got.shape)}, reference {list(want.shape)}")
    max_ref = float(np.max(np.abs(want.astype(np.float64)), initial=0.0))
    if got.dtype.kind == "f":
        verdict = judge(name, got, want, allowed)
        return OutputCheck(name, str(got.dtype), want.shape, verdict.max_abs, max_ref, verdict.passed,
                           verdict.note, verdict.max_allowed, verdict.ratio)
    diff = np.abs(got.astype(np.int64) - want.astype(np.int64))
    max_abs = float(np.max(diff, initial=0))
    count = int(np.count_nonzero(diff))
    return OutputCheck(name, str(want.dtype), want.shape, max_abs, max_ref, count == 0,
                       f"{count} of {diff.size} elements differ" if count else "")


def verify_bundle(graph: Graph, bundle_dir: str, name: str, arena_size: int, seed: int = 0,
                  opt: str = "-O2", extra_cflags: str = "",
                  feeds: dict[str, np.ndarray] | None = None, target: str = HOST) -> VerifyReport:
    """Builds and runs the bundle in bundle_dir (generated for `target`) on `feeds`
    (default: seeded random inputs)."""
    from ..tensor_io import random_inputs

    program = build(bundle_dir, name, opt, extra_cflags, target=target)
    feeds = random_inputs(graph, seed) if feeds is None else feeds
    return VerifyReport(check_run(graph, program, feeds), arena_size, program.instructions, program.stack)


def check_run(graph: Graph, binary: Program | str, feeds: dict[str, np.ndarray]) -> list[OutputCheck]:
    """Runs a built bundle on `feeds` and checks each output: float outputs against the
    float64 truth within the policy's allowance, integer outputs against the interpreter."""
    from ..interpreter import Interpreter

    got = run_bundle(binary, graph, feeds)
    floats = [n for n in graph.outputs if graph.tensors[n].dtype.startswith("float")]
    bounds = float_bounds(graph, dict(feeds), floats)
    exact = Interpreter(graph).run(dict(feeds)) if len(floats) < len(graph.outputs) else {}
    return [compare(n, bounds.truth[n], got[n], bounds.allowed[n]) if n in bounds.allowed
            else compare(n, exact[n], got[n]) for n in graph.outputs]


def verify_steps(graph: Graph, bundle_dir: str, name: str, arena_size: int, steps: int, seed: int = 0,
                 opt: str = "-O2", extra_cflags: str = "",
                 feeds: list[dict[str, np.ndarray]] | None = None, target: str = HOST) -> VerifyReport:
    """Builds the bundle and runs `steps` invokes in one process (step k on the random inputs
    of seed + k, or on feeds[k]), each checked against the same step of one interpreter."""
    from ..tensor_io import random_inputs

    program = build(bundle_dir, name, opt, extra_cflags, target=target)
    feeds = [random_inputs(graph, seed + k) for k in range(steps)] if feeds is None else feeds
    return VerifyReport(check_steps(graph, program, feeds), arena_size, program.instructions, program.stack)


def check_steps(graph: Graph, binary: Program | str, steps: list[dict[str, np.ndarray]]) -> list[OutputCheck]:
    """Checks every output of every step: integer outputs bit for bit against an interpreter
    that runs the same steps (its variables carried on as the bundle's), float outputs against
    the float64 truth of the sequence within sequence_bounds' allowance."""
    from ..interpreter import Interpreter

    got = run_bundle_steps(binary, graph, steps)
    floats = [n for n in graph.outputs if graph.tensors[n].dtype.startswith("float")]
    bounds = sequence_bounds(graph, steps, floats) if floats else []
    interp = Interpreter(graph)
    checks = []
    for k, feeds in enumerate(steps):
        exact = interp.run(dict(feeds)) if len(floats) < len(graph.outputs) else {}
        for n in graph.outputs:
            check = compare(n, bounds[k].truth[n], got[k][n], bounds[k].allowed[n]) if n in floats \
                else compare(n, exact[n], got[k][n])
            checks.append(replace(check, name=f"{n} (step {k})"))
    return checks


def report_rows(report: VerifyReport) -> list[tuple]:
    """Rows for report.print_table: output, dtype, shape, max |diff|, max |ref|, the float
    allowance and the error over it ("exact" for integer outputs)."""
    return [(c.name, c.dtype, list(c.shape), c.max_abs, c.max_ref,
             c.allowed if c.dtype.startswith("float") else "exact",
             c.ratio if c.dtype.startswith("float") else "",
             ("pass" if c.passed else "FAIL") + (f" ({c.note})" if c.note else ""))
            for c in report.checks]


REPORT_COLUMNS = ["output", "dtype", "shape", "max |diff|", "max |ref|", "allowed", "diff / allowed", ""]
