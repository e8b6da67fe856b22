"""Sparse constants across the passes that rewrite constants (the quantizers, pruning).

Those passes see constants, not a DENSIFY in front of them, so `absorb_densify` first turns
each DENSIFY of a sparse constant into that constant, dense in Tensor.data with its layout
in Tensor.sparsity; `insert_densify` afterwards puts a DENSIFY in front of every op that
LiteRT would not let read a sparse constant (every op but a FULLY_CONNECTED whose weights it
takes sparse: tflite/sparsity.reads_sparse), so the model keeps its sparse storage.
"""
from __future__ import annotations

from ..ir import Graph, Op, Tensor
from ..tflite.sparsity import reads_sparse


def absorb_densify(graph: Graph) -> int:
    """Each DENSIFY of a constant becomes the constant it makes; returns how many."""
    absorbed = 0
    for op in list(graph.ops):
        if op.type != "DENSIFY" or op.outputs[0] in graph.outputs:
            continue
        src, out = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
        if src.data is None:
            continue
        out.data, out.sparsity, out.quant = src.data, src.sparsity, out.quant or src.quant
        graph.remove_op(op)
        absorbed += 1
    if absorbed:
        graph.remove_dead()
    return absorbed


def insert_densify(graph: Graph) -> int:
    """A DENSIFY of each sparse constant that an op reads which cannot read it sparse (the
    readers that can keep reading the constant); returns how many."""
    inserted = 0
    for name, t in list(graph.tensors.items()):
        if t.sparsity is None or t.data is None or name in graph.outputs:
            continue
        readers = graph.consumers(name)
        direct = [op for op in readers
                  if all(reads_sparse(graph, op, k) for k, n in enumerate(op.inputs) if n == name)]
        if len(direct) == len(readers):
            continue
        stored = graph.unique_name(f"{name}/sparse")
        graph.add_tensor(Tensor(stored, t.shape, t.dtype, t.data, t.quant, sparsity=t.sparsity))
        for op in direct:
            graph.set_inputs(op, [stored if n == name else n for n in op.inputs])
        t.data, t.sparsity = None, None
        graph.add_op(Op("DENSIFY", [stored], [name], {}, name), before=graph.ops[0])
        inserted += 1
    return inserted
