"""The C bundle's tables agree with each other: every (op type, variant) codegen claims (has a
lowering for) has

- a numpy kernel, the reference its bundles are compared with;
- a one-op bundle test: a graph of test_codegen_kernels, test_codegen_int8_nn,
  test_codegen_int8_math, test_codegen_int8_lstm, test_codegen_int16 or
  test_codegen_control_flow (their one_op_graphs()) runs the op in that variant;
- and every C function its lowering calls in those graphs is declared in a kernel header
  and defined in the kernel source of its family, kernels/<family>.c.

The graphs are lowered without compiling (the tests that own them compile them). As in
test_op_tables.py, each check is a function of the tables it compares, so that it is also
run on deliberately broken copies (each entry removed in turn) and shown to catch every one.
"""
from __future__ import annotations

import re
from dataclasses import replace
from importlib import resources

import pytest
import test_codegen_control_flow
import test_codegen_int8_lstm
import test_codegen_int8_math
import test_codegen_int8_nn
import test_codegen_int16
import test_codegen_kernels

from toco_py.codegen import all_lowerings  # noqa: F401  (registers every lowering)
from toco_py.codegen.lowering import BundleState, KernelCall, claimed, lower_op, variant_of
from toco_py.codegen.model_bundle import lower_model
from toco_py.codegen.model_plan import is_model
from toco_py.codegen.planner import plan_memory
from toco_py.ir import Graph
from toco_py.ops import REGISTRY

ONE_OP_MODULES = (test_codegen_kernels, test_codegen_int8_nn, test_codegen_int8_math,
                  test_codegen_int8_lstm, test_codegen_int16, test_codegen_control_flow)
KERNELS = resources.files("toco_py.codegen") / "kernels"

# A prototype or a definition starts a line with its return type; static inline helpers (which
# only the kernels call) and typedefs of function pointers are neither.
_SIGNATURE = r"^(?!static\b|typedef\b)[A-Za-z_][\w ]*?\**\b(\w+)\s*\([^;{]*\)\s*"
_DECLARATION = re.compile(_SIGNATURE + ";", re.MULTILINE)
_DEFINITION = re.compile(_SIGNATURE + r"\{", re.MULTILINE)
_MACRO = re.compile(r"^#define (\w+)\(([^)]*)\)(.*)$", re.MULTILINE)
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)

Pair = tuple[str, str]  # (op type, variant)
Call = tuple[str, str]  # (family, C function)


def kernel_field(op_type: str, variant: str) -> str:
    """The OpDef field of the numpy kernel the interpreter runs for the pair. QUANTIZE has one
    kernel, which quantizes floats and requantizes integers alike: the interpreter never runs
    a conversion as a quantized op, while codegen lowers a requantization as int8 (int16 from
    an int16 input). An op that runs subgraphs or variables (IF, WHILE, READ_VARIABLE ...)
    has one kernel for any data."""
    one_kernel = op_type == "QUANTIZE" or (op_type in REGISTRY and "runs_model" in REGISTRY[op_type].traits)
    return "kernel" if variant == "float" or one_kernel else f"{variant}_kernel"


def lowered_calls(graphs: list[Graph]) -> dict[Pair, set[Call]]:
    """Each (op type, variant) the graphs run -> the C functions its lowering calls in them
    (none for an op the memory plan makes free, e.g. an aliased RESHAPE)."""
    calls: dict[Pair, set[Call]] = {}
    for graph in graphs:
        # A model of several subgraphs (or with variables) is lowered subgraph by subgraph.
        states = lower_model(graph, "model").states.values() if is_model(graph) else \
            [BundleState(graph, plan_memory(graph), "model")]
        for state in states:
            for index, op in enumerate(state.graph.ops):
                found = calls.setdefault((op.type, variant_of(state.graph, op)), set())
                found |= {(call.family, call.function) for call in lower_op(state, index, op)
                          if isinstance(call, KernelCall)}  # not the statements of IF, WHILE ...
    return calls


def expanded(source: str) -> str:
    """C source without comments, with each line that starts with a call of one of its
    function-like macros expanded: the kernels declare and define families of functions
    that way (TK_BINARY_F32(add); ... DEFINE_BINARY(add))."""
    text = _COMMENT.sub(" ", source).replace("\\\n", " ")
    for name, params, body in _MACRO.findall(text):
        text = _expand_calls(text, name, [p.strip() for p in params.split(",")], body.strip())
    return text


