"""The modules of toco_py form a directed acyclic graph of imports (issue 12, item 4).

Every `import` and `from ... import` counts, at any depth (a function-level import is still
a dependency, only a deferred one), except those under `if TYPE_CHECKING:`. One node per
module: each .py file, a package being its __init__.py. `from .ops import X` imports the
package toco_py.ops and, when X is a module of it, toco_py.ops.X too; a module's own
packages do not count (Python loads them before the module, whatever it imports).
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under root (a package named `package`; ""
    for a folder of scripts, each a top-level module)."""
    files = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(filter(None, [package, *parts]))] = path
    return files


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST):
    """Every import statement of a module, at any depth, except under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool,
              modules: set[str]) -> set[str]:
    """The modules (of `modules`) one import statement of `module` loads."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names} & modules
    base = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    source = ".".join(filter(None, [base if node.level else "", node.module or ""]))
    named = {source} | {f"{source}.{alias.name}" for alias in node.names}
    return (named - _ancestors(module)) & modules


def _ancestors(module: str) -> set[str]:
    """The packages holding a module: Python loads them before it, so `from . import x` in
    a package's module depends on x, not on the package's __init__ that imports the module."""
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports (itself excluded)."""
    files = module_files(root, package)
    graph = {}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), str(path))
        graph[module] = set().union(*(_imported(node, module, is_package, set(files))
                                       for node in _import_nodes(tree))) - {module}
    return graph


def _path(graph: dict[str, set[str]], start: str, goal: str, within: set[str]) -> list[str]:
    """A shortest import path from start to goal through the modules `within` (breadth first)."""
    previous, frontier = {start: None}, [start]
    while goal not in previous:
        reached = []
        for module in frontier:
            for nxt in sorted(graph[module] & within):
                if nxt not in previous:
                    previous[nxt] = module
                    reached.append(nxt)
        frontier = reached
    path = [goal]
    while previous[path[-1]] is not None:
        path.append(previous[path[-1]])
    return path[::-1]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import cycle (a, b, ..., a) in each strongly connected group of modules."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while node not in group:
                group.add(stack.pop())
            on_stack.difference_update(group)
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    found = []
    for group in groups:
        first = min(group)
        back = min(m for m in group if first in graph[m])
        found.append(_path(graph, first, back, group) + [first])
    return sorted(found)


def parts(graph: dict[str, set[str]], package: str) -> dict[str, set[str]]:
    """The imports between the parts of a package: its top-level modules and subpackages
    (toco_py.ops stands for every module under ops/)."""
    depth = package.count(".") + 2

    def part(module: str) -> str:
        return ".".join(module.split(".")[:depth])

    joined: dict[str, set[str]] = {}
    for module, imported in graph.items():
        joined.setdefault(part(module), set()).update(map(part, imported))
    return {p: imported - {p} for p, imported in joined.items()}


def _assert_acyclic(graph: dict[str, set[str]]) -> None:
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_modules_of_toco_py_import_no_cycle():
    _assert_acyclic(import_graph(ROOT / "toco_py", "toco_py"))


def test_the_parts_of_toco_py_import_no_cycle():
    """The layers: no subpackage or top-level module reaches back to one that imports it."""
    _assert_acyclic(parts(import_graph(ROOT / "toco_py", "toco_py"), "toco_py"))


def test_the_benchmarks_import_no_cycle():
    _assert_acyclic(import_graph(ROOT / "benchmarks", ""))


def test_the_checker_finds_a_cycle_through_a_function_level_import(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from .sub import b\n",
        "sub/__init__.py": "",
        "sub/b.py": "def f():\n    from ..c import g\n",
        "c.py": "import pkg.a\n",
        # Not cycles: a TYPE_CHECKING import, and a module importing itself.
        "d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import e\n",
        "e.py": "from . import d, e\n",
    }
    for name, text in files.items():
        (package / name).write_text(text)
    graph = import_graph(package, "pkg")
    assert graph["pkg.a"] == {"pkg.sub", "pkg.sub.b"}
    assert graph["pkg.d"] == set() and graph["pkg.e"] == {"pkg.d"}
    assert cycles(graph) == [["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]]
    assert cycles(parts(graph, "pkg")) == [["pkg.a", "pkg.sub", "pkg.c", "pkg.a"]]
