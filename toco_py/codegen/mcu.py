"""Cortex-M targets of `codegen --target`: the compiler flags of each core, the QEMU board a
test program runs on, and the files that turn a bundle into that program (a Makefile for
arm-none-eabi-gcc, a linker script of the board's memory, a startup file).

The test program is the bundle's own main.c: newlib's semihosting (librdimon) gives it the
host's files and its command line, so it reads the inputs and writes the outputs as on the
host. Under `qemu-system-arm -icount shift=0` each instruction takes 1 ns of virtual time,
so SysTick, clocked from the core at the board's frequency, counts instructions: main.c
reports them per invoke. The boards' memory (QEMU hw/arm/mps2.c, mps2-tz.c; read off QEMU
7.2's `info mtree`): code and weights go to the board's largest memory, 16 MB or more, so
that the weights of any model fit; data, the arena and the stack to a 4 MB SRAM.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..errors import TocoError
from .target_names import CORTEX_M, HOST, TARGET_NAMES

MIB = 1 << 20
CC = "arm-none-eabi-gcc"
OBJDUMP = "arm-none-eabi-objdump"
SIZE = "arm-none-eabi-size"
QEMU = "qemu-system-arm"
INSTALL_HINT = ("install them with `apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi "
                "qemu-system-arm` (Debian, Ubuntu)")
# Stack of the test program: main.c's and the kernels' frames (the footprint report gives
# the worst case through the call graph).
STACK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Region:
    origin: int
    length: int


@dataclass(frozen=True)
class McuTarget:
    name: str
    cpu_flags: str     # -mcpu, -mthumb and the floating-point unit QEMU models for the core
    machine: str       # qemu-system-arm -M
    vectors: Region    # where the core reads its vector table at reset
    code: Region       # text and read-only data: kernels and weights
    ram: Region        # data, bss (the arena), heap and stack
    systick_hz: int    # the core clock QEMU gives SysTick on the board

    def instructions_per_tick(self) -> float:
        return 1e9 / self.systick_hz


TARGETS = {t.name: t for t in (
    # AN386: the M4 with its single-precision FPU; PSRAM at 0x21000000 (mps2.c's psram_base).
    McuTarget("cortex-m4", "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard", "mps2-an386",
              Region(0x00000000, 4 * MIB), Region(0x21000000, 16 * MIB), Region(0x20000000, 4 * MIB),
              25_000_000),
    # AN500: QEMU's M7 has the double-precision FPU.
    McuTarget("cortex-m7", "-mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard", "mps2-an500",
              Region(0x00000000, 4 * MIB), Region(0x60000000, 16 * MIB), Region(0x20000000, 4 * MIB),
              25_000_000),
    # AN505: the M33 boots Secure from 0x10000000; with the SAU off every address is Secure.
    McuTarget("cortex-m33", "-mcpu=cortex-m33 -mthumb -mfpu=fpv5-sp-d16 -mfloat-abi=hard", "mps2-an505",
              Region(0x10000000, 4 * MIB), Region(0x80000000, 16 * MIB), Region(0x38000000, 4 * MIB),
              20_000_000),
    # AN547: the M55 (MVE with float), vector table in its ITCM, code in DDR.
    McuTarget("cortex-m55", "-mcpu=cortex-m55 -mthumb -mfloat-abi=hard", "mps3-an547",
              Region(0x10000000, 512 * 1024), Region(0x70000000, 256 * MIB), Region(0x31000000, 4 * MIB),
              32_000_000),
)}
assert tuple(TARGETS) == CORTEX_M, "target_names.py and TARGETS list the same cores"


def target(name: str) -> McuTarget | None:
    """The Cortex-M target by name; None for the host."""
    if name == HOST:
        return None
    if name not in TARGETS:
        raise TocoError(f"--target {name}: give one of {', '.join(TARGET_NAMES)}")
    return TARGETS[name]


def missing_tools(build_only: bool = False) -> list[str]:
    """The programs a Cortex-M bundle needs to build (and run, unless build_only) that are
    not on PATH."""
    import shutil  # here: the CLI imports this module at start-up

    tools = (CC, OBJDUMP, SIZE) if build_only else (CC, OBJDUMP, SIZE, QEMU)
    return [t for t in tools if shutil.which(t) is None]


def require_tools(build_only: bool = False) -> None:
    missing = missing_tools(build_only)
    if missing:
        raise TocoError(f"{' and '.join(missing)} not found: {INSTALL_HINT}")


def _template(file_name: str) -> str:
    from importlib import resources  # here: the CLI imports this module at start-up

    return (resources.files("toco_py.codegen") / "templates" / file_name).read_text(encoding="utf-8")


def _hex(value: int) -> str:
    return f"0x{value:08X}"


def target_files(mcu: McuTarget, name: str, sources: list[str], headers: list[str], cflags: str,
                 arena_section: str | None = None) -> dict[str, str]:
    """The files that make the bundle a test program for the target's board: the Makefile
    (replacing the host's), the linker script (the arena's own section, if any, in RAM with
    .bss) and the startup file."""
    values = {
        "ARENA_INPUT": f" *({arena_section})" if arena_section else "",
        "NAME": name, "TARGET": mcu.name, "MACHINE": mcu.machine, "CPU_FLAGS": mcu.cpu_flags,
        "CFLAGS": cflags, "SOURCES": " ".join(sources), "HEADERS": " ".join(headers),
        "SYSTICK_HZ": str(mcu.systick_hz),
    }
    memory = {"VEC": mcu.vectors, "CODE": mcu.code, "RAM": mcu.ram}
    for region, r in memory.items():
        values[f"{region}_ORIGIN"], values[f"{region}_LENGTH"] = _hex(r.origin), _hex(r.length)
    values["STACK_BYTES"] = _hex(STACK_BYTES)
    files = {}
    for file_name, template in (("Makefile", "Makefile.mcu.in"), (f"{name}.ld", "mcu.ld.in"),
                                ("mcu_startup.c", "mcu_startup.c")):
        text = _template(template)
        for key, value in values.items():
            text = text.replace(f"@{key}@", value)
        files[file_name] = text
    return files


def add_target_files(bundle, graph, mcu: McuTarget, arena_section: str | None = None) -> None:
    """The bundle (emitter.Bundle of graph) as the target's test program: its Makefile
    replaced, the linker script and startup file added, and its README's build section
    saying how to build and run it and what a firmware project takes."""
    from .api_files import CFLAGS, host_build_section, usage

    bundle.files.update(target_files(mcu, bundle.name, bundle.sources, bundle.headers, CFLAGS, arena_section))
    host = host_build_section(bundle.name, graph)
    readme = bundle.files["README.md"]
    if host not in readme:
        raise AssertionError("the bundle's README lost its build section")
    section = _template("README.mcu.md.in")
    for key, value in (("NAME_UPPER", bundle.name.upper()), ("NAME", bundle.name), ("TARGET", mcu.name),
                       ("MACHINE", mcu.machine), ("CPU_FLAGS", mcu.cpu_flags), ("USAGE", usage(graph).strip()),
                       ("CFLAGS", CFLAGS), ("TICK", f"{mcu.instructions_per_tick():g}")):
        section = section.replace(f"@{key}@", value)
    bundle.files["README.md"] = readme.replace(host, section)


def qemu_command(mcu: McuTarget, elf: str, args: list[str]) -> list[str]:
    """qemu-system-arm running the test program on the target's board: quiet, counting
    instructions, the program's arguments and files through semihosting (paths relative to
    the working directory; none may hold a space or a comma)."""
    for a in args:
        if re.search(r"[\s,]", a):
            raise TocoError(f"{a!r}: a semihosting argument cannot hold spaces or commas")
    semihosting = ",".join(["enable=on", "target=native", f"arg={os.path.basename(elf)}", *(f"arg={a}" for a in args)])
    return [QEMU, "-M", mcu.machine, "-nographic", "-monitor", "none", "-serial", "null", "-icount", "shift=0",
            "-semihosting-config", semihosting, "-kernel", elf]


INVOKE_LINE = re.compile(r"^invoke (\d+): (\d+) instructions, (\d+) bytes of stack$", re.M)


def invoke_counts(stderr: str) -> list[tuple[int, int]]:
    """(instructions, bytes of stack) of each invoke, as main.c reports them on a Cortex-M
    target."""
    return [(int(m.group(2)), int(m.group(3))) for m in INVOKE_LINE.finditer(stderr)]
