"""The x86-64 AVX2 path of the int8 convolution (kernels/toco_kernels_x86.h) against the
portable kernel the other tests hold to the interpreter: its requantization and whole
convolutions of random shapes, parameters and data, compiled from the bundle's own sources."""
from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.support.codegen_check import CONV_AGAINST_PORTABLE, check_bundle, conv_check_folder
from tests.support.kernel_check import quant
from tests.test_codegen_int8_nn import conv_graph, window


def _has_avx2() -> bool:
    if platform.machine() != "x86_64":
        return False
    try:
        return " avx2" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _has_avx2(), reason="the AVX2 path runs only on an x86-64 CPU with AVX2")

CHECK = r"""
#include "toco_kernels.h"
#include "toco_kernels_x86.h"
""" + CONV_AGAINST_PORTABLE + r"""
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
    themselves built with -DTK_PORTABLE: 3,000 random convolutions (half of them 1x1; also through
    the kernel of filters computed at run time) and 3,000 depthwise ones, half of them writing
    their outputs with steps."""
    folder = tmp_path / "c"
    sources = conv_check_folder(folder)
    (folder / "check.c").write_text(CHECK)
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]
    objects = []
    for source, extra in (*sources, ("check.c", [])):
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
