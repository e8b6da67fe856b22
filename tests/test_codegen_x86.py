"""The x86-64 AVX2 path of the int8 convolution (kernels/toco_kernels_x86.h) against the
portable kernel the other tests hold to the interpreter: its requantization and whole
convolutions of random shapes, parameters and data, compiled from the bundle's own sources."""
from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.support.codegen_check import C_RANDOM, check_bundle
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

/* conv_s8.c and depthwise_conv_s8.c built again with -DTK_PORTABLE, their kernels renamed. */
#define PORTABLE(name)                                                                                  \
    int name(const int8_t *input, const int32_t *input_dims, int32_t input_zero, const int8_t *filter,      \
             const int32_t *filter_dims, const int32_t *bias, int8_t *output, const int32_t *output_dims,   \
             int stride_h, int stride_w, int dilation_h, int dilation_w, int pad_top, int pad_left,         \
             const int32_t *multipliers, const int8_t *shifts, int32_t output_zero, int32_t act_min,        \
             int32_t act_max)
PORTABLE(tk_portable_conv2d_s8);
PORTABLE(tk_portable_depthwise_conv2d_s8);

""" + C_RANDOM + r"""
static int32_t between(int32_t lo, int32_t hi) { return lo + (int32_t)(next() % (uint32_t)(hi - lo + 1)); }

/* Edges, anything, and sums of a few products with a multiplier of 1/2 or the usual ones in
 * [2^30, 2^31) and small right shifts, where rounding ties are frequent. */
