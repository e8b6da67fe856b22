"""What a bundle costs on a Cortex-M target, measured with the cross compiler: flash and RAM.

The bundle's sources (not main.c, not the startup) are compiled for the core and linked with
`--gc-sections` from NAME_invoke alone, so that only the code an invoke can reach counts, as
in a firmware image. The linker's map attributes every kept input section to its object:
NAME_weights.o holds the weights and the tables worked out from the model; the others, the
kernels and the op sequence; archive members, the C library's memcpy and memset, libm and the
compiler's runtime. RAM: the arena and the state (the memory plan's), and the worst-case
stack of an invoke, the deepest path of `-fcallgraph-info=su`'s call graph from NAME_invoke
with each function's `-fstack-usage` frame.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass

from ..errors import TocoError
from .mcu import CC, OBJDUMP, SIZE, McuTarget

BUILD_TIMEOUT = 900
# An input section of the link map: " NAME ADDRESS SIZE FILE", or " NAME" alone on its line
# with the rest on the next; and the linker's padding, " *fill* ADDRESS SIZE".
_MAP_INPUT = re.compile(r"^ (\.\S+)?\s*(?:0x[0-9a-f]+\s+0x([0-9a-f]+) (\S.*))?$")
_MAP_FILL = re.compile(r"^ \*fill\*\s+0x[0-9a-f]+\s+0x([0-9a-f]+)")
_FLASH_SECTIONS = (".text", ".rodata", ".data", ".ARM.exidx", ".ARM.extab")
_CI_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "[^"\\]*\\n([^:"]+):[^"]*?(?:\\n(\d+) bytes \(([^)]*)\))?"')
_CI_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


@dataclass
class Footprint:
    target: str
    opt: str
    code: int          # bytes of flash: kernels and op sequence an invoke reaches
    weights: int       # bytes of flash: NAME_weights.c (weights, multipliers, tables)
    library: int       # bytes of flash: memcpy, memset, libm and the compiler's runtime
    arena: int
    state: int
    stack: int | None  # worst case of an invoke, None when unbounded (recursion, dynamic frames)
    external: list[str]  # functions called whose frames are not counted (the C library's)
    fill: int = 0      # bytes of flash: the linker's alignment padding
    image: int = 0     # text + data of the linked image, by arm-none-eabi-size

    def summary(self) -> str:
        stack = "unbounded" if self.stack is None else f"{self.stack}"
        external = f" + {', '.join(self.external)}" if self.external else ""
        return (f"{self.target} (arm-none-eabi-gcc {self.opt}): flash {self.code} bytes of code, "
                f"{self.weights} of weights and tables, {self.library} of libc/libm; RAM: arena "
                f"{self.arena}, state {self.state}, stack {stack}{external}")

    def readme(self) -> str:
        rows = [("flash: kernels and op sequence (text + rodata)", self.code),
                ("flash: weights and tables (`*_weights.c`)", self.weights),
                ("flash: memcpy, memset, libm, compiler runtime", self.library),
                ("RAM: arena (`.bss`)", self.arena), ("RAM: state", self.state),
                ("RAM: stack of an invoke, worst case", "unbounded" if self.stack is None else self.stack)]
        lines = [f"### Footprint on a {self.target}", "",
                 f"Measured by `toco-py codegen` with arm-none-eabi-gcc {self.opt}: the bundle linked with "
                 "`--gc-sections` from the invoke function (what an invoke can reach), sizes from the "
                 "link map; the stack from `-fstack-usage` frames over `-fcallgraph-info` call graph"
                 + (f", not counting the frames of {', '.join(self.external)}" if self.external else "") + ".",
                 "", "| | bytes |", "|---|---:|"]
        lines += [f"| {what} | {value} |" for what, value in rows]
        return "\n".join(lines) + "\n"


def measure(bundle_dir: str, name: str, sources: list[str], mcu: McuTarget, arena: int, state: int,
            opt: str = "-O2") -> Footprint:
    """Compiles and links the bundle in bundle_dir (its C files `sources`, main.c excluded)
    for the target in a temporary folder, and measures it."""
    from .api_files import CFLAGS

    cpu = mcu.cpu_flags.split()
    bundle_dir = os.path.abspath(bundle_dir)  # the compiler runs in the temporary folder
    with tempfile.TemporaryDirectory(prefix="toco-footprint-") as folder:
        objects = []
        for source in sources:
            obj = os.path.join(folder, source[:-2] + ".o")
            _run([CC, *CFLAGS.split(), *cpu, *opt.split(), "-ffunction-sections", "-fdata-sections",
                  "-fstack-usage", "-fcallgraph-info=su", "-I", bundle_dir, "-c", os.path.join(bundle_dir, source),
                  "-o", obj], folder)
            objects.append(obj)
        map_file, elf = os.path.join(folder, "footprint.map"), os.path.join(folder, "footprint.elf")
        _run([CC, *cpu, "--specs=nano.specs", "-nostartfiles", "-Wl,--gc-sections", f"-Wl,-e,{name}_invoke",
              f"-Wl,-Map={map_file}", *objects, "-lm", "-o", elf], folder)
        with open(map_file, encoding="utf-8") as f:
            code, weights, library, fill = flash_bytes(f.read(), f"{name}_weights.o")
        sizes = subprocess.run([SIZE, "-B", elf], capture_output=True, text=True, check=True).stdout
        text, data = (int(v) for v in sizes.splitlines()[-1].split()[:2])
        graphs = []
        for obj in objects:
            with open(obj[:-2] + ".ci", encoding="utf-8") as f:
                graphs.append(f.read())
        disassembly = subprocess.run([OBJDUMP, "-d", "--no-show-raw-insn", elf], capture_output=True, text=True,
                                     check=True).stdout
    stack, external = worst_stack(graphs, f"{name}_invoke", library_stacks(disassembly))
    return Footprint(mcu.name, opt, code, weights, library, arena, state, stack, external, fill, text + data)


def _run(command: list[str], cwd: str) -> None:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise TocoError(f"measuring the footprint: {command[0]} took over {BUILD_TIMEOUT} s") from None
    if done.returncode:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise TocoError(f"measuring the footprint: {command[0]} exit code {done.returncode}:\n{tail}")


def flash_bytes(link_map: str, weights_object: str) -> tuple[int, int, int, int]:
    """(code, weights, library, fill) bytes of the flash sections the link kept, by where
    they came from: the weights object, the bundle's other objects, an archive's member, or
    the linker's alignment padding between them."""
    kept = link_map.split("Linker script and memory map", 1)[-1]
    code = weights = library = fill = 0
    output = ""
    pending = None  # an input section whose name filled its line
    for line in kept.splitlines():
        if line.startswith("."):
            output, pending = line.split()[0], None
            continue
        if not output.startswith(_FLASH_SECTIONS):
            continue
        padding = _MAP_FILL.match(line)
        if padding:
            fill += int(padding.group(1), 16)
            continue
        entry = _MAP_INPUT.match(line)
        if entry and entry.group(1) and entry.group(2) is None:
            pending = entry.group(1)
            continue
        if entry and (entry.group(1) or pending) and entry.group(2) is not None:
            size, source = int(entry.group(2), 16), os.path.basename(entry.group(3).strip())
            pending = None
            if ".a(" in entry.group(3):
                library += size
            elif source == weights_object:
                weights += size
            else:
                code += size
    return code, weights, library, fill


