"""An IR graph -> the text of every file of its C bundle (nothing is written here).

The order of work is what makes a failure leave nothing behind: check the whole graph
(every op has a lowering, every tensor a static shape and a C type), plan the memory,
lower every op, and only then render. `bundle.write_bundle` puts the files on disk.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

from ..ir import Graph
from . import all_lowerings, cformat  # noqa: F401  (all_lowerings registers the lowerings)
from .api_files import (
    InfoRow,
    io_rows,
    render_header,
    render_main,
    render_makefile,
    render_readme,
)
from .constants import ConstTable
from .lowering import (
    BundleState,
    CodeBlock,
    CodegenError,
    KernelCall,
    lower_op,
    op_label,
    unsupported_ops,
)
from .planner import (
    RESOURCE,
    MemoryPlan,
    PlanError,
    arena_tensors,
    check_static_sizes,
    check_tensor,
    plan_memory,
)

KERNEL_HEADER = "toco_kernels.h"
# Kernel sources every bundle has; the families come on top, as the ops need them.
ALWAYS = ("common",)
_KERNELS = resources.files("toco_py.codegen") / "kernels"
# Names whose files would collide with the bundle's other files (every kernel file).
RESERVED_NAMES = {p.name[:-2] for p in _KERNELS.iterdir() if p.name.endswith((".c", ".h"))} | {"main"}


@dataclass
class Bundle:
    name: str
    files: dict[str, str]  # file name -> text, in a fixed order
    plan: MemoryPlan
    families: list[str]
    weight_bytes: int
    op_count: int
    state_size: int = 0  # bytes of the variables' state buffer (a model with variables)
    lut_bytes: tuple[int, int] = (0, 0)  # clustered filters: (packed, unpacked) bytes
    sources: list[str] = field(default_factory=list)  # the C files the Makefile compiles
    headers: list[str] = field(default_factory=list)


def check_name(name: str) -> str:
    if not cformat.is_identifier(name):
        raise CodegenError(f"--name {name!r} is not a C identifier (letters, digits and _, "
                           "not starting with a digit)")
    if name in RESERVED_NAMES:
        raise CodegenError(f"--name {name!r} would collide with a kernel file of the bundle; "
                           "choose another name")
    return name


def default_name(stem: str) -> str:
    name = cformat.identifier_from(stem)
    return name + "_model" if name in RESERVED_NAMES else name


def check_graph(graph: Graph) -> None:
    """Everything the generator needs, checked before any work: one line per problem kind."""
    try:
        check_static_sizes(graph)  # first: ops of run-time sizes have no C kernel either
    except PlanError as err:
        raise CodegenError(f"codegen: {err}") from None
    missing = unsupported_ops(graph)
    if missing:
        raise CodegenError(f"codegen: no C kernel for op(s) {', '.join(missing)}")
    for name in arena_tensors(graph) + [n for op in graph.ops for n in op.inputs
                                        if n and graph.tensors[n].dtype != RESOURCE]:
        try:
            check_tensor(graph, name)
        except PlanError as err:
            raise CodegenError(f"codegen: {err}") from None


def generate(graph: Graph, name: str, source: str = "") -> Bundle:
    """All files of the bundle for this graph of one subgraph and no state (a model of
    several, or with variables: model_bundle.generate_model; bundle.py chooses); raises
    CodegenError (one line) if the graph cannot be generated."""
    name = check_name(name)
    check_graph(graph)
    try:
        plan = plan_memory(graph)
    except PlanError as err:
        raise CodegenError(f"codegen: {err}") from None
    state = BundleState(graph, plan, name)
    steps = lower_all(state)
    families = step_families(steps)
    return assemble(state, render_header(name, graph, plan, source),
                    _render_source(state, steps, source), families, source, len(graph.ops))


def assemble(state: BundleState, header: str, code: str, families: list[str], source: str,
             op_count: int, state_size: int | None = None) -> Bundle:
    """The files around NAME.h and NAME.c: the weights, the kernels, main.c, the Makefile and
    the README (state: the entry subgraph's; state_size: a model's, see render_header)."""
    name, graph, plan = state.prefix, state.graph, state.plan
    weight_bytes = state.consts.weight_bytes()
    files = {f"{name}.h": header, f"{name}.c": code, f"{name}_weights.c": _render_weights(state, source)}
    kernel_files = _kernel_files(families, state.consts)
    files.update(kernel_files)
    headers = [f"{name}.h"] + [f for f in kernel_files if f.endswith(".h")]
    sources = [f"{name}.c", f"{name}_weights.c"] + [f"{f}.c" for f in (*ALWAYS, *families)]
    files["main.c"] = render_main(name, graph)
    files["Makefile"] = render_makefile(name, sources + ["main.c"], headers)
    lut_bytes = state.consts.lut_bytes()
    files["README.md"] = render_readme(name, graph, plan, source, families, weight_bytes, op_count,
                                       state_size, lut_bytes)
    return Bundle(name, files, plan, families, weight_bytes, op_count, state_size or 0, lut_bytes,
                  sources + ["main.c"], headers)


def step_families(steps: list[Step]) -> list[str]:
    return sorted({call.family for step in steps for call in step.calls if call.family})


# ---- lowering --------------------------------------------------------------------------

@dataclass
class Step:
    op_index: int  # the op whose failure a non-zero status reports (0 for the copies)
    comment: str
    calls: list[KernelCall | CodeBlock]
    tensors: list[str]  # the arena tensors the calls may touch


def lower_all(state: BundleState) -> list[Step]:
    """The copies of constant graph outputs into the arena, then every op."""
    steps = []
    for name in state.graph.outputs:
        t = state.graph.tensors[name]
        if t.is_const:
            target = f"ARENA(unsigned char, {state.plan.offsets[name]})"
            call = KernelCall("movement", "tk_copy",
                              [state.weight_symbol(name), target, str(t.data.nbytes)])
            steps.append(Step(0, f"constant output {cformat.comment_text(name)}", [call], [name]))
    for index, op in enumerate(state.graph.ops):
        touched = [n for n in dict.fromkeys(op.inputs + op.outputs) if n in state.plan.offsets]
        steps.append(Step(index, _op_comment(state.graph, index, op), lower_op(state, index, op),
                          touched))
    return steps


def _op_comment(graph: Graph, index: int, op) -> str:
    def tensor(name: str) -> str:
        t = graph.tensors[name]
        label = name if len(name) <= 48 else "..." + name[-45:]
        return f"{label} {list(t.shape or ())}" if not t.is_const else label
    ins = ", ".join(tensor(n) for n in op.inputs if n and not graph.tensors[n].is_const)
    outs = ", ".join(tensor(n) for n in op.outputs)
    return cformat.comment_text(f"{op_label(index, op)}: {ins or 'constants'} -> {outs}")


# ---- NAME.c ------------------------------------------------------------------------------

def _render_source(state: BundleState, steps: list[Step], source: str) -> str:
    name, upper = state.prefix, state.prefix.upper()
    graph, plan = state.graph, state.plan
    out = source_preamble(state, source) + arena_lines(upper, plan)
    out += placement_comment(graph, plan)
    out += io_tables(name, upper, graph, plan)
    out += _invoke_lines(name, upper, plan, steps)
    return "\n".join(out) + "\n"


def source_preamble(state: BundleState, source: str) -> list[str]:
    """NAME.c's first lines: what it is, the includes, the declarations of the const arrays."""
    name = state.prefix
    out = [f"/* {name}.c: the {describe(source)} as kernel calls, generated by toco-py.",
           " * Do not edit; regenerate the bundle instead. */",
           "#include <float.h>", "#include <math.h>", "#include <stddef.h>", "#include <stdint.h>",
           "", f'#include "{name}.h"', f'#include "{KERNEL_HEADER}"', ""]
    if state.consts.arrays:
        out.append(f"/* Weights, quantization tables and long options, in {name}_weights.c. */")
        out += [array.declaration() for array in state.consts.arrays.values()]
        out.append("")
    return out


