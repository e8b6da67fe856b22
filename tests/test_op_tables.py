"""The tables about ops agree with each other and with their sources of truth:

- every builtin the registry defines is a TFLite BuiltinOperator, with its options table (or
  listed as having none) and a version rule (or listed as version 1); converter-only ops are
  not builtin names;
- every TF op the frontend maps lands on registered ops;
- the "tflm" traits are what the installed TensorFlow Lite Micro registers (its probe).

Each check is a function of the tables it compares, so that it is also run on deliberately
broken copies (each entry removed in turn) and shown to catch every one. The C bundle's
tables (lowerings, kernel headers, one-op bundle tests) are checked in test_codegen_tables.py.
"""
from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions

import toco_py.frontend.tf_ops as tf_ops
from toco_py.ops import REGISTRY
from toco_py.tflite.options import NO_OPTIONS, OPTIONS
from toco_py.tflite.versions import RULES, VERSION_1

SCHEMA_OPS = frozenset(k for k, v in vars(BuiltinOperator).items() if isinstance(v, int))
SCHEMA_OPTIONS = frozenset(k for k, v in vars(BuiltinOptions).items() if isinstance(v, int))
_TABLE_METHODS = {"GetRootAs", "Init"}


def schema_fields(table: str) -> set[str]:
    """The fields of a schema options table, from the `tflite` bindings' accessors."""
    cls = getattr(importlib.import_module(f"tflite.{table}"), table)
    return {name for name in vars(cls) if not name.startswith("_") and name not in _TABLE_METHODS
            and not name.startswith("GetRootAs") and not name.endswith("BufferHasIdentifier")}


def _camel(op_type: str) -> str:
    return "".join(part.capitalize() for part in op_type.split("_"))


def builtin_problems(registry, schema_ops, options, no_options, rules, version_1) -> list[str]:
    problems = []
    for op_type, opdef in registry.items():
        if not opdef.builtin:
            if op_type in schema_ops:
                problems.append(f"{op_type}: converter-only, yet named like a TFLite builtin")
            continue
        if op_type not in schema_ops:
            problems.append(f"{op_type}: no TFLite BuiltinOperator of that name")
        if (op_type in options) == (op_type in no_options):
            problems.append(f"{op_type}: in {'both' if op_type in options else 'neither'} of "
                            "tflite/options.py's OPTIONS and NO_OPTIONS")
        elif op_type in options:
            table, fields = options[op_type]
            if table not in SCHEMA_OPTIONS:
                problems.append(f"{op_type}: the schema has no options table {table}")
            else:
                unknown = {field for field, _, _ in fields} - schema_fields(table)
                if unknown:
                    problems.append(f"{op_type}: {table} has no fields {sorted(unknown)}")
        elif f"{_camel(op_type)}Options" in SCHEMA_OPTIONS and schema_fields(f"{_camel(op_type)}Options"):
            problems.append(f"{op_type}: listed without options, but the schema's "
                            f"{_camel(op_type)}Options has fields")
        if (op_type in rules) == (op_type in version_1):
            problems.append(f"{op_type}: in {'both' if op_type in rules else 'neither'} of "
                            "tflite/versions.py's RULES and VERSION_1")
    return problems


def test_every_builtin_has_a_schema_name_options_and_a_version_rule():
    assert builtin_problems(REGISTRY, SCHEMA_OPS, OPTIONS, NO_OPTIONS, RULES, VERSION_1) == []


