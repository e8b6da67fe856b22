"""RandomUniform -> RANDOM_UNIFORM: the draws dropout makes in a branch taken at run time (a
cond on a training flag the app feeds). LiteRT's kernel draws float32 from an int32 shape;
other RandomUniforms stay, and the writer names them."""
from __future__ import annotations

from ..ir import Graph, Op
from .base import Pass


def legalize_random_uniform(graph: Graph, op: Op) -> bool:
    if op.type != "RandomUniform" or op.attrs.get("dtype") != "float32":
        return False
    if graph.tensors[op.inputs[0]].dtype != "int32":
        return False
    graph.replace_op(op, [Op("RANDOM_UNIFORM", op.inputs, op.outputs,
                             {"seed": op.attrs.get("seed", 0), "seed2": op.attrs.get("seed2", 0)}, op.name)])
    return True


PASS = Pass("legalize_random_uniform", legalize_random_uniform)
