"""Helpers for the C bundle tests: one-op graphs read back from .tflite bytes, and
generate + build + run + compare in one call."""
from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

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

from .kernel_check import one_op_graph, quant, window

KERNELS = Path(generate_bundle.__code__.co_filename).parent / "kernels"

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

# Random int8 convolutions and depthwise ones through the bundle's kernels (and
# unpacked_s8.c's) against the same sources built again with -DTK_PORTABLE (PORTABLE_BUILD:
# their kernels renamed tk_portable_*), half of them writing with output steps:
# C functions convolutions(cases) and depthwise(cases), each returning its mismatches; with
# C_RANDOM and between() before them. The x86 and the Cortex-M checks of the fast paths.
CONV_AGAINST_PORTABLE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* conv_s8.c and depthwise_conv_s8.c built again with -DTK_PORTABLE, their kernels renamed. */
#define PORTABLE(name)                                                                                  \
    int name(const int8_t *input, const int32_t *input_dims, int32_t input_zero, const int8_t *filter,      \
             const int32_t *filter_dims, const int32_t *bias, int8_t *output, const int32_t *output_dims,   \
             const int32_t *output_steps, int stride_h, int stride_w, int dilation_h, int dilation_w,       \
             int pad_top, int pad_left,                                                                     \
             const int32_t *multipliers, const int8_t *shifts, int32_t output_zero, int32_t act_min,        \
             int32_t act_max)
PORTABLE(tk_portable_conv2d_s8);
PORTABLE(tk_portable_depthwise_conv2d_s8);

""" + C_RANDOM + r"""
static int32_t between(int32_t lo, int32_t hi) { return lo + (int32_t)(next() % (uint32_t)(hi - lo + 1)); }

/* With `strided`, a case writes its output with steps (a part of a wider join's output: pixels
 * further apart than their channels, rows further apart than their pixels, at a channel
 * offset): the bytes the buffer holds, *at the output's offset in it.
 * The rest of the buffer must come back as it was (it is filled alike for both kernels). */
static size_t output_buffer(const int32_t *od, int strided, int32_t *steps, size_t *at)
{
    size_t rows = (size_t)od[0] * (size_t)od[1];
    if (!strided) {
        *at = 0;
        return rows * (size_t)od[2] * (size_t)od[3];
    }
    steps[1] = od[3] + between(1, 5);
    steps[0] = od[2] * steps[1] + between(0, 7);
    *at = (size_t)between(0, steps[1] - od[3]);
    return rows * (size_t)steps[0];
}

static long compare(const int8_t *want, const int8_t *got, size_t bytes, const char *what, int n)
{
    long mismatches = 0;
    size_t i;
    for (i = 0; i < bytes; ++i) {
        if (want[i] != got[i] && ++mismatches < 5) {
            fprintf(stderr, "%s case %d byte %lu: %d against %d\n", what, n, (unsigned long)i, got[i], want[i]);
        }
    }
    return mismatches;
}

/* Random convolutions: 1x1 (odd and even depths) and larger windows with padding, strides
 * and dilations; partial last blocks, partial last tiles of pixels, batches, bias or none, the
 * usual multipliers or any, shifts in [-31, 31]. */
