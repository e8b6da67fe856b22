"""`toco-py inspect`: what a .pb or .tflite holds, as tables or JSON.

A .tflite is described as the reader gives it: the main subgraph in full and, in a model of
several (IF, WHILE, CALL_ONCE name the others), every subgraph's name, inputs, outputs, op
counts and calls; a .pb as the IR straight from the frontend (TF ops mapped, no pass run),
so what is shown is what the file says.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from .ir import Graph, QuantParams, Tensor
from .naming import op_kind
from .tflite.options import SUBGRAPH_ATTRS


@dataclass
class LoadedModel:
    path: str
    format: str        # "tflite" or "graphdef"
    graph: Graph
    subgraphs: int = 1
    # A .pb's nodes by TF op type, the whole file (what the user wrote, before any mapping).
    graphdef_ops: dict[str, int] | None = None


def load_model(path: str, input_arrays=None, output_arrays=None, input_shapes=None) -> LoadedModel:
    from .tensor_io import is_tflite

    if is_tflite(path):
        from .tflite.reader import read_model_file

        model = read_model_file(path)
        return LoadedModel(path, "tflite", model.main, len(model.graphs))
    from .api import import_checked
    from .frontend.graphdef import load_graphdef

    gd = load_graphdef(path)
    tf_ops = Counter(node.op for node in gd.node)
    # Shapes for the tables; no rewrite.
    graph, _ = import_checked(lambda: gd, input_arrays, output_arrays, input_shapes, propagate=True)
    return LoadedModel(path, "graphdef", graph, 1, _by_count(tf_ops))


def _by_count(counts: Counter) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


# ---- per-tensor facts ------------------------------------------------------------------

def tensor_bytes(t: Tensor) -> int | None:
    """Bytes the tensor's values take: a constant's data, or shape x element size; None when
    the shape or the element size is unknown."""
    if t.data is not None:
        if t.data.dtype == object:  # strings
            return int(sum(len(s if isinstance(s, bytes) else str(s).encode()) for s in t.data.flat))
        return int(t.data.nbytes)
    if not t.static_shape:
        return None
    try:
        return t.size * np.dtype(t.dtype).itemsize
    except TypeError:  # int4, bfloat16, resource...: not numpy types
        return None


def tensor_kind(graph: Graph, name: str) -> str:
    if name in graph.inputs:
        return "input"
    if name in graph.outputs:
        return "output"
    return "constant" if graph.tensors[name].is_const else "activation"


def quant_json(q: QuantParams | None) -> dict | None:
    if q is None:
        return None
    if q.per_channel:
        return {"scheme": "per-channel", "axis": int(q.axis), "channels": int(q.scale.size),
                "scale": None, "zero_point": None}
    return {"scheme": "per-tensor", "axis": None, "channels": 1,
            "scale": float(q.scale.reshape(-1)[0]), "zero_point": int(q.zero_point.reshape(-1)[0])}


def shape_json(t: Tensor) -> list[int] | None:
    return None if t.shape is None else [int(d) for d in t.shape]


def tensor_json(graph: Graph, name: str) -> dict:
    t = graph.tensors[name]
    return {"name": name, "kind": tensor_kind(graph, name), "shape": shape_json(t),
            "dtype": t.dtype, "bytes": tensor_bytes(t), "quantization": quant_json(t.quant)}


# ---- the summary -------------------------------------------------------------------------

def summarize(model: LoadedModel, with_tensors: bool = False) -> dict:
    """The whole description as plain data: what --json prints and the tables show."""
    graph = model.graph
    ops = Counter(op_kind(op) for op in graph.ops)
    summary = {
        "file": model.path,
        "format": model.format,
        "subgraphs": model.subgraphs,
        "inputs": [tensor_json(graph, n) for n in graph.inputs],
        "outputs": [tensor_json(graph, n) for n in graph.outputs],
        "op_count": len(graph.ops),
        "ops": _by_count(ops),
        "parameters": parameter_summary(graph),
        "quantization": quantization_summary(graph),
        "sparsity": sparsity_summary(graph),
    }
    if model.graphdef_ops is not None:
        summary["graphdef_ops"] = model.graphdef_ops
    if len(graph.subgraphs) > 1:  # a one-subgraph summary stays as it always was
        summary["subgraph_details"] = subgraph_details(graph.subgraphs)
    if with_tensors:
        summary["tensors"] = [tensor_json(graph, n) for n in graph.tensors]
    if model.format == "tflite":
        from .compress.inspect import compression_summary

        summary["compression"] = compression_summary(model.path, graph)
    return summary


def subgraph_details(graphs: list[Graph]) -> list[dict]:
    """Each subgraph in file order: what it takes and gives, its ops, which of its ops call
    which subgraph (by the option naming it) and which ops call it."""
    calls = [subgraph_calls(graphs, s) for s in range(len(graphs))]
    return [{"index": s, "name": graph.name,
             "inputs": [tensor_json(graph, n) for n in graph.inputs],
             "outputs": [tensor_json(graph, n) for n in graph.outputs],
             "op_count": len(graph.ops),
             "ops": _by_count(Counter(op_kind(op) for op in graph.ops)),
             "parameters": parameter_summary(graph)["count"],
             "calls": calls[s],
             "called_by": [{**call, "subgraph": caller, "name": graphs[caller].name}
                           for caller in range(len(graphs)) for call in calls[caller]
                           if call["subgraph"] == s]}
            for s, graph in enumerate(graphs)]


def subgraph_calls(graphs: list[Graph], s: int) -> list[dict]:
    """The calls subgraph s makes: operator index, op, the option naming the callee, callee."""
    return [{"operator": j, "op": op.type, "attr": attr, "subgraph": op.attrs[attr],
             "name": graphs[op.attrs[attr]].name}
            for j, op in enumerate(graphs[s].ops) for attr in SUBGRAPH_ATTRS.get(op.type, ())]


def parameter_summary(graph: Graph) -> dict:
    """Every constant counts (weights, biases, shape vectors), each tensor once."""
    by_dtype: dict[str, dict[str, int]] = {}
    for t in graph.tensors.values():
        if t.is_const:
            entry = by_dtype.setdefault(t.dtype, {"tensors": 0, "count": 0, "bytes": 0})
            entry["tensors"] += 1
            entry["count"] += int(t.data.size)
            entry["bytes"] += tensor_bytes(t) or 0
    return {"count": sum(e["count"] for e in by_dtype.values()),
            "bytes": sum(e["bytes"] for e in by_dtype.values()),
            "tensors": sum(e["tensors"] for e in by_dtype.values()),
            "by_dtype": dict(sorted(by_dtype.items()))}


def sparsity_summary(graph: Graph) -> dict:
    """The constants stored sparse: per tensor its layout, density (stored values / elements)
    and bytes stored (values + index arrays) against dense; and the totals."""
    from .tflite.sparsity import describe, sparsify

    tensors = []
    for name, t in graph.tensors.items():
        if t.sparsity is None or t.data is None:
            continue
        values, sparsity = sparsify(t.data, t.sparsity)
        tensors.append({"name": name, "shape": shape_json(t), "dtype": t.dtype,
                        "format": describe(sparsity.format),
                        "density": values.size / max(t.data.size, 1),
                        "stored_bytes": int(values.nbytes + sparsity.index_bytes()),
                        "dense_bytes": int(t.data.nbytes)})
    stored = sum(t["stored_bytes"] for t in tensors)
    dense = sum(t["dense_bytes"] for t in tensors)
    return {"sparse_tensors": len(tensors), "stored_bytes": stored, "dense_bytes": dense,
            "saved_bytes": dense - stored, "tensors": tensors}


def quantization_summary(graph: Graph) -> dict:
    quantized = [(n, t) for n, t in graph.tensors.items() if t.quant is not None]
    per_channel = sum(1 for _, t in quantized if t.quant.per_channel)
    return {
        "quantized_tensors": len(quantized),
        "per_channel": per_channel,
        "per_tensor": len(quantized) - per_channel,
        "dtypes": dict(sorted(Counter(t.dtype for _, t in quantized).items())),
        "tensors": [{"name": n, "dtype": t.dtype, **quant_json(t.quant)} for n, t in quantized],
    }


# ---- text --------------------------------------------------------------------------------

def print_summary(summary: dict) -> None:
    from .report import print_table

    params = summary["parameters"]
    print(f"{summary['file']}: {summary['format']}, {summary['op_count']} ops, "
          f"{params['count']} parameters ({params['bytes']} bytes)"
          + (f", {summary['subgraphs']} subgraphs (main detailed below)" if summary["subgraphs"] > 1 else ""))
    if "subgraph_details" in summary:
        _section(print_table, "subgraphs", ["#", "name", "inputs", "outputs", "ops", "calls", "called by"],
                 [_subgraph_row(d) for d in summary["subgraph_details"]])
    io_rows = [(role, t["name"], _shape(t["shape"]), t["dtype"], quant_text_of(t["quantization"]))
               for role in ("input", "output") for t in summary[role + "s"]]
    _section(print_table, "inputs and outputs", ["", "tensor", "shape", "dtype", "quantization"], io_rows)
    if "graphdef_ops" in summary:
        _section(print_table, "GraphDef nodes by TF op (whole file)", ["TF op", "count"],
                 list(summary["graphdef_ops"].items()))
        title = "ops as imported (TF ops mapped to IR ops, before any pass)"
    else:
        title = "ops"
    _section(print_table, title, ["op", "count"], list(summary["ops"].items()))
    _section(print_table, "parameters (constants)", ["dtype", "tensors", "values", "bytes"],
             [(d, e["tensors"], e["count"], e["bytes"]) for d, e in params["by_dtype"].items()]
             + [("total", params["tensors"], params["count"], params["bytes"])])
    q = summary["quantization"]
    if q["quantized_tensors"]:
        _section(print_table, f"quantization: {q['quantized_tensors']} tensors "
                 f"({q['per_channel']} per-channel, {q['per_tensor']} per-tensor)",
                 ["dtype", "scheme", "tensors", "e.g."], _quant_rows(q["tensors"]))
    else:
        print("\nquantization: none (no tensor has scales)")
    sparse = summary["sparsity"]
    if sparse["sparse_tensors"]:
        _section(print_table, f"sparse constants: {sparse['sparse_tensors']}, "
                 f"{sparse['stored_bytes']} bytes stored for {sparse['dense_bytes']} dense "
                 f"({sparse['saved_bytes']} saved)",
                 ["tensor", "shape", "dtype", "density", "stored", "dense", "format"],
                 [(t["name"], _shape(t["shape"]), t["dtype"], f"{t['density']:.1%}",
                   t["stored_bytes"], t["dense_bytes"], t["format"]) for t in sparse["tensors"]])
    if "compression" in summary:
        from .compress.inspect import print_compression

        print_compression(summary["compression"], print_table)
    if "tensors" in summary:
        _section(print_table, "tensors", ["tensor", "kind", "shape", "dtype", "bytes", "quantization"],
                 [(t["name"], t["kind"], _shape(t["shape"]), t["dtype"],
                   "?" if t["bytes"] is None else t["bytes"], quant_text_of(t["quantization"]))
                  for t in summary["tensors"]])


def _subgraph_row(detail: dict) -> tuple:
    def tensors(ts):
        return ", ".join(f"{t['name']} {_shape(t['shape'])} {t['dtype']}" for t in ts)

    def calls(cs, arrow):
        return ", ".join(f"{c['op']} {c['attr'].removesuffix('_subgraph_index')} {arrow} "
                         f"{c['subgraph']} {c['name']}" for c in cs)

    return (detail["index"], detail["name"], tensors(detail["inputs"]), tensors(detail["outputs"]),
            ", ".join(f"{op} {n}" for op, n in detail["ops"].items()),
            calls(detail["calls"], "->"), calls(detail["called_by"], "from"))


def _section(print_table, title, columns, rows) -> None:
    print()
    print_table(title, columns, rows)


def _quant_rows(tensors: list[dict]) -> list[tuple]:
    groups: dict[tuple[str, str], list[str]] = {}
    for t in tensors:
        groups.setdefault((t["dtype"], t["scheme"]), []).append(t["name"])
    return [(dtype, scheme, len(names), ", ".join(names[:2]) + (", ..." if len(names) > 2 else ""))
            for (dtype, scheme), names in sorted(groups.items())]


def quant_text_of(info: dict | None) -> str:
    if info is None:
        return ""
    if info["scheme"] == "per-channel":
        return f"per-channel axis {info['axis']} ({info['channels']} scales)"
    return f"scale {info['scale']:.6g} zp {info['zero_point']}"


def _shape(shape: list[int] | None) -> str:
    return "?" if shape is None else "[" + ", ".join("?" if d < 0 else str(d) for d in shape) + "]"


def inspect_command(path: str, with_tensors: bool, as_json: bool, picture: str | None, cut: dict) -> None:
    import json

    import click

    loaded = load_model(path, **cut)
    if picture:
        from .graphviz import write_picture

        write_picture(loaded.graph, picture, path)
        click.echo(f"wrote {picture}", err=True)
    summary = summarize(loaded, with_tensors)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        print_summary(summary)
