"""The x86-64 AVX2 path of the int8 1x1 convolution (kernels/toco_kernels_x86.h) against the
portable kernel the other tests hold to the interpreter: its requantization and whole
convolutions of random shapes, parameters and data, compiled from the bundle's own sources."""
from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.support.codegen_check import check_bundle
from tests.support.kernel_check import quant
from tests.test_codegen_int8_nn import conv_graph, window
from toco_py.codegen.bundle import generate_bundle


def _has_avx2() -> bool:
    if platform.machine() != "x86_64":
        return False
    try:
        return " avx2" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _has_avx2(), reason="the AVX2 path runs only on an x86-64 CPU with AVX2")

CHECK = r"""
#include <stdio.h>
#include <stdlib.h>
#include "toco_kernels.h"
#include "toco_kernels_x86.h"

static uint32_t state = 2463534242u;
static uint32_t next(void)
{
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

static int32_t between(int32_t lo, int32_t hi) { return lo + (int32_t)(next() % (uint32_t)(hi - lo + 1)); }

/* Edges, anything, and sums of a few products with a multiplier of 1/2 or the usual ones in
 * [2^30, 2^31) and small right shifts, where rounding ties are frequent. */
TK_X86_AVX2 static long requantizations(long cases)
{
    static const uint32_t edges[] = {0u, 1u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu, 0x40000000u, 0xC0000000u};
    long mismatches = 0, n;
    int j;
    for (n = 0; n < cases; ++n) {
        int32_t acc[8], multiplier[8], shift[8], got[8];
        int mode = n < 49 ? 0 : (int)(n % 4);
        int32_t zero = between(-128, 127), low = between(-128, 0), high = between(low, 127);
        for (j = 0; j < 8; ++j) {
            acc[j] = (int32_t)(mode == 0 ? edges[(n + j) % 7] : mode == 1 ? next() : (uint32_t)between(-32768, 32767));
            multiplier[j] = mode == 0 ? (int32_t)edges[(n / 7 + j) % 7] : mode == 1 ? (int32_t)next()
                          : mode == 2 ? 0x40000000 : (int32_t)((next() | 0x40000000u) & 0x7FFFFFFFu);
            shift[j] = mode >= 2 ? -between(0, 12) : between(-31, 31);
        }
        _mm256_storeu_si256((__m256i *)(void *)got,
                            tk_x86_requantize8(_mm256_loadu_si256((const __m256i *)(const void *)acc),
                                               _mm256_loadu_si256((const __m256i *)(const void *)multiplier),
                                               _mm256_loadu_si256((const __m256i *)(const void *)shift),
                                               _mm256_set1_epi32(zero), _mm256_set1_epi32(low),
                                               _mm256_set1_epi32(high)));
        for (j = 0; j < 8; ++j) {
            if (got[j] != tk_s8a_requantize((uint32_t)acc[j], multiplier[j], shift[j], zero, low, high)
                && ++mismatches < 5) {
                fprintf(stderr, "acc %ld multiplier %ld shift %ld\n", (long)acc[j], (long)multiplier[j],
                        (long)shift[j]);
            }
        }
    }
    return mismatches;
}

/* Random 1x1 convolutions: odd and even depths, partial last blocks, partial last tiles of
 * pixels, strides, batches, bias or none, the usual multipliers or any, shifts in [-31, 31]. */
static long convolutions(int cases)
{
    long mismatches = 0;
    int n;
    for (n = 0; n < cases; ++n) {
        int32_t in[4] = {between(1, 2), between(1, 9), between(1, 9), between(1, 70)};
        int32_t out_channels = between(1, 40), blocks = (out_channels + 15) / 16;
        int stride_h = between(1, 3), stride_w = between(1, 3);
        int32_t od[4] = {in[0], (in[1] - 1) / stride_h + 1, (in[2] - 1) / stride_w + 1, out_channels};
        int32_t fd[4] = {out_channels, 1, 1, in[3]};
        size_t inputs = (size_t)in[0] * in[1] * in[2] * in[3], outputs = (size_t)od[0] * od[1] * od[2] * od[3];
        size_t weights = (size_t)blocks * 16 * (size_t)in[3], i;
        int8_t *x = malloc(inputs), *w = calloc(weights, 1), *shifts = malloc((size_t)out_channels);
        int8_t *want = malloc(outputs), *got = malloc(outputs);
        int32_t *bias = malloc(sizeof(int32_t) * (size_t)out_channels);
        int32_t *multipliers = malloc(sizeof(int32_t) * (size_t)out_channels), c, t;
        int32_t input_zero = between(-128, 127), output_zero = between(-128, 127);
        int32_t low = between(-128, 0), high = between(low, 127);
        int with_bias = n % 3 != 0, usual = n % 4 != 0;
        for (i = 0; i < inputs; ++i) x[i] = (int8_t)between(-128, 127);
        for (c = 0; c < out_channels; ++c) {
            for (t = 0; t < in[3]; ++t) w[((size_t)(c / 16) * (size_t)in[3] + (size_t)t) * 16 + (size_t)(c % 16)]
                = (int8_t)between(-127, 127);
            bias[c] = between(-40000, 40000);
            multipliers[c] = usual ? (int32_t)((next() | 0x40000000u) & 0x7FFFFFFFu) : (int32_t)next();
            shifts[c] = (int8_t)(usual ? between(-14, 0) : between(-31, 31));
        }
        tk_conv2d_s8(x, in, input_zero, w, fd, with_bias ? bias : NULL, want, od, stride_h, stride_w, 1, 1, 0, 0,
                     multipliers, shifts, output_zero, low, high);
        tk_x86_conv1x1_s8(x, in, input_zero, w, with_bias ? bias : NULL, got, od, stride_h, stride_w,
                          multipliers, shifts, output_zero, low, high);
        for (i = 0; i < outputs; ++i) {
            if (want[i] != got[i] && ++mismatches < 5) {
                fprintf(stderr, "case %d element %lu: %d against %d\n", n, (unsigned long)i, got[i], want[i]);
            }
        }
        free(x); free(w); free(shifts); free(want); free(got); free(bias); free(multipliers);
    }
    return mismatches;
}

int main(void)
{
    if (!tk_x86_has_avx2()) {
        printf("no AVX2\n");
        return 1;
    }
    printf("%ld %ld mismatches\n", requantizations(400000), convolutions(3000));
    return 0;
}
"""