static TK_X86_AVX2 long requantizations(long cases)
{
    static const uint32_t edges[] = {0u, 1u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu, 0x40000000u, 0xC0000000u};
    long mismatches = 0, n;
    int j;
    for (n = 0; n < cases; ++n) {
        int32_t acc[8], multiplier[8], shift[8], got[8];
        int mode = n < 49 ? 0 : (int)(n % 4);
        int32_t zero = between(-128, 127), low = between(-128, 0), high = between(low, 127);
        struct tk_x86_requant q;
        for (j = 0; j < 8; ++j) {
            acc[j] = (int32_t)(mode == 0 ? edges[(n + j) % 7] : mode == 1 ? next() : (uint32_t)between(-32768, 32767));
            multiplier[j] = mode == 0 ? (int32_t)edges[(n / 7 + j) % 7] : mode == 1 ? (int32_t)next()
                          : mode == 2 ? 0x40000000 : (int32_t)((next() | 0x40000000u) & 0x7FFFFFFFu);
            shift[j] = mode >= 2 ? -between(0, 12) : between(-31, 31);
        }
        if (!tk_x86_params_fit(multiplier, (const int8_t[8]){(int8_t)shift[0], (int8_t)shift[1], (int8_t)shift[2],
                               (int8_t)shift[3], (int8_t)shift[4], (int8_t)shift[5], (int8_t)shift[6],
                               (int8_t)shift[7]}, 8)) {
            continue; /* a multiplier of INT32_MIN: the kernels take the portable path */
        }
        q = tk_x86_params(tk_x86_load8(multiplier), tk_x86_load8(shift));
        _mm256_storeu_si256((__m256i *)(void *)got,
                            tk_x86_requantize8(tk_x86_load8(acc), &q, _mm256_set1_epi32(zero), _mm256_set1_epi32(low),
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
        size_t inputs = (size_t)in[0] * in[1] * in[2] * in[3], outputs = (size_t)od[0] * od[1] * od[2] * od[3];
        size_t weights = (size_t)blocks * 16 * taps, i;
        int8_t *x = malloc(inputs), *w = calloc(weights, 1), *shifts = malloc((size_t)out_channels);
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
        tk_portable_conv2d_s8(x, in, input_zero, w, fd, with_bias ? bias : NULL, want, od, stride_h, stride_w,
                              dilation_h, dilation_w, pad_top, pad_left, multipliers, shifts, output_zero, low, high);
        tk_conv2d_s8(x, in, input_zero, w, fd, with_bias ? bias : NULL, got, od, stride_h, stride_w, dilation_h,
                     dilation_w, pad_top, pad_left, multipliers, shifts, output_zero, low, high);
        for (i = 0; i < outputs; ++i) {
            if (want[i] != got[i] && ++mismatches < 5) {
                fprintf(stderr, "case %d element %lu: %d against %d\n", n, (unsigned long)i, got[i], want[i]);
            }
        }
        free(x); free(w); free(shifts); free(want); free(got); free(bias); free(multipliers);
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
        size_t inputs = (size_t)in[0] * in[1] * in[2] * in[3], outputs = (size_t)od[0] * od[1] * od[2] * od[3];
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
        tk_portable_depthwise_conv2d_s8(x, in, input_zero, w, fd, with_bias ? bias : NULL, want, od, stride_h,
                                        stride_w, dilation_h, dilation_w, pad_top, pad_left, multipliers, shifts,
                                        output_zero, low, high);
        tk_depthwise_conv2d_s8(x, in, input_zero, w, fd, with_bias ? bias : NULL, got, od, stride_h, stride_w,
                               dilation_h, dilation_w, pad_top, pad_left, multipliers, shifts, output_zero, low, high);
        for (i = 0; i < outputs; ++i) {
            if (want[i] != got[i] && ++mismatches < 5) {
                fprintf(stderr, "depthwise case %d element %lu: %d against %d\n", n, (unsigned long)i, got[i],
                        want[i]);
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
    printf("%ld %ld %ld mismatches\n", requantizations(400000), convolutions(3000), depthwise(3000));
    return 0;
}
"""


def test_avx2_path_equals_the_portable_kernel(tmp_path):
    """tk_x86_requantize8 against tk_s8a_requantize on 400,000 x 8 cases (the edge values,
    anything, and frequent rounding ties), and the convolution kernels with the AVX2 paths against
    themselves built with -DTK_PORTABLE: 3,000 random convolutions (half of them 1x1) and 3,000
    depthwise ones."""
    graph = conv_graph("CONV_2D", (1, 3, 4, 5), (6, 1, 1, 5), window("VALID"), quant(0.03, -7))
    folder = tmp_path / "c"
    generate_bundle(graph, str(folder), "net")
    dw = conv_graph("DEPTHWISE_CONV_2D", (1, 3, 4, 5), (1, 3, 3, 5), window("SAME"), quant(0.03, -7))
    generate_bundle(dw, str(tmp_path / "dw"), "net")
    shutil.copy(tmp_path / "dw" / "depthwise_conv_s8.c", folder)
    (folder / "check.c").write_text(CHECK)
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]
    portable = ["-DTK_PORTABLE", "-Dtk_conv2d_s8=tk_portable_conv2d_s8", "-Dtk_conv2d_lut_s8=tk_portable_conv2d_lut_s8",
                "-Dtk_depthwise_conv2d_s8=tk_portable_depthwise_conv2d_s8",
                "-Dtk_depthwise_conv2d_lut_s8=tk_portable_depthwise_conv2d_lut_s8"]
    objects = []
    for source, extra in (("conv_s8.c", []), ("depthwise_conv_s8.c", []), ("conv_s8.c", portable),
                          ("depthwise_conv_s8.c", portable), ("common.c", []), ("check.c", [])):
        objects.append(f"{len(objects)}.o")
        subprocess.run(["cc", *flags, *extra, "-c", source, "-o", objects[-1]], cwd=folder, check=True)
    subprocess.run(["cc", *objects, "-o", "check"], cwd=folder, check=True)
    done = subprocess.run(["./check"], cwd=folder, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "0 0 0 mismatches", done.stdout + done.stderr


@pytest.mark.parametrize("extra", ["", "-DTK_PORTABLE"])
def test_network_layers_match_the_interpreter_either_way(extra, tmp_path):
    """Bundles of convolutions as MobileNetV2 has them (its first 3x3 stride-2 one, expansion,
    projection, the last 1280-channel one's shape cut down), with the AVX2 path and without,
    under the sanitizers."""
    rng = np.random.default_rng(0)
    for k, (x_shape, w_shape, attrs) in enumerate((
            ((1, 11, 9, 3), (32, 3, 3, 3), window("SAME", (2, 2), act="RELU6")),
            ((1, 9, 7, 24), (144, 1, 1, 24), window("VALID", act="RELU6")),
            ((1, 5, 5, 96), (24, 1, 1, 96), window("VALID")),
            ((1, 3, 3, 320), (70, 1, 1, 320), window("VALID", act="RELU6")))):
        in_q = quant(float(rng.uniform(0.01, 0.1)), int(rng.integers(-128, 128)))
        graph = conv_graph("CONV_2D", x_shape, w_shape, attrs, in_q)
        check_bundle(graph, tmp_path / str(k), name="net", opt="-O1 -g", more_seeds=range(1, 3),
                     extra_cflags=f"-fsanitize=address,undefined -fno-sanitize-recover=all {extra}")
