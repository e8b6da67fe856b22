"""Ops a bundle runs in place over a dying input's bytes, beyond the element-wise ones of
test_codegen_planner.py: the plan shares the bytes, and the bundle, built with the sanitizers,
matches the interpreter (integers exactly, floats by the tolerance policy)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.support.codegen_check import check_bundle, roundtrip
from tests.support.irgraph import append_op
from tests.support.kernel_check import quant
from toco_py.codegen import mcu
from toco_py.codegen.planner import PlanError, aligned, check_plan, plan_memory
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


def _joined_graph(dtype: str) -> tuple[Graph, dict[str, str]]:
    """Detection-head style: three branches of [1, n, 4] boxes joined along axis 1 (each one
    contiguous run of the output), one of them itself a PACK along axis 0 of two rows, and a
    CONCATENATION along the last axis, whose inputs are strided and must be copied."""
    g, op = _graph((1, 6, 4), dtype)
    a = op("RELU", ["x"])
    b = op("TANH" if dtype == "float32" else "RELU6", ["x"])
    rows = [op("RELU", [op("SLICE", ["x", np.int32([0, k, 0]), np.int32([1, 1, 4])])]) for k in (1, 4)]
    stacked = op("PACK", [op("RESHAPE", [r, np.int32([1, 4])]) for r in rows], {"axis": 0, "values_count": 2})
    packed = op("RESHAPE", [stacked, np.int32([1, 2, 4])])
    joined = op("CONCATENATION", [a, packed, b], {"axis": 1})
    wide = op("CONCATENATION", [op("RELU", [joined]), op("RELU", [joined])], {"axis": 2})
    g.outputs = [wide]
    propagate_shapes(g)
    if dtype == "int8":
        for name in g.tensors:
            if not g.tensors[name].is_const:
                g.tensors[name].dtype, g.tensors[name].quant = "int8", quant(0.05, 3)
    return roundtrip(g), {"a": a, "b": b, "packed": packed, "joined": joined, "wide": wide}


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_join_inputs_are_written_in_place_by_their_producers(dtype, tmp_path):
    graph, t = _joined_graph(dtype)
    plan = plan_memory(graph)
    inside = {n: at for n, (out, at) in plan.inside.items() if out == t["joined"]}
    # Runs of 6x4, 2x4 and 6x4 elements: at bytes 0, 96 and 128 in float32; in int8 at 0, 24
    # and 32, where the second is not 16-byte aligned and is copied. The axis-2 join's inputs
    # are strided runs: copied.
    want = {t["a"]: 0, t["packed"]: 96, t["b"]: 128} if dtype == "float32" else {t["a"]: 0, t["b"]: 32}
    assert inside == want, plan.inside
    assert not any(out == t["wide"] for out, _ in plan.inside.values())
    for name, at in inside.items():
        assert plan.offsets[name] == plan.offsets[t["joined"]] + at
    check_bundle(graph, tmp_path, name="joined", opt="-O1 -g", extra_cflags=SANITIZERS, more_seeds=range(1, 4))


def test_checker_refuses_an_input_at_the_wrong_offset():
    graph, t = _joined_graph("float32")
    plan = plan_memory(graph)
    plan.offsets[t["b"]] += 16
    plan.inside[t["b"]] = (t["joined"], plan.inside[t["b"]][1] + 16)
    with pytest.raises(PlanError, match="cannot be written into"):
        check_plan(graph, plan)


def test_join_stays_a_copy_where_in_place_would_raise_the_peak():
    """A small first run waits while a large tensor lives: writing it into the output would hold
    the whole output's bytes through that, so the plan copies instead."""
    g, op = _graph((1, 4))
    small = op("RELU", ["x"])
    big = op("TILE", [op("RELU", ["x"]), np.int32([1, 256])])
    late = op("RELU", [op("MEAN", [big, np.int32([1])], {"keep_dims": True})])
    late = op("TILE", [late, np.int32([1, 64])])
    g.outputs = [op("CONCATENATION", [small, late], {"axis": 1})]
    propagate_shapes(g)
    plan = plan_memory(g)
    assert plan.inside == {}
    assert plan.arena_size < aligned(4 * (4 + 64)) + aligned(4 * 4 * 256)


