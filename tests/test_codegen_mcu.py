"""C bundles on Cortex-M targets (`codegen --target`): cross-compiled with arm-none-eabi-gcc
and newlib's semihosting, run under qemu-system-arm on each core's board, and compared with
the reference interpreter (int8 bit for bit, float by the tolerance policy), as on the host.
Needs Debian's gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm (.ci/run
installs them); without them these tests are skipped, saying how to install them."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests import test_codegen_int8_nn as int8_nn
from tests.support.cli import toco
from tests.support.codegen_check import C_RANDOM, CONV_AGAINST_PORTABLE, check_bundle, conv_check_folder, one_op
from tests.support.kernel_check import window
from tests.test_codegen_int8_nn import INT8_NETWORKS, int8_model, litert_outputs
from toco_py.codegen import footprint, mcu, tiling
from toco_py.codegen.bundle import generate_bundle
from toco_py.codegen.verify import build, run_bundle
from toco_py.errors import TocoError
from toco_py.interpreter import Interpreter
from toco_py.tensor_io import random_inputs
from toco_py.tflite.reader import read_model
from toco_py.tflite.writer import model_bytes

pytestmark = pytest.mark.skipif(bool(mcu.missing_tools()), reason=(
    f"{', '.join(mcu.missing_tools())} not found: {mcu.INSTALL_HINT}"))

EXAMPLES = Path(__file__).parent.parent / "examples" / "models"
TARGETS = sorted(mcu.TARGETS)
# The cores the issue asks to run everything on: the M4 (DSP, single-precision FPU) and
# the M55 (Helium); the M7 and M33 run the kernel chain.
MAIN_TARGETS = ("cortex-m4", "cortex-m55")


def int8_chain():
    """test_codegen_int8_nn's chain of 30 int8 kernels, on data of a fixed seed (its module
    reseeds its generator per test)."""
    int8_nn.rng = np.random.default_rng(18)
    return int8_nn.chain_graph()


# An interrupt taken at the deepest point of an invoke stacks its exception frame there, with
# the FP context 26 words (ARMv7-M ARM B1.5.7); SysTick's handler, a leaf, pushes nothing more.
EXCEPTION_FRAME = 26 * 4


def check_footprint(graph, folder, name: str, target: str, report) -> footprint.Footprint:
    """The footprint codegen reports, against the linked image and the run: its flash bytes
    are the image's sections less the linker's alignment fill, and its worst-case stack
    holds the stack the invoke wrote under QEMU."""
    bundle = generate_bundle(graph, str(folder / "fp"), name, target=target)
    sources = [s for s in bundle.sources if s != "main.c"]
    measured = footprint.measure(str(folder / "fp"), name, sources, mcu.TARGETS[target],
                                 bundle.plan.arena_size, bundle.state_size)
    assert measured.stack is not None and not measured.external, measured
    assert report.stack and max(report.stack) <= measured.stack + EXCEPTION_FRAME, (report.stack, measured)
    # Not a loose bound either: the run takes the deepest kernel's path; what it does not
    # write is the library's pushes on paths not taken, counted all at once.
    assert measured.stack <= 1.5 * max(report.stack), (report.stack, measured)
    assert measured.code > 0 and measured.weights >= bundle.weight_bytes
    assert measured.code + measured.weights + measured.library + measured.fill == measured.image, measured
    print(f"{name} on the {measured.summary()}; the run wrote {max(report.stack)} bytes of stack")
    return measured


@pytest.mark.parametrize("target", TARGETS)
def test_int8_kernel_chain_bit_exact(target, tmp_path):
    graph = int8_chain()
    report = check_bundle(graph, tmp_path, name="chain", opt="-O2", target=target, more_seeds=(1,))
    assert len(report.instructions) == 1 and report.instructions[0] > 1000
    check_footprint(graph, tmp_path, "chain", target, report)


def test_portable_kernels_on_a_dsp_core(tmp_path):
    """-DTK_PORTABLE turns the DSP paths off: the same results, bit for bit, in more
    instructions."""
    graph = int8_chain()
    dsp = check_bundle(graph, tmp_path / "dsp", name="chain", opt="-O2", target="cortex-m4")
    portable = check_bundle(graph, tmp_path / "portable", name="chain", opt="-O2", target="cortex-m4",
                            extra_cflags="-DTK_PORTABLE")
    assert portable.instructions[0] > dsp.instructions[0], (portable.instructions, dsp.instructions)


REQUANTIZE_CHECK = r"""
#include <stdio.h>
#include "toco_kernels.h"

