"""Ops a bundle runs in place over a dying input's bytes, beyond the element-wise ones of
test_codegen_planner.py: the plan shares the bytes, and the bundle, built with the sanitizers,
matches the interpreter (integers exactly, floats by the tolerance policy)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.support.codegen_check import check_bundle, roundtrip
from tests.support.irgraph import append_op
from tests.support.kernel_check import quant
from toco_py.codegen.planner import plan_memory
from toco_py.ir import Graph, Tensor
from toco_py.passes.propagate_shapes import propagate_shapes

SANITIZERS = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"


def _graph(shape, dtype="float32") -> tuple[Graph, callable]:
    g = Graph()
    g.add_tensor(Tensor("x", shape, dtype, quant=quant(0.05, 3) if dtype == "int8" else None))
    g.inputs = ["x"]

    def op(op_type, inputs, attrs=None):
        (out,) = append_op(g, op_type, inputs, attrs, 1, lambda v: g.add_const("c", np.asarray(v)))
        return out
    return g, op


PADDINGS = {
    "height_and_width": [[0, 0], [1, 2], [2, 1], [0, 0]],
    "every_axis": [[1, 1], [0, 3], [1, 0], [2, 1]],
    "channels_only": [[0, 0], [0, 0], [0, 0], [3, 2]],
    "before_only": [[0, 0], [2, 0], [1, 0], [0, 0]],
    "after_only": [[0, 0], [0, 2], [0, 1], [0, 0]],
    "none": [[0, 0], [0, 0], [0, 0], [0, 0]],
}


@pytest.mark.parametrize("dtype", ["float32", "int8"])
@pytest.mark.parametrize("paddings", sorted(PADDINGS))
def test_pad_runs_in_place_over_its_dying_input(paddings, dtype, tmp_path):
    """x -> RELU -> PAD -> RELU: PAD's output takes the bytes of the RELU's that dies there,
    and pad.c, writing the output last row first, never overwrites input it has yet to read."""
    g, op = _graph((1, 5, 6, 3), dtype)
    relu = op("RELU", ["x"])
    padded = op("PAD", [relu, np.int32(PADDINGS[paddings])])
    g.outputs = [op("RELU", [padded])]
    propagate_shapes(g)
    if dtype == "int8":
        for name in (relu, padded, g.outputs[0]):
            g.tensors[name].dtype, g.tensors[name].quant = "int8", quant(0.05, 3)
    graph = roundtrip(g)
    assert plan_memory(graph).aliases.get(padded) == relu
    check_bundle(graph, tmp_path, name="padded", opt="-O1 -g", extra_cflags=SANITIZERS, more_seeds=range(1, 4))


def test_pad_keeps_an_input_still_read_and_mirror_pad_never_in_place():
    g, op = _graph((1, 4, 4, 2))
    relu = op("RELU", ["x"])
    padded = op("PAD", [relu, np.int32(PADDINGS["every_axis"])])
    mirrored = op("MIRROR_PAD", [relu, np.int32(PADDINGS["height_and_width"])], {"mode": "REFLECT"})
    g.outputs = [padded, mirrored]
    propagate_shapes(g)
    aliases = plan_memory(g).aliases
    assert padded not in aliases and mirrored not in aliases  # relu is read after the PAD
    g.outputs = [mirrored]
    g.ops = [o for o in g.ops if o.type != "PAD"]
    assert mirrored not in plan_memory(g).aliases  # MIRROR_PAD reads back: it may not run in place