def describe(source: str) -> str:
    return f"model {cformat.comment_text(source)}" if source else "model"


def arena_lines(upper: str, plan: MemoryPlan) -> list[str]:
    return [
        f"/* {upper}_ARENA_SECTION (codegen --arena_section, or -D{upper}_ARENA_SECTION='\"NAME\"')",
        " * puts the arena in that linker section, for a firmware's own memory map. */",
        f"#ifdef {upper}_ARENA_SECTION",
        f"#define ARENA_PLACEMENT __attribute__((section({upper}_ARENA_SECTION)))",
        "#else", "#define ARENA_PLACEMENT", "#endif",
        "/* Every activation tensor lives here, at the offset the planner gave it. A union so",
        " * that the arena has the alignment of every element type the kernels read (and 16",
        " * bytes where the compiler allows); the data is only ever reached through `bytes`. */",
        "static union {",
        f"    unsigned char bytes[{upper}_ARENA_SIZE];",
        "    float f;", "    double d;", "    int64_t i64;",
        "} arena TK_ALIGN16 ARENA_PLACEMENT;", "",
        "#define ARENA(type, offset) ((type *)(void *)(arena.bytes + (offset)))", "",
        "/* Under AddressSanitizer each call may touch only its own tensors: the rest of the",
        " * arena is poisoned around it, so a kernel straying into a neighbouring buffer is",
        " * caught at once (the arena is one object, which ASan alone would not split). */",
        "#if defined(__SANITIZE_ADDRESS__)", "#define ARENA_CHECKED 1",
        "#elif defined(__has_feature)", "#if __has_feature(address_sanitizer)",
        "#define ARENA_CHECKED 1", "#endif", "#endif",
        "#ifdef ARENA_CHECKED", "#include <sanitizer/asan_interface.h>",
        "#define ARENA_ONLY() ASAN_POISON_MEMORY_REGION(arena.bytes, sizeof arena.bytes)",
        "#define ARENA_ALLOW(offset, size) ASAN_UNPOISON_MEMORY_REGION(arena.bytes + (offset), (size))",
        "#define ARENA_ALLOW_ALL() ASAN_UNPOISON_MEMORY_REGION(arena.bytes, sizeof arena.bytes)",
        "#else", "#define ARENA_ONLY() ((void)0)", "#define ARENA_ALLOW(offset, size) ((void)0)",
        "#define ARENA_ALLOW_ALL() ((void)0)", "#endif", ""]


