"""Generating a bundle on disk: from a .tflite file or an IR graph, written only whole."""
from __future__ import annotations

import os
import re
import shutil
import tempfile

from ..errors import TocoError
from ..ir import Graph
from ..passes.densify import absorb_densify
from .emitter import Bundle, default_name, generate
from .mcu import HOST, add_target_files
from .mcu import target as mcu_target
from .model_bundle import generate_model
from .model_plan import is_model


def generate_bundle(graph: Graph, out_dir: str, name: str, source: str = "", target: str = HOST,
                    arena_section: str | None = None) -> Bundle:
    """Renders every file first (any error leaves the disk untouched), then writes them. A
    model of several subgraphs, or with variables, goes through model_bundle.py. A DENSIFY
    of a sparse constant becomes that constant: the bundle stores it dense (no C kernel reads
    TFLite's sparse format). target: a Cortex-M core (mcu.TARGETS) gets the Makefile, linker
    script and startup file of a test program for its QEMU board; arena_section: the linker
    section the arena goes to."""
    mcu = mcu_target(target)
    if arena_section is not None and not SECTION_NAME.fullmatch(arena_section):
        raise TocoError(f"--arena_section {arena_section!r}: give a linker section name (letters, digits "
                        "and ._$, such as .sram2)")
    for g in graph.subgraphs or [graph]:
        absorb_densify(g)
    bundle = (generate_model if is_model(graph) else generate)(graph, name, source)
    if arena_section is not None:
        place_arena(bundle, arena_section)
    if mcu is not None:
        add_target_files(bundle, graph, mcu, arena_section)
    write_bundle(bundle, out_dir)
    return bundle


SECTION_NAME = re.compile(r"[A-Za-z0-9._$]+")


def place_arena(bundle: Bundle, section: str) -> None:
    """NAME.h defines NAME_ARENA_SECTION, which NAME.c's arena takes as its section."""
    header = bundle.files[f"{bundle.name}.h"]
    size = f"#define {bundle.name.upper()}_ARENA_SIZE "
    if size not in header:
        raise AssertionError(f"{bundle.name}.h lost its {size.strip()} line")
    at = header.index("\n", header.index(size)) + 1
    define = (f"/* The linker section of the arena (codegen --arena_section). */\n"
              f'#define {bundle.name.upper()}_ARENA_SECTION "{section}"\n')
    bundle.files[f"{bundle.name}.h"] = header[:at] + define + header[at:]


def generate_file(model_path: str, out_dir: str, name: str | None = None) -> Bundle:
    from ..tensor_io import load_tflite

    graph, _ = load_tflite(model_path)
    return generate_bundle(graph, out_dir, file_bundle_name(model_path, name),
                           os.path.basename(model_path))


def file_bundle_name(model_path: str, name: str | None = None) -> str:
    """--name, or the model file's name made a C identifier."""
    return name or default_name(os.path.splitext(os.path.basename(model_path))[0])


def write_bundle(bundle: Bundle, out_dir: str) -> None:
    """A new directory appears whole (written beside it, then renamed). Into an existing
    one, each file is replaced atomically and other files are left alone, so that pointing
    -o at a folder that holds other things never deletes them."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise TocoError(f"{out_dir} exists and is not a directory")
    if os.path.isdir(out_dir):
        for file_name, text in bundle.files.items():
            write_atomic(os.path.join(out_dir, file_name), text)
        return
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".codegen-", dir=parent)
    try:
        for file_name, text in bundle.files.items():
            with open(os.path.join(staging, file_name), "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
        os.chmod(staging, 0o777 & ~_umask())
        os.rename(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_atomic(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".codegen-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