def test_avx2_path_equals_the_portable_kernel(tmp_path):
    """tk_x86_requantize8 against tk_s8a_requantize on 400,000 x 8 cases (the edge values,
    anything, and frequent rounding ties), and tk_x86_conv1x1_s8 against tk_conv2d_s8 built
    with -DTK_PORTABLE on 3,000 random 1x1 convolutions."""
    graph = conv_graph("CONV_2D", (1, 3, 4, 5), (6, 1, 1, 5), window("VALID"), quant(0.03, -7))
    folder = tmp_path / "c"
    generate_bundle(graph, str(folder), "net")
    (folder / "check.c").write_text(CHECK)
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]
    for source, extra in (("conv_s8.c", ["-DTK_PORTABLE"]), ("common.c", []), ("check.c", [])):
        subprocess.run(["cc", *flags, *extra, "-c", source], cwd=folder, check=True)
    subprocess.run(["cc", "conv_s8.o", "common.o", "check.o", "-o", "check"], cwd=folder, check=True)
    done = subprocess.run(["./check"], cwd=folder, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "0 0 mismatches", done.stdout + done.stderr


@pytest.mark.parametrize("extra", ["", "-DTK_PORTABLE"])
def test_1x1_network_layers_match_the_interpreter_either_way(extra, tmp_path):
    """Bundles of 1x1 convolutions as MobileNetV2 has them (expansion, projection, the last
    1280-channel one's shape cut down), with the AVX2 path and without, under the sanitizers."""
    rng = np.random.default_rng(0)
    for k, (x_shape, w_shape) in enumerate((((1, 9, 7, 24), (144, 1, 1, 24)), ((1, 5, 5, 96), (24, 1, 1, 96)),
                                             ((1, 3, 3, 320), (70, 1, 1, 320)))):
        in_q = quant(float(rng.uniform(0.01, 0.1)), int(rng.integers(-128, 128)))
        graph = conv_graph("CONV_2D", x_shape, w_shape, window("VALID", act="RELU6"), in_q)
        check_bundle(graph, tmp_path / str(k), name="net", opt="-O1 -g", more_seeds=range(1, 3),
                     extra_cflags=f"-fsanitize=address,undefined -fno-sanitize-recover=all {extra}")