def placement_comment(graph: Graph, plan: MemoryPlan, title: str = "Placement") -> list[str]:
    lines = [f"/* {title}: offset, bytes, ops during which the tensor is alive, tensor."]
    for t in arena_tensors(graph):
        life = plan.lifetimes[t]
        alias = f" (shares {cformat.comment_text(plan.aliases[t])})" if t in plan.aliases else ""
        if t in plan.inside:
            alias = f" (written into {cformat.comment_text(plan.inside[t][0])} at byte {plan.inside[t][1]})"
        lines.append(f" * {plan.offsets[t]:>9} {plan.sizes[t]:>9}  {life.first:>4}-{life.last:<4} "
                     f"{cformat.comment_text(t)}{alias}")
    return lines + [" */", ""]


def io_tables(name: str, upper: str, graph: Graph, plan: MemoryPlan) -> list[str]:
    lines: list[str] = []
    for kind, names in (("input", graph.inputs), ("output", graph.outputs)):
        lines += _info_table(name, upper, kind, io_rows(graph, names, upper), plan)
    return lines


def _info_table(name: str, upper: str, kind: str, rows: list[InfoRow], plan: MemoryPlan) -> list[str]:
    count = f"{upper}_NUM_{kind.upper()}S"
    lines = []
    for i, row in enumerate(rows):
        if row.dims:
            lines.append(f"static const int32_t {kind}_{i}_dims[{len(row.dims)}] = "
                         f"{{{', '.join(map(str, row.dims))}}};")
    entries = [f"    {{{cformat.string_literal(r.name)}, {r.dtype_macro}, {len(r.dims)}, "
               f"{f'{kind}_{i}_dims' if r.dims else 'NULL'}, {r.elements}, {r.bytes}, "
               f"{cformat.float_literal(r.scale)}, {r.zero_point}}}" for i, r in enumerate(rows)]
    offsets = [str(plan.offsets[r.name]) for r in rows]
    if not rows:
        # C has no empty arrays: a model without inputs (or outputs) gets one blank entry,
        # which the count macro (0) says not to use.
        entries, offsets = ["    {NULL, 0, 0, NULL, 0, 0, 0.0f, 0}"], ["0"]
    size = f"{count} > 0 ? {count} : 1"
    return lines + [
        f"const {name}_tensor_info {name}_{kind}s[{size}] = {{", ",\n".join(entries), "};",
        f"static const size_t {kind}_offsets[{size}] = {{{', '.join(offsets)}}};", "",
        f"void *{name}_{kind}(int index)", "{",
        (f"    return index >= 0 && index < {count} ? "
         f"(void *)(arena.bytes + {kind}_offsets[index]) : NULL;"), "}", ""]