def _stepped_joins_graph() -> tuple[Graph, dict[str, str]]:
    """int8, fire-module style: two convolutions of one squeezed input joined along the
    channels (the graph's peak), a strided depthwise one and a pooling of that joined along
    the channels too (the pooling's output is copied), then two convolutions of different
    widths joined along the width; 16 or 32 channels a part, so that each part's offset is
    aligned."""
    from tests.test_codegen_int8_nn import Int8Chain, pool, window

    c = Int8Chain((2, 6, 7, 3))
    same, valid = window("SAME", act="RELU"), window("VALID")
    (squeezed,) = c.op("CONV_2D", ["x", *c.filter(8, 1, 1, 3)], same)
    (e1,) = c.op("CONV_2D", [squeezed, *c.filter(32, 1, 1, 8)], same)
    (e3,) = c.op("CONV_2D", [squeezed, *c.filter(32, 3, 3, 8)], same)
    (fire,) = c.op("CONCATENATION", [e1, e3], {"axis": 3, "fused_activation_function": "NONE"})
    (dw,) = c.op("DEPTHWISE_CONV_2D", [fire, *c.filter(1, 3, 3, 64, axis=3)],
                 {**same, "depth_multiplier": 1, "stride_h": 2, "stride_w": 2})
    (pooled,) = c.op("MAX_POOL_2D", [fire], pool("SAME", (3, 3), (2, 2)))
    (mixed,) = c.op("CONCATENATION", [dw, pooled], {"axis": -1, "fused_activation_function": "NONE"})
    (narrow,) = c.op("CONV_2D", [mixed, *c.filter(16, 1, 3, 128)], valid)
    (full,) = c.op("CONV_2D", [mixed, *c.filter(16, 1, 1, 128)], valid)
    (wide,) = c.op("CONCATENATION", [narrow, full], {"axis": 2, "fused_activation_function": "NONE"})
    graph = c.finish([wide])
    return graph, {"e1": e1, "e3": e3, "fire": fire, "dw": dw, "pooled": pooled, "mixed": mixed,
                   "narrow": narrow, "full": full, "wide": wide}


def test_convolutions_write_their_part_of_a_join_with_steps(tmp_path):
    """Channel and width joins of convolutions' outputs: each convolution writes its pixels
    straight into the join's output (plan.steps), the join copies only the pooling's part; the
    arena is smaller than with the copies (the two expanded halves and their join are never
    all alive); the bundle matches the interpreter exactly, under the sanitizers."""
    graph, t = _stepped_joins_graph()
    plan = plan_memory(graph)
    # (row step, pixel step): rows of 7 pixels of 64 channels, of 4 of 128; of 2 + 4 of 16.
    assert plan.steps == {t["e1"]: (7 * 64, 64), t["e3"]: (7 * 64, 64), t["dw"]: (4 * 128, 128),
                          t["narrow"]: (6 * 16, 16), t["full"]: (6 * 16, 16)}, plan.steps
    assert {n: plan.inside[n] for n in plan.steps} == {
        t["e1"]: (t["fire"], 0), t["e3"]: (t["fire"], 32), t["dw"]: (t["mixed"], 0),
        t["narrow"]: (t["wide"], 0), t["full"]: (t["wide"], 2 * 16)}
    assert t["pooled"] not in plan.inside
    assert plan.arena_size < plan_memory(graph, in_place=False).arena_size
    check_bundle(graph, tmp_path / "host", name="joins", opt="-O1 -g", extra_cflags=SANITIZERS,
                 more_seeds=range(1, 4))


@pytest.mark.skipif(bool(mcu.missing_tools()), reason=f"{', '.join(mcu.missing_tools())} not found: {mcu.INSTALL_HINT}")
def test_joins_with_steps_on_the_m4(tmp_path):
    """The same bundle on the Cortex-M4 under QEMU (its DSP convolution writing with steps)."""
    graph, _ = _stepped_joins_graph()
    assert plan_memory(graph).steps
    check_bundle(graph, tmp_path, name="joins", opt="-O2", target="cortex-m4", more_seeds=(1,))


def test_checker_refuses_steps_a_producer_cannot_write():
    graph, t = _stepped_joins_graph()
    plan = plan_memory(graph)
    plan.steps[t["e3"]] = (7 * 64, 32)
    with pytest.raises(PlanError, match="cannot be written into"):
        check_plan(graph, plan)
    plan = plan_memory(graph)
    plan.steps[t["pooled"]], plan.inside[t["pooled"]] = (4 * 128, 128), (t["mixed"], 64)
    plan.offsets[t["pooled"]] = plan.offsets[t["mixed"]] + 64
    with pytest.raises(PlanError, match="cannot be written into"):
        check_plan(graph, plan)