def _expand_calls(text: str, name: str, params: list[str], body: str) -> str:
    def expand(call: re.Match) -> str:
        args = dict(zip(params, (a.strip() for a in call.group(1).split(","))))
        out = re.sub(r"\w+", lambda word: args.get(word.group(), word.group()), body)
        return re.sub(r"\s*##\s*", "", out)
    return re.sub(rf"^{name}\(([^()]*)\)", expand, text, flags=re.MULTILINE)


def _kernel_sources(suffix: str) -> dict[str, str]:
    """kernels/ file stem -> its expanded text, for the files ending in suffix."""
    return {path.name[:-len(suffix)]: expanded(path.read_text(encoding="utf-8"))
            for path in KERNELS.iterdir() if path.name.endswith(suffix)}


def declared_functions() -> set[str]:
    return {name for text in _kernel_sources(".h").values() for name in _DECLARATION.findall(text)}


def defined_functions() -> dict[str, set[str]]:
    """Family -> the functions kernels/<family>.c defines (static ones left out)."""
    return {family: set(_DEFINITION.findall(text)) for family, text in _kernel_sources(".c").items()}


def codegen_problems(pairs: frozenset[Pair], registry, covered: dict[Pair, set[Call]],
                     declared: set[str], defined: dict[str, set[str]]) -> list[str]:
    """pairs: what codegen claims; covered: what the one-op bundle tests run, with the calls
    their lowerings make; declared: what the kernel headers declare; defined: what each
    family's .c defines."""
    problems = []
    for op_type, variant in sorted(pairs):
        label = f"{op_type} ({variant})"
        opdef = registry.get(op_type)
        if opdef is None or getattr(opdef, kernel_field(op_type, variant)) is None:
            problems.append(f"{label}: no numpy kernel to compare its bundles with")
        if (op_type, variant) not in covered:
            problems.append(f"{label}: no one-op bundle test")
            continue
        for family, function in sorted(covered[(op_type, variant)]):
            if function not in declared:
                problems.append(f"{label}: calls {function}, which no kernel header declares")
            if function not in defined.get(family, set()):
                problems.append(f"{label}: calls {function}, which kernels/{family}.c does not define")
    return problems


@pytest.fixture(scope="module")
def covered() -> dict[Pair, set[Call]]:
    return lowered_calls([graph for module in ONE_OP_MODULES for graph in module.one_op_graphs()])


def test_every_claimed_pair_has_a_numpy_kernel_a_one_op_test_and_declared_kernels(covered):
    declared, defined = declared_functions(), defined_functions()
    assert codegen_problems(claimed(), REGISTRY, covered, declared, defined) == []
    # The parsers read the files: the headers' prototypes are what the sources define.
    assert len(declared) > 50
    assert declared == set().union(*defined.values())


def test_codegen_check_catches_each_missing_entry(covered):
    pairs, declared, defined = claimed(), declared_functions(), defined_functions()
    for op_type, variant in sorted(pairs):
        label = f"{op_type} ({variant})"
        opdef = REGISTRY[op_type]
        without_kernel = {**REGISTRY, op_type: replace(opdef, **{kernel_field(op_type, variant): None})}
        assert f"{label}: no numpy kernel to compare its bundles with" in codegen_problems(
            pairs, without_kernel, covered, declared, defined), label
        untested = {pair: calls for pair, calls in covered.items() if pair != (op_type, variant)}
        assert f"{label}: no one-op bundle test" in codegen_problems(
            pairs, REGISTRY, untested, declared, defined), label
    called = {call for calls in covered.values() for call in calls}
    assert len(called) > 50
    for family, function in sorted(called):
        assert any(p.endswith(f"calls {function}, which no kernel header declares") for p in
                   codegen_problems(pairs, REGISTRY, covered, declared - {function}, defined)), function
        undefined = {**defined, family: defined[family] - {function}}
        assert any(p.endswith(f"calls {function}, which kernels/{family}.c does not define") for p in
                   codegen_problems(pairs, REGISTRY, covered, declared, undefined)), function
