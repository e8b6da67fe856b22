"""Helpers for the C bundle tests: one-op graphs read back from .tflite bytes, and
generate + build + run + compare in one call."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from toco_py.codegen.bundle import generate_bundle
from toco_py.codegen.mcu import HOST
from toco_py.codegen.verify import (
    REPORT_COLUMNS,
    VerifyReport,
    build,
    check_run,
    report_rows,
)
from toco_py.ir import Graph
from toco_py.tensor_io import random_inputs
from toco_py.tflite.reader import read_model
from toco_py.tflite.writer import model_bytes

from .kernel_check import one_op_graph

# Tests compile at -O1 (faster); the Makefile's -O2 is exercised by the network tests.
TEST_OPT = "-O1"


def roundtrip(graph: Graph) -> Graph:
    """The graph as the codegen command sees it: written to .tflite bytes and read back."""
    return read_model(model_bytes(graph)).main


def one_op(op_type: str, inputs: list, attrs: dict | None = None, n_outputs: int = 1,
           const: set[int] | None = None) -> Graph:
    return roundtrip(one_op_graph(op_type, inputs, attrs, n_outputs, const))


def check_bundle(graph: Graph, folder, name: str = "model", opt: str = TEST_OPT,
                 extra_cflags: str = "", feeds: dict[str, np.ndarray] | None = None,
                 seed: int = 0, more_seeds: Sequence[int] = (), target: str = HOST) -> VerifyReport:
    """Generates the bundle (for `target`) into folder/name, builds it, runs it (a Cortex-M
    target: under QEMU) and asserts that every output passes --verify's checks (float: the
    tolerance policy; integer: the interpreter, exactly); then again on the random inputs of
    each of more_seeds, with the same build."""
    out_dir = str(folder / name)
    bundle = generate_bundle(graph, out_dir, name, target=target)
    program = build(out_dir, name, opt, extra_cflags, target=target)
    report = VerifyReport(check_run(graph, program, random_inputs(graph, seed) if feeds is None else feeds),
                          bundle.plan.arena_size, program.instructions, program.stack)
    assert report.passed, table(report)
    for other in more_seeds:
        again = VerifyReport(check_run(graph, program, random_inputs(graph, other)), report.arena_size)
        assert again.passed, f"seed {other}:\n{table(again)}"
    return report


def table(report: VerifyReport) -> str:
    return "\n".join("  ".join(str(c) for c in row) for row in [REPORT_COLUMNS] + report_rows(report))


# Seeded pseudo-random numbers for the C programs that check kernels against each other
# (xorshift32: the same sequence on every machine).
C_RANDOM = r"""
static uint32_t state = 2463534242u;
static uint32_t next(void)
{
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}
"""