def test_builtin_check_catches_each_missing_entry():
    builtins = [t for t, d in REGISTRY.items() if d.builtin]
    for op_type in builtins:
        for broken in (
            builtin_problems(REGISTRY, SCHEMA_OPS - {op_type}, OPTIONS, NO_OPTIONS, RULES, VERSION_1),
            builtin_problems(REGISTRY, SCHEMA_OPS, {k: v for k, v in OPTIONS.items() if k != op_type},
                             NO_OPTIONS - {op_type}, RULES, VERSION_1),
            builtin_problems(REGISTRY, SCHEMA_OPS, OPTIONS, NO_OPTIONS,
                             {k: v for k, v in RULES.items() if k != op_type}, VERSION_1 - {op_type}),
        ):
            assert any(p.startswith(f"{op_type}:") for p in broken), op_type
    # A converter-only op may not take a builtin's name.
    renamed = dict(REGISTRY, SQRT=replace(REGISTRY["SQRT"], builtin=False))
    assert "SQRT: converter-only, yet named like a TFLite builtin" in builtin_problems(
        renamed, SCHEMA_OPS, OPTIONS, NO_OPTIONS, RULES, VERSION_1)
    # Options a builtin has in the schema cannot be dropped by listing it without options.
    assert any(p.startswith("CONCATENATION: listed without options") for p in builtin_problems(
        REGISTRY, SCHEMA_OPS, {k: v for k, v in OPTIONS.items() if k != "CONCATENATION"},
        NO_OPTIONS | {"CONCATENATION"}, RULES, VERSION_1))


# ---- the frontend ---------------------------------------------------------------------------

def _literal_strings(node) -> set[str] | None:
    """The strings an expression can be, when it is a literal or a choice of literals."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        body, orelse = _literal_strings(node.body), _literal_strings(node.orelse)
        return None if body is None or orelse is None else body | orelse
    return None


def _module_dicts(tree: ast.Module) -> dict[str, dict[str, str]]:
    found = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Dict)):
            found[node.targets[0].id] = {ast.literal_eval(k): ast.literal_eval(v)
                                         for k, v in zip(node.value.keys, node.value.values)}
    return found


def _mapped_names(fn: ast.FunctionDef, dicts) -> set[str]:
    """The TF op names of a mapper's @tf_op(...) decorator (literals or *DICT keys)."""
    names: set[str] = set()
    for deco in fn.decorator_list:
        if isinstance(deco, ast.Call) and getattr(deco.func, "id", "") == "tf_op":
            for arg in deco.args:
                if isinstance(arg, ast.Starred):
                    names |= set(dicts[arg.value.id])
                else:
                    names.add(ast.literal_eval(arg))
    return names


def _emitted_by(fn: ast.FunctionDef, dicts) -> tuple[set[str], list[str]]:
    """(IR op types the function's ctx.emit calls can emit, the calls that cannot be resolved)."""
    local = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            local[node.targets[0].id] = node.value
    types, unresolved = set(), []
    for node in ast.walk(fn):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "emit" and node.args):
            continue
        arg = node.args[0]
        if isinstance(arg, ast.Name) and arg.id in local:
            arg = local[arg.id]
        found = _literal_strings(arg)
        if found is None and isinstance(arg, ast.Subscript) and getattr(arg.value, "id", "") in dicts:
            found = set(dicts[arg.value.id].values())
        if found is None and ast.unparse(arg) == "ctx.node.op":
            found = _mapped_names(fn, dicts) or None
        if found is None:
            unresolved.append(f"{fn.name}: emit({ast.unparse(arg)}, ...) at line {node.lineno}")
        else:
            types |= found
    return types, unresolved


def frontend_problems(sources: dict[str, str], registry) -> list[str]:
    """Every IR op type a frontend module's mappers (and their helpers) emit is registered,
    and every emit names its type in a way this check can read."""
    problems = []
    for module, source in sources.items():
        tree = ast.parse(source)
        dicts = _module_dicts(tree)
        for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
            types, unresolved = _emitted_by(fn, dicts)
            problems += [f"{module}.{u}: name the op type as a literal or a module dict" for u in unresolved]
            problems += [f"{module}.{fn.name}: emits {t}, which ops/ does not define"
                         for t in sorted(types) if t not in registry]
    return problems


def _frontend_sources() -> dict[str, str]:
    folder = Path(tf_ops.__file__).parent
    return {p.stem: p.read_text() for p in sorted(folder.glob("*.py")) if p.stem not in ("__init__", "registry")}