static long convolutions(int cases)
{
    long mismatches = 0;
    int n;
    for (n = 0; n < cases; ++n) {
        int wide = n % 2;
        int32_t in[4] = {between(1, 2), between(1, 9), between(1, 9), wide ? between(1, 20) : between(1, 70)};
        int32_t out_channels = between(1, 40), blocks = (out_channels + 15) / 16;
        int32_t fd[4] = {out_channels, wide ? between(1, 5) : 1, wide ? between(1, 5) : 1, in[3]};
        int stride_h = between(1, 3), stride_w = between(1, 3);
        int dilation_h = wide ? between(1, 2) : 1, dilation_w = wide ? between(1, 2) : 1;
        int pad_top = wide ? between(0, 3) : 0, pad_left = wide ? between(0, 3) : 0;
        int32_t od[4] = {in[0], between(1, 8), between(1, 8), out_channels};
        size_t taps = (size_t)fd[1] * (size_t)fd[2] * (size_t)in[3];
        int32_t steps[2];
        size_t inputs = (size_t)in[0] * in[1] * in[2] * in[3], at;
        size_t outputs = output_buffer(od, n / 2 % 2, steps, &at);
        const int32_t *layout = n / 2 % 2 ? steps : NULL;
        size_t weights = (size_t)blocks * 16 * taps, i;
        int8_t *x = malloc(inputs), *w = calloc(weights, 1), *shifts = malloc((size_t)out_channels);
        int8_t *plain = malloc((size_t)out_channels * taps);
        int8_t *want = malloc(outputs), *got = malloc(outputs);
        int32_t *bias = malloc(sizeof(int32_t) * (size_t)out_channels);
        int32_t *multipliers = malloc(sizeof(int32_t) * (size_t)out_channels), c, t;
        int32_t input_zero = between(-128, 127), output_zero = between(-128, 127);
        int32_t low = between(-128, 0), high = between(low, 127);
        int with_bias = n % 3 != 0, usual = n % 4 != 0;
        for (i = 0; i < inputs; ++i) x[i] = (int8_t)between(-128, 127);
        for (c = 0; c < out_channels; ++c) {
            for (t = 0; t < (int32_t)taps; ++t) w[((size_t)(c / 16) * taps + (size_t)t) * 16 + (size_t)(c % 16)]
                = (int8_t)between(-127, 127);
            bias[c] = between(-40000, 40000);
            multipliers[c] = usual ? (int32_t)((next() | 0x40000000u) & 0x7FFFFFFFu) : (int32_t)next();
            shifts[c] = (int8_t)(usual ? between(-14, 0) : between(-31, 31));
        }
        memset(want, 0x5A, outputs);
        memset(got, 0x5A, outputs);
        tk_portable_conv2d_s8(x, in, input_zero, w, fd, with_bias ? bias : NULL, want + at, od, layout,
                              stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, multipliers, shifts,
                              output_zero, low, high);
        tk_conv2d_s8(x, in, input_zero, w, fd, with_bias ? bias : NULL, got + at, od, layout, stride_h,
                     stride_w, dilation_h, dilation_w, pad_top, pad_left, multipliers, shifts, output_zero, low, high);
        mismatches += compare(want, got, outputs, "convolution", n);
        /* The kernel of filters computed at run time (OHWI as in the model), with the same steps. */
        for (c = 0; c < out_channels; ++c) {
            for (t = 0; t < (int32_t)taps; ++t) plain[(size_t)c * taps + (size_t)t]
                = w[((size_t)(c / 16) * taps + (size_t)t) * 16 + (size_t)(c % 16)];
        }
        memset(got, 0x5A, outputs);
        tk_conv2d_unpacked_s8(x, in, input_zero, plain, fd, with_bias ? bias : NULL, got + at, od, layout, stride_h,
                              stride_w, dilation_h, dilation_w, pad_top, pad_left, multipliers, shifts, output_zero,
                              low, high);
        mismatches += compare(want, got, outputs, "unpacked convolution", n);
        free(x); free(w); free(plain); free(shifts); free(want); free(got); free(bias); free(multipliers);
    }
    return mismatches;
}

/* Random depthwise convolutions: 1 to 50 channels (whole blocks of 16 and the rest), depth
 * multipliers 1 to 3, windows, strides, dilations and padding as above. */
