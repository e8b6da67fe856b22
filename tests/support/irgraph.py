"""Tiny IR graphs for pass unit tests, and running a pass stage on them."""
from __future__ import annotations

import numpy as np

from toco_py.ir import Graph, Op, Tensor, const_tensor
from toco_py.passes.driver import run_stage
from toco_py.passes.propagate_shapes import propagate_shapes


def build(inputs: dict, consts: dict, ops: list[tuple], outputs: list[str]) -> Graph:
    """ops: (type, [inputs], [outputs], attrs). Shapes are inferred."""
    g = Graph()
    for name, shape in inputs.items():
        g.add_tensor(Tensor(name, tuple(shape), "float32"))
        g.inputs.append(name)
    for name, value in consts.items():
        g.add_tensor(const_tensor(name, np.asarray(value)))
    for type_, ins, outs, *attrs in ops:
        for out in outs:
            g.add_tensor(Tensor(out))
        g.add_op(Op(type_, list(ins), list(outs), dict(attrs[0]) if attrs else {}, outs[0]))
    g.outputs = list(outputs)
    propagate_shapes(g)
    return g


def append_op(g: Graph, op_type: str, inputs: list, attrs: dict | None, outputs: int,
              const) -> list[str]:
    """Adds an op with `outputs` fresh outputs; an input that is not a tensor name becomes a
    constant through const(value). Returns the output names."""
    names = [g.unique_name(f"{op_type.lower()}_{i}") for i in range(outputs)]
    for n in names:
        g.add_tensor(Tensor(n))
    g.add_op(Op(op_type, [i if isinstance(i, str) else const(i) for i in inputs], names,
                attrs or {}))
    return names


def run_passes(graph: Graph, *passes) -> int:
    return run_stage(graph, "test", list(passes))


def types(graph: Graph) -> list[str]:
    return [op.type for op in graph.ops]


def evaluate(graph: Graph, feeds: dict) -> dict:
    """Runs the graph with the IR kernels (the reference semantics of each op)."""
    from toco_py.ops import REGISTRY

    values = {n: t.data for n, t in graph.tensors.items() if t.is_const}
    values.update(feeds)
    for op in graph.ops:
        result = REGISTRY[op.type].kernel(op, *[values[n] if n else None for n in op.inputs])
        result = result if isinstance(result, (tuple, list)) else [result]
        values.update(zip(op.outputs, result))
    return {n: values[n] for n in graph.outputs}