def _invoke_lines(name: str, upper: str, plan: MemoryPlan, steps: list[Step]) -> list[str]:
    lines = failed_helper() if any(step.calls for step in steps) else []
    return lines + function_lines(f"int {name}_invoke(void)", upper, plan, steps)


def failed_helper() -> list[str]:
    return ["/* The status of a failed call: (op index + 1) * 256 + the kernel's error. */",
            "static int failed(int op, int status)", "{", "    ARENA_ALLOW_ALL();",
            "    return (op + 1) * 256 + status;", "}", ""]


def function_lines(signature: str, upper: str, plan: MemoryPlan, steps: list[Step]) -> list[str]:
    """A C function running the steps in order (kernel calls, or an op's own statements)."""
    lines = [signature, "{"]
    if any(not isinstance(call, CodeBlock) or call.uses_status for step in steps for call in step.calls):
        lines.append("    int status;")
    for step in steps:
        lines.append(f"    /* {step.comment} */")
        if not step.calls:
            lines.append("    /* nothing to do: the output shares the input's bytes */")
            continue
        if any(isinstance(call, KernelCall) for call in step.calls):
            allow = " ".join(f"ARENA_ALLOW({plan.offsets[t]}, {plan.reach(t)});" for t in step.tensors)
            lines.append(f"    ARENA_ONLY(); {allow}".rstrip())
        for call in step.calls:
            if isinstance(call, CodeBlock):
                lines += ["    " + line for line in call.lines]
                continue
            lines += [f"    status = {call.text()};",
                      f"    if (status != TK_OK) return failed({step.op_index}, status);"]
    return lines + ["    ARENA_ALLOW_ALL();", f"    return {upper}_OK;", "}"]


# ---- NAME_weights.c and the kernel files ----------------------------------------------------

def _render_weights(state: BundleState, source: str) -> str:
    name = state.prefix
    out = [f"/* {name}_weights.c: the constants of the {describe(source)}, generated by toco-py:",
           " * the constant tensors, each in row-major order (float16 as its bits) or repacked for",
           " * the kernel that reads it, and the values worked out from the model's quantization",
           " * and options. */", "#include <math.h>", "#include <stdint.h>", "",
           f'#include "{KERNEL_HEADER}"', ""]
    for array in state.consts.arrays.values():
        out += [f"/* {array.comment} */", array.definition(), ""]
    if not state.consts.arrays:
        out.append("/* The model has none; this declaration keeps the file a valid unit. */")
        out.append(f"extern const int {name}_no_weights;")
    return "\n".join(out) + "\n"


def _kernel_files(families: list[str], consts: ConstTable) -> dict[str, str]:
    files = {}
    # toco_kernels.h includes the other headers of kernels/ (one per family of kernels
    # added beside the float ones): every bundle gets them all.
    headers = sorted(p.name for p in _KERNELS.iterdir() if p.name.endswith(".h"))
    for file_name in (KERNEL_HEADER, *[h for h in headers if h != KERNEL_HEADER],
                      *[f"{f}.c" for f in (*ALWAYS, *families)]):
        files[file_name] = (_KERNELS / file_name).read_text(encoding="utf-8")
    files[KERNEL_HEADER] = _filter_forms(files[KERNEL_HEADER], consts)
    return files


def _filter_forms(header: str, consts: ConstTable) -> str:
    """toco_kernels.h with the forms of clustered filters no filter of the bundle takes
    switched off (their decoding compiles away)."""
    for macro, used in (("TK_LUT_FILTERS", bool(consts.luts)), ("TK_NONZERO_FILTERS", bool(consts.nonzero_luts))):
        line = f"#define {macro} 1\n"
        if line not in header:
            raise AssertionError(f"kernels/{KERNEL_HEADER} lost its {macro} line")
        header = header.replace(line, f"#define {macro} {int(used)}\n")
    return header