_FUNCTION = re.compile(r"^[0-9a-f]+ <([^>]+)>:$")
_PUSH = re.compile(r"^\s+[0-9a-f]+:\s+(v?push)(?:\.w)?\s+\{([^}]*)\}")
_SUB_SP = re.compile(r"^\s+[0-9a-f]+:\s+sub(?:\.w|w)?\s+sp, (?:sp, )?#(\d+)")
_CALL = re.compile(r"^\s+[0-9a-f]+:\s+(?:bl|blx|b|b\.w|b\.n)\s+[0-9a-f]+ <([^>+]+)>")


def _registers(listing: str) -> int:
    """How many registers a push lists ("r4, r5, lr", "d8-d11")."""
    count = 0
    for item in listing.split(","):
        first, _, last = item.strip().partition("-")
        count += int(last[1:]) - int(first[1:]) + 1 if last else 1
    return count


def library_stacks(disassembly: str) -> dict[str, int | None]:
    """The deepest stack of each function of a linked image from its disassembly (objdump
    -d): the pushes and `sub sp` anywhere in it (an upper bound, whatever path runs) plus its
    deepest callee's (bl, and b to another function); None through recursion. For the C
    library's functions, whose frames -fstack-usage never saw."""
    frames: dict[str, int] = {}
    callees: dict[str, set[str]] = {}
    current = None
    for line in disassembly.splitlines():
        header = _FUNCTION.match(line)
        if header:
            current = header.group(1)
            frames[current], callees[current] = 0, set()
            continue
        if current is None:
            continue
        push = _PUSH.match(line)
        if push:
            width = 8 if push.group(1) == "vpush" and "d" in push.group(2) else 4
            frames[current] += width * _registers(push.group(2))
        sub = _SUB_SP.match(line)
        if sub:
            frames[current] += int(sub.group(1))
        call = _CALL.match(line)
        if call and call.group(1) != current:
            callees[current].add(call.group(1))
    depth: dict[str, int | None] = {}

    def deepest(name: str, path: frozenset) -> int | None:
        if name in depth:
            return depth[name]
        if name in path:
            return None
        below = [deepest(c, path | {name}) for c in callees.get(name, ()) if c in frames]
        depth[name] = None if None in below else frames[name] + max(below, default=0)
        return depth[name]

    return {name: deepest(name, frozenset()) for name in frames}