""" + C_RANDOM + r"""
int main(void)
{
    static const uint32_t edges[] = {0u, 1u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu, 0x40000000u, 0xC0000000u};
    long mismatches = 0, n;
    for (n = 0; n < 400000; ++n) {
        /* Edges; anything; sums of a few products with a multiplier of 1/2 (rounding ties);
         * with the usual multipliers [2^30, 2^31) and small right shifts. */
        int mode = n < 49 ? 0 : (int)(n % 4);
        uint32_t acc = mode == 0 ? edges[n % 7] : mode == 1 ? next() : (uint32_t)((int32_t)(next() % 65536u) - 32768);
        int32_t multiplier = mode == 0 ? (int32_t)edges[n / 7 % 7] : mode == 1 ? (int32_t)next()
                             : mode == 2 ? 0x40000000 : (int32_t)((next() | 0x40000000u) & 0x7FFFFFFFu);
        int32_t shift = mode >= 2 ? -(int32_t)(next() % 13u) : (int32_t)(next() % 64u) - 32;
        int32_t zero = (int32_t)(next() % 256u) - 128;
        if (tk_dsp_requantize(acc, multiplier, shift, zero, -128, 127)
            != tk_s8a_requantize(acc, multiplier, shift, zero, -128, 127)) {
            if (++mismatches < 5) {
                fprintf(stderr, "acc %lu multiplier %ld shift %ld\n", (unsigned long)acc, (long)multiplier,
                        (long)shift);
            }
        }
    }
    printf("%ld mismatches\n", mismatches);
    return mismatches != 0;
}
"""


def run_check(target: mcu.McuTarget, folder: Path, sources: list[tuple[str, list[str]]]) -> str:
    """What check.c (with the bundle's sources, each compiled with its extra flags) prints
    on the target's board under QEMU; the folder holds a bundle generated for the target."""
    flags = [*target.cpu_flags.split(), "-O2"]
    objects = []
    for source, extra in [*sources, ("check.c", [])]:
        objects.append(f"{len(objects)}.o")
        subprocess.run([mcu.CC, *flags, "-std=c99", "-Wall", "-Werror", "-DTOCO_SYSTICK_HZ=1", *extra, "-c", source,
                        "-o", objects[-1]], cwd=folder, check=True)
    subprocess.run([mcu.CC, *flags, "-std=gnu99", "-DTOCO_SYSTICK_HZ=1", "-c", "mcu_startup.c"], cwd=folder, check=True)
    subprocess.run([mcu.CC, *flags, "--specs=nano.specs", "--specs=rdimon.specs", "-nostartfiles", "-T",
                    next(folder.glob("*.ld")).name, *objects, "mcu_startup.o", "-o", "check.elf"],
                   cwd=folder, check=True)
    done = subprocess.run(mcu.qemu_command(target, str(folder / "check.elf"), []), cwd=folder,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_dsp_requantization_equals_the_portable_one(tmp_path):
    """The convolutions' 32-bit requantization (tk_dsp_requantize) against tk_s8a_requantize,
    the one the host tests hold to the interpreter: after the edge values, 400,000 random
    accumulators, multipliers and shifts from -32 to 31 (those outside [-31, 30] fall back),
    and sums of a few products with a multiplier of 1/2 or the usual ones in [2^30, 2^31)
    and right shifts up to 12, where rounding ties are frequent; on a Cortex-M4 under QEMU."""
    target = mcu.TARGETS["cortex-m4"]
    folder = tmp_path / "c"
    generate_bundle(int8_chain(), str(folder), "chain", target=target.name)
    (folder / "check.c").write_text(REQUANTIZE_CHECK)
    assert run_check(target, folder, []) == "0 mismatches"


DSP_CONV_CHECK = '#include "toco_kernels.h"\n' + CONV_AGAINST_PORTABLE + r"""
int main(void)
{
    printf("%ld %ld mismatches\n", convolutions(1000), depthwise(1000));
    return 0;
}
"""


@pytest.mark.parametrize("target", MAIN_TARGETS)
def test_fast_convolutions_equal_the_portable_ones(target, tmp_path):
    """The convolution kernels with the core's own paths (the M4's SMLAD on four pixels'
    staged windows, the M55's Helium) against themselves built with -DTK_PORTABLE, on 1,000
    random convolutions (half of them 1x1, windows of up to 500 taps: several chunks, odd
    counts, partial blocks and pixel groups, padding, strides, dilations, batches; also through
    the kernel of filters computed at run time) and 1,000 depthwise ones, half of them writing
    their outputs with steps, under QEMU."""
    folder = tmp_path / "c"
    sources = conv_check_folder(folder, target)
    (folder / "check.c").write_text(DSP_CONV_CHECK)
    assert run_check(mcu.TARGETS[target], folder, sources) == "0 0 mismatches"


@pytest.mark.parametrize("target", MAIN_TARGETS)
def test_float_kernels_within_policy(target, tmp_path):
    rng = np.random.default_rng(5)
    graph = one_op("CONV_2D", [rng.normal(0, 1, (1, 9, 8, 5)).astype(np.float32),
                               rng.normal(0, 0.3, (7, 3, 3, 5)).astype(np.float32),
                               rng.normal(0, 0.1, 7).astype(np.float32)],
                   window("SAME", (2, 1), act="RELU6"), const={1, 2})
    check_bundle(graph, tmp_path, target=target, more_seeds=(1,))


@pytest.mark.parametrize("target", MAIN_TARGETS)
@pytest.mark.parametrize("name", sorted(INT8_NETWORKS))
def test_int8_network_bit_exact_with_litert(name, target, tmp_path):
    model = int8_model(INT8_NETWORKS[name](), tmp_path)
    graph = read_model(model).main
    report = check_bundle(graph, tmp_path, name=name, opt="-O2", target=target)
    check_footprint(graph, tmp_path, name, target, report)
    # The same program against LiteRT's reference kernels, bit for bit.
    program = build(str(tmp_path / name), name, "-O2", target=target)
    feeds = random_inputs(graph, 3)
    ours = run_bundle(program, graph, feeds)
    for output, want in litert_outputs(model, graph, feeds).items():
        np.testing.assert_array_equal(ours[output], want, err_msg=output)


def test_tiled_bundle_on_the_m4(tmp_path):
    """A patch-based bundle (--max_arena) on the M4: the model's own outputs, bit for bit, in
    the smaller arena, for the overlaps' extra instructions."""
    graph = read_model(int8_model(INT8_NETWORKS["mobilenet_v2_96"](), tmp_path)).main
    tiled, _ = tiling.choose(graph, 200_000)
    generate_bundle(tiled, str(tmp_path / "t"), "t", target="cortex-m4")
    program = build(str(tmp_path / "t"), "t", "-O2", target="cortex-m4")
    feeds = random_inputs(graph, 0)
    got, want = run_bundle(program, graph, feeds), Interpreter(graph).run(dict(feeds))
    for name in graph.outputs:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    assert program.instructions[0] > 0


@pytest.mark.parametrize("target", MAIN_TARGETS)
def test_example_model_through_the_command(target, tmp_path):
    """`toco-py codegen --target --verify` on the example digits CNN, int8, into a folder
    named relative to the working directory: passes and reports the instructions of the
    invoke."""
    model = tmp_path / "digits_int8.tflite"
    done = toco("convert", "--graph_def_file", str(EXAMPLES / "digits_cnn.pb"), "-o", str(model),
                "--quantize", "int8", "--calibration-data", str(EXAMPLES / "digits_calibration.npz"))
    assert done.returncode == 0, done.stderr
    done = toco("codegen", str(model), "-o", "c", "--name", "digits", "--target", target, "--verify", "--steps", "2",
                cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{target} under QEMU" in done.stdout
    counts = re.search(rf"instructions per invoke on the {target} \(QEMU -icount\): (\d+), (\d+)", done.stderr)
    assert counts, done.stderr
    # The same network on other inputs: the count moves only with data-dependent branches.
    first, second = int(counts.group(1)), int(counts.group(2))
    assert 0.9 < first / second < 1.1, (first, second)
    readme = (tmp_path / "c" / "README.md").read_text()
    assert f"## Build and run on a {target}" in readme and "memcpy" in readme
    assert f"### Footprint on a {target}" in readme and f"footprint on the {target}" in done.stderr


def test_arena_section_in_the_boards_ram(tmp_path):
    """--arena_section on a target: the test program's linker script places that section in
    RAM with .bss, and the bundle verifies."""
    model = tmp_path / "chain.tflite"
    model.write_bytes(model_bytes(int8_chain()))
    done = toco("codegen", str(model), "-o", str(tmp_path / "c"), "--target", "cortex-m4",
                "--arena_section", ".arena_sram", "--verify")
    assert done.returncode == 0, done.stdout + done.stderr
    table = subprocess.run(["arm-none-eabi-objdump", "-t", str(tmp_path / "c" / "chain.o")],
                           capture_output=True, text=True, check=True).stdout
    assert any(".arena_sram" in line.split() and line.split()[-1:] == ["arena"] for line in table.splitlines())
    image = subprocess.run(["arm-none-eabi-nm", str(tmp_path / "c" / "chain_run.elf")], capture_output=True,
                           text=True, check=True).stdout
    address = next(int(line.split()[0], 16) for line in image.splitlines() if line.endswith(" arena"))
    ram = mcu.TARGETS["cortex-m4"].ram
    assert ram.origin <= address < ram.origin + ram.length


def test_bundle_needs_only_memcpy_memset_and_libm(tmp_path):
    """A firmware project links the bundle with nothing of the C library but memcpy, memset
    and libm: the undefined symbols of its objects (not main.c's, not the startup's), less
    those of libm and the compiler's runtime (__aeabi_*)."""
    target = mcu.TARGETS["cortex-m4"]
    rng = np.random.default_rng(2)
    softmax = one_op("SOFTMAX", [rng.normal(0, 1, (2, 9)).astype(np.float32)], {"beta": 1.0})
    used = set()
    for name, graph in (("chain", int8_chain()), ("softmax", softmax)):
        bundle = generate_bundle(graph, str(tmp_path / name), name, target=target.name)
        build(str(tmp_path / name), name, "-O2", target=target.name)
        objects = [str(tmp_path / name / s.replace(".c", ".o")) for s in bundle.sources if s != "main.c"]
        undefined, defined = (symbols(objects, flag) for flag in ("--undefined-only", "--defined-only"))
        used |= undefined - defined
    libm = subprocess.run([mcu.CC, *target.cpu_flags.split(), "-print-file-name=libm.a"],
                          capture_output=True, text=True, check=True).stdout.strip()
    libm_symbols = symbols([libm], "--defined-only")
    extra = {s for s in used - libm_symbols - {"memcpy", "memset"} if not s.startswith("__aeabi_")}
    assert not extra, sorted(extra)
    assert used & libm_symbols, "the float softmax should call libm"


def symbols(files: list[str], flag: str) -> set[str]:
    nm = subprocess.run(["arm-none-eabi-nm", flag, *files], capture_output=True, text=True, check=True)
    return {line.split()[-1] for line in nm.stdout.splitlines() if re.match(r"^\s*[0-9a-f]*\s+[A-Za-z] \S+$", line)}


def test_semihosting_arguments_refuse_separators():
    with pytest.raises(TocoError, match="spaces or commas"):
        mcu.qemu_command(mcu.TARGETS["cortex-m4"], "m.elf", ["a,b.bin"])


def test_unknown_target_is_one_line(tmp_path):
    done = toco("codegen", str(tmp_path / "m.tflite"), "-o", str(tmp_path / "c"), "--target", "cortex-m9")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "cortex-m4" in done.stderr
