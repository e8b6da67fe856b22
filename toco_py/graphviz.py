"""Graphviz pictures of an IR graph: ops as boxes, tensors as edges labeled with their shape.

Node ids are positions (op3, in0, out1), never tensor names, and everything is emitted in
graph order, so the same graph always gives the same bytes and any name is safe inside the
quoted labels. Constants are not drawn as nodes (a model has hundreds): each op lists the
shapes of its constant inputs instead.
"""
from __future__ import annotations

import os
import shutil
import subprocess

from .errors import TocoError
from .ir import Graph, Tensor
from .naming import op_kind
from .targets import has_builtin

RENDERED_FORMATS = ("svg", "png", "pdf")
# Long TF scopes make boxes unreadably wide; the full name stays in the tooltip.
MAX_LABEL_NAME = 48


def quote(text: str) -> str:
    """A dot string literal; newlines become dot's centered line breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "").replace("\n", "\\n") + '"'


def shape_text(t: Tensor | None) -> str:
    if t is None or t.shape is None:
        return "?"
    dims = "x".join("?" if d < 0 else str(d) for d in t.shape) or "scalar"
    return dims if t.dtype == "float32" else f"{dims} {t.dtype}"


def _short(name: str) -> str:
    return name if len(name) <= MAX_LABEL_NAME else "..." + name[-(MAX_LABEL_NAME - 3):]


def graph_to_dot(graph: Graph, title: str = "") -> str:
    """The picture of the graph; a model of several subgraphs (IF, WHILE, CALL_ONCE) draws each
    other subgraph as a box of its own, which the ops running it name."""
    lines = ["digraph model {", "  rankdir=TB;",
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    if title:
        lines.append(f"  label={quote(title)}; labelloc=t;")
    lines += _subgraph_lines(graph, "", "  ")
    for s, sub in enumerate(graph.subgraphs[1:], start=1):
        lines.append(f"  subgraph cluster_{s} {{")
        lines.append(f"    label={quote(f'subgraph {s}: {sub.name}')}; style=dashed;")
        lines += _subgraph_lines(sub, f"s{s}_", "    ")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _subgraph_lines(graph: Graph, prefix: str, indent: str) -> list[str]:
    """The nodes and edges of one subgraph, their ids prefixed (none for the entry point)."""
    lines = []
    source: dict[str, str] = {}  # tensor name -> dot id of the node that makes it
    for i, name in enumerate(graph.inputs):
        node = f"{prefix}in{i}"
        source[name] = node
        label = f"input\n{_short(name)}\n{shape_text(graph.tensors.get(name))}"
        lines.append(f"{indent}{node} [shape=ellipse, style=filled, fillcolor=palegreen, "
                     f"label={quote(label)}, tooltip={quote(name)}];")
    for i, op in enumerate(graph.ops):
        node = f"{prefix}op{i}"
        lines.append(f"{indent}{node} [shape=box, style=\"rounded,filled\", fillcolor={_color(op)}, "
                     f"label={quote(_op_label(graph, op))}, tooltip={quote(op.name)}];")
        for name in op.inputs:
            if name in source:
                lines.append(f"{indent}{source[name]} -> {node} "
                             f"[label={quote(shape_text(graph.tensors.get(name)))}];")
        for name in op.outputs:
            source[name] = node
    for i, name in enumerate(graph.outputs):
        node = f"{prefix}out{i}"
        lines.append(f"{indent}{node} [shape=ellipse, style=filled, fillcolor=lightblue, "
                     f"label={quote('output' + chr(10) + _short(name))}, tooltip={quote(name)}];")
        if name in source:
            lines.append(f"{indent}{source[name]} -> {node} "
                         f"[label={quote(shape_text(graph.tensors.get(name)))}];")
    return lines


def _op_label(graph: Graph, op) -> str:
    parts = [op_kind(op)]
    if op.name:
        parts.append(_short(op.name))
    consts = [shape_text(graph.tensors[n]) for n in op.inputs
              if n and n in graph.tensors and graph.tensors[n].is_const]
    if consts:
        parts.append("const " + ", ".join(consts))
    runs = [f"{key.removesuffix('_subgraph_index')}: subgraph {index}"
            for key, index in op.attrs.items() if key.endswith("_subgraph_index")]
    if runs:
        parts.append(", ".join(runs))
    return "\n".join(parts)


def _color(op) -> str:
    # Ops the writer would refuse stand out: the first thing to look for in a picture.
    return "lightyellow" if has_builtin(op) else "salmon"


def write_picture(graph: Graph, path: str, title: str = "") -> None:
    """OUT.dot is written as is; OUT.svg/.png/.pdf are rendered with Graphviz's `dot`."""
    from .tflite.writer import write_atomic

    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext != "dot" and ext not in RENDERED_FORMATS:
        raise TocoError(f"--graphviz {path}: choose a .dot, .svg, .png or .pdf file name")
    dot_text = graph_to_dot(graph, title)
    if ext == "dot":
        write_atomic(path, dot_text.encode())
        return
    write_atomic(path, render(dot_text, ext, path))


def render(dot_text: str, fmt: str, path: str) -> bytes:
    program = shutil.which("dot")
    if program is None:
        raise TocoError(f"rendering {path} needs Graphviz's `dot`, which is not on PATH: install "
                        "Graphviz (e.g. apt-get install graphviz), or write a .dot file and render "
                        "it elsewhere")
    proc = subprocess.run([program, f"-T{fmt}"], input=dot_text.encode(), capture_output=True)
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        raise TocoError(f"Graphviz's dot failed to render {path}: "
                        f"{message[0] if message else f'exit code {proc.returncode}'}")
    return proc.stdout


def dump_dir(directory: str, name: str, graph: Graph) -> str:
    """Writes DIR/NAME.dot (creating DIR), like TOCO's --dump_graphviz_dir; returns the path."""
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as err:
        raise TocoError(f"--dump_graphviz_dir {directory}: cannot create it ({err.strerror})") from None
    path = os.path.join(directory, f"{name}.dot")
    write_picture(graph, path, f"{name} the passes")
    return path