def worst_stack(call_graphs: list[str], entry: str,
                library: dict[str, int | None]) -> tuple[int | None, list[str]]:
    """The deepest stack from entry through the call graphs of -fcallgraph-info=su (one per
    object): the sum of the frames along the worst path, None if a path recurses or a frame
    is dynamic without bound. A function no object defines takes its stack from `library`
    (library_stacks); those found nowhere are returned (their frames are not counted). A
    static function's name is looked up in its own object first."""
    frames: dict[tuple[int, str], int | None] = {}
    defined: dict[str, list[int]] = {}
    edges: dict[tuple[int, str], list[str]] = {}
    for k, text in enumerate(call_graphs):
        for title, _file, size, kind in _CI_NODE.findall(text):
            if size:
                frames[(k, title)] = None if kind.startswith("dynamic") and "bounded" not in kind else int(size)
                defined.setdefault(title, []).append(k)
        for source, target in _CI_EDGE.findall(text):
            edges.setdefault((k, source), []).append(target)
    external: set[str] = set()
    depth: dict[tuple[int, str], int | None] = {}
    on_path: set[tuple[int, str]] = set()

    def resolve(k: int, title: str) -> list[tuple[int, str]]:
        if (k, title) in frames:
            return [(k, title)]
        return [(other, title) for other in defined.get(title, [])]

    def deepest(node: tuple[int, str]) -> int | None:
        if node in depth:
            return depth[node]
        if node in on_path:
            return None  # recursion
        on_path.add(node)
        worst: int | None = 0
        for target in edges.get(node, []):
            callees = resolve(node[0], target)
            if not callees:
                if target in library:
                    below = library[target]
                    worst = None if below is None or worst is None else max(worst, below)
                else:
                    external.add(target)
            for callee in callees:
                below = deepest(callee)
                worst = None if below is None or worst is None else max(worst, below)
        on_path.discard(node)
        frame = frames[node]
        depth[node] = None if worst is None or frame is None else frame + worst
        return depth[node]

    roots = resolve(-1, entry)
    if not roots:
        raise TocoError(f"measuring the footprint: no call graph defines {entry}")
    return deepest(roots[0]), sorted(external)