static long depthwise(int cases)
{
    long mismatches = 0;
    int n;
    for (n = 0; n < cases; ++n) {
        int32_t depth_multiplier = n % 3 == 0 ? between(2, 3) : 1;
        int32_t in[4] = {between(1, 2), between(1, 9), between(1, 9), between(1, 50)};
        int32_t out_channels = in[3] * depth_multiplier;
        int32_t fd[4] = {1, between(1, 5), between(1, 5), out_channels};
        int32_t od[4] = {in[0], between(1, 8), between(1, 8), out_channels};
        int stride_h = between(1, 3), stride_w = between(1, 3), dilation_h = between(1, 2);
        int dilation_w = between(1, 2), pad_top = between(0, 3), pad_left = between(0, 3);
        int32_t steps[2];
        size_t inputs = (size_t)in[0] * in[1] * in[2] * in[3], at;
        size_t outputs = output_buffer(od, n / 2 % 2, steps, &at);
        const int32_t *layout = n / 2 % 2 ? steps : NULL;
        size_t weights = (size_t)fd[1] * fd[2] * (size_t)out_channels, i;
        int8_t *x = malloc(inputs), *w = malloc(weights), *shifts = malloc((size_t)out_channels);
        int8_t *want = malloc(outputs), *got = malloc(outputs);
        int32_t *bias = malloc(sizeof(int32_t) * (size_t)out_channels);
        int32_t *multipliers = malloc(sizeof(int32_t) * (size_t)out_channels), c;
        int32_t input_zero = between(-128, 127), output_zero = between(-128, 127);
        int32_t low = between(-128, 0), high = between(low, 127);
        int with_bias = n % 5 != 0, usual = n % 4 != 0;
        for (i = 0; i < inputs; ++i) x[i] = (int8_t)between(-128, 127);
        for (i = 0; i < weights; ++i) w[i] = (int8_t)between(-127, 127);
        for (c = 0; c < out_channels; ++c) {
            bias[c] = between(-40000, 40000);
            multipliers[c] = usual ? (int32_t)((next() | 0x40000000u) & 0x7FFFFFFFu) : (int32_t)next();
            shifts[c] = (int8_t)(usual ? between(-14, 0) : between(-31, 31));
        }
        memset(want, 0x5A, outputs);
        memset(got, 0x5A, outputs);
        tk_portable_depthwise_conv2d_s8(x, in, input_zero, w, fd, with_bias ? bias : NULL, want + at, od,
                                        layout, stride_h, stride_w, dilation_h, dilation_w, pad_top,
                                        pad_left, multipliers, shifts, output_zero, low, high);
        tk_depthwise_conv2d_s8(x, in, input_zero, w, fd, with_bias ? bias : NULL, got + at, od, layout,
                               stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, multipliers, shifts,
                               output_zero, low, high);
        mismatches += compare(want, got, outputs, "depthwise", n);
        free(x); free(w); free(shifts); free(want); free(got); free(bias); free(multipliers);
    }
    return mismatches;
}

"""
PORTABLE_BUILD = ["-DTK_PORTABLE", "-Dtk_conv2d_s8=tk_portable_conv2d_s8",
                  "-Dtk_conv2d_lut_s8=tk_portable_conv2d_lut_s8",
                  "-Dtk_depthwise_conv2d_s8=tk_portable_depthwise_conv2d_s8",
                  "-Dtk_depthwise_conv2d_lut_s8=tk_portable_depthwise_conv2d_lut_s8"]


def conv_check_folder(folder: Path, target: str = "host") -> list[tuple[str, list[str]]]:
    """A bundle of one int8 convolution for the target in `folder`, with the other
    convolution kernels' sources beside it (depthwise_conv_s8.c, unpacked_s8.c), for a
    check.c with CONV_AGAINST_PORTABLE: returns the sources to build with it (each with its
    extra flags)."""
    from tests.test_codegen_int8_nn import conv_graph  # (it imports this module)

    graph = conv_graph("CONV_2D", (1, 3, 4, 5), (6, 1, 1, 5), window("VALID"), quant(0.03, -7))
    generate_bundle(graph, str(folder), "net", target=target)
    for kernel in ("depthwise_conv_s8.c", "unpacked_s8.c"):
        shutil.copy(KERNELS / kernel, folder)
    return [("conv_s8.c", []), ("depthwise_conv_s8.c", []), ("unpacked_s8.c", []), ("conv_s8.c", PORTABLE_BUILD),
            ("depthwise_conv_s8.c", PORTABLE_BUILD), ("common.c", [])]