def test_every_mapped_tf_op_lands_on_registered_ops():
    sources = _frontend_sources()
    assert frontend_problems(sources, REGISTRY) == []
    # The check reads every mapper: each TF op MAPPERS knows comes from a module it parsed.
    mapped = set()
    for source in sources.values():
        tree = ast.parse(source)
        dicts = _module_dicts(tree)
        mapped |= {name for fn in tree.body if isinstance(fn, ast.FunctionDef)
                   for name in _mapped_names(fn, dicts)}
    assert mapped == set(tf_ops.MAPPERS)


def test_frontend_check_catches_each_unregistered_op():
    sources = _frontend_sources()
    emitted = set()
    for source in sources.values():
        tree = ast.parse(source)
        dicts = _module_dicts(tree)
        for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
            emitted |= _emitted_by(fn, dicts)[0]
    assert len(emitted) > 60
    for op_type in emitted:
        broken = {k: v for k, v in REGISTRY.items() if k != op_type}
        assert any(p.endswith(f"emits {op_type}, which ops/ does not define")
                   for p in frontend_problems(sources, broken)), op_type
    opaque = {"x": "def f(ctx):\n    ctx.emit(pick(ctx), [])\n"}
    assert frontend_problems(opaque, REGISTRY) == [
        "x.f: emit(pick(ctx), ...) at line 2: name the op type as a literal or a module dict"]


# ---- TensorFlow Lite Micro --------------------------------------------------------------------

_PROBE = r"""
import json, os, sys, tempfile
sys.path.insert(0, sys.argv[1])  # the checkout, for tests.support
from tflite.BuiltinOperator import BuiltinOperator
from tflite_micro import runtime
from tests.support.tiny_tflite import tiny_model

def not_found(model: bytes) -> bool:
    # TFLM prints "Didn't find op for builtin opcode" to the C stderr; the exception only
    # says that allocation failed. Any other failure means the kernel is registered.
    with tempfile.TemporaryFile() as log:
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            runtime.Interpreter.from_bytes(model, arena_size=1 << 16)
        except Exception:
            pass
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        return b"Didn't find op for builtin opcode" in log.read()

registered = []
for name, code in sorted(vars(BuiltinOperator).items()):
    if not isinstance(code, int) or name in ("CUSTOM", "PLACEHOLDER_FOR_GREATER_OP_CODES"):
        continue
    if not not_found(tiny_model(opcode={"deprecated": min(code, 127), "builtin": code}, options=None)):
        registered.append(name)
print(json.dumps(registered))
"""


def tflm_problems(registry, probed: set[str]) -> list[str]:
    """A builtin has the "tflm" trait exactly when TFLM registers a kernel for it."""
    problems = []
    for op_type, opdef in registry.items():
        if not opdef.builtin:
            continue
        if "tflm" in opdef.traits and op_type not in probed:
            problems.append(f"{op_type}: has the tflm trait, but TFLM has no kernel for it")
        if "tflm" not in opdef.traits and op_type in probed:
            problems.append(f"{op_type}: TFLM has a kernel for it; add the tflm trait")
    return problems


@pytest.fixture(scope="module")
def tflm_kernels() -> set[str]:
    """The builtins the installed tflite-micro registers (the probe targets.py describes)."""
    proc = subprocess.run([sys.executable, "-c", _PROBE, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(json.loads(proc.stdout.splitlines()[-1]))


def test_tflm_traits_match_installed_runtime(tflm_kernels):
    assert tflm_problems(REGISTRY, tflm_kernels) == []


def test_tflm_check_catches_each_wrong_trait(tflm_kernels):
    for op_type, opdef in REGISTRY.items():
        if opdef.builtin:
            flipped = replace(opdef, traits=opdef.traits ^ {"tflm"})
            assert any(p.startswith(f"{op_type}:") for p in
                       tflm_problems({op_type: flipped}, tflm_kernels)), op_type
