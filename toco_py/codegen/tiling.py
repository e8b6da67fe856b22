"""Patch-based execution of a network's first stage (MCUNetV2, Lin et al. 2021): the ops from
the input up to a cut tensor run tile by tile over the cut's height and width, each tile
computing only the region of every tensor its outputs need (the receptive field, overlapping
its neighbours' and recomputed), so the stage's large activations are never whole in memory.

It is a graph rewrite, so the planner, the kernels and the interpreter need nothing new: per
tile, SLICE crops each input to the region an op reads; a convolution whose region reaches
past the image gets its own padding as a PAD (the input's zero point, which adds nothing to
the sums, as the untiled kernel's skipped taps) and runs VALID; the tiles of the cut are
joined by CONCATENATION. The products and sums are the untiled ones, so an int8 network stays
bit for bit the same (tests/test_codegen_tiling.py holds the interpreter to that).

The stage is a prefix of the ops: CONV_2D and DEPTHWISE_CONV_2D, element-wise ops, QUANTIZE
and DEQUANTIZE (per tensor) and same-shape ADD, SUB and MUL, on NHWC tensors of batch 1, read
from the graph inputs or from each other; the cut is a tensor of the stage that nothing after
it but the cut itself is read from. `options` lists every cut and tile count with the arena
and multiply-accumulates they take; `choose` picks for --max_arena.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import TocoError
from ..ir import Graph, Op, Tensor
from ..ops import has_trait
from ..ops.common import same_padding
from ..ops.registry import multiply_accumulates
from ..progress import with_progress
from .planner import PlanError, plan_memory

CONVOLUTIONS = ("CONV_2D", "DEPTHWISE_CONV_2D")
SAME_SHAPE_BINARY = ("ADD", "SUB", "MUL")
TILE_COUNTS = (2, 3, 4, 6, 8)  # tiles per side


@dataclass(frozen=True)
class Box:
    """Rows [r0, r1) and columns [c0, c1) of an NHWC tensor."""
    r0: int
    r1: int
    c0: int
    c1: int

    def union(self, other: Box) -> Box:
        return Box(min(self.r0, other.r0), max(self.r1, other.r1), min(self.c0, other.c0),
                   max(self.c1, other.c1))

    @property
    def height(self) -> int:
        return self.r1 - self.r0

    @property
    def width(self) -> int:
        return self.c1 - self.c0


@dataclass
class TilingOption:
    cut: str          # the tensor computed tile by tile
    tiles: int        # per side: tiles x tiles
    arena: int        # bytes of the tiled graph's arena
    macs: int         # multiply-accumulates of its convolutions
    graph: Graph

    def describe(self, untiled_macs: int) -> str:
        extra = self.macs / untiled_macs - 1 if untiled_macs else 0.0
        return f"{self.tiles}x{self.tiles} tiles up to {self.cut!r}: arena {self.arena} bytes, {extra:+.1%} MACs"


def _activation_inputs(graph: Graph, op: Op) -> list[str]:
    return [n for n in (op.inputs[:1] if op.type in CONVOLUTIONS else op.inputs)
            if n and not graph.tensors[n].is_const]


def _nhwc(graph: Graph, name: str) -> bool:
    shape = graph.tensors[name].shape
    return shape is not None and len(shape) == 4 and shape[0] == 1 and all(d > 0 for d in shape)


def _tileable(graph: Graph, op: Op) -> bool:
    if len(op.outputs) != 1 or not _nhwc(graph, op.outputs[0]):
        return False
    inputs = _activation_inputs(graph, op)
    if not inputs or not all(_nhwc(graph, n) for n in inputs):
        return False
    if op.type in CONVOLUTIONS:
        return graph.tensors[op.inputs[1]].is_const and len(inputs) == 1
    out_shape = graph.tensors[op.outputs[0]].shape
    if any(graph.tensors[n].shape != out_shape for n in op.inputs if n):
        return False  # no broadcasting, no constant operands
    if op.type in ("QUANTIZE", "DEQUANTIZE"):
        return all(graph.tensors[n].quant is None or not graph.tensors[n].quant.per_channel
                   for n in (*op.inputs, *op.outputs))
    return op.type in SAME_SHAPE_BINARY or (has_trait(op.type, "elementwise") and len(op.inputs) == 1)


def stage_ends(graph: Graph) -> list[int]:
    """The op indices e such that ops[0..e] form a stage and op e's output can be its cut."""
    inside: set[str] = set()
    ends = []
    for e, op in enumerate(graph.ops):
        if not _tileable(graph, op) or not all(n in inside or n in graph.inputs for n in _activation_inputs(graph, op)):
            break
        inside.add(op.outputs[0])
        cut = op.outputs[0]
        later = {n for o in graph.ops[e + 1:] for n in o.inputs}
        escaping = (inside - {cut}) & (later | set(graph.outputs))
        if not escaping and cut not in graph.outputs and min(graph.tensors[cut].shape[1:3]) >= 2:
            ends.append(e)
    return ends


def _window(graph: Graph, op: Op) -> tuple[int, ...]:
    """(kernel h, w, stride h, w, dilation h, w, pad top, left) of a convolution."""
    x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    kh, kw = w.shape[1], w.shape[2]
    sh, sw = op.attrs.get("stride_h", 1), op.attrs.get("stride_w", 1)
    dh, dw = op.attrs.get("dilation_h_factor", 1), op.attrs.get("dilation_w_factor", 1)
    padding = op.attrs.get("padding", "VALID")
    top = same_padding(x.shape[1], kh, sh, dh, padding)[0]
    left = same_padding(x.shape[2], kw, sw, dw, padding)[0]
    return kh, kw, sh, sw, dh, dw, top, left


def _reads(graph: Graph, op: Op, out: Box) -> Box:
    """The input region an op reads for an output region, unclipped (a convolution's may
    reach past the image: that part is padding)."""
    if op.type not in CONVOLUTIONS:
        return out
    kh, kw, sh, sw, dh, dw, top, left = _window(graph, op)
    return Box(out.r0 * sh - top, (out.r1 - 1) * sh - top + (kh - 1) * dh + 1,
               out.c0 * sw - left, (out.c1 - 1) * sw - left + (kw - 1) * dw + 1)


def _clip(box: Box, shape: tuple[int, ...]) -> Box:
    return Box(max(box.r0, 0), min(box.r1, shape[1]), max(box.c0, 0), min(box.c1, shape[2]))


def _needs(graph: Graph, ops: list[Op], cut: str, tile: Box) -> dict[str, Box]:
    """The region of each tensor of the stage the tile needs: the bounding box of what its
    readers read of it."""
    need = {cut: tile}
    for op in reversed(ops):
        out = op.outputs[0]
        if out not in need:
            continue  # read by nothing on the way to the cut
        for name in _activation_inputs(graph, op):
            region = _clip(_reads(graph, op, need[out]), graph.tensors[name].shape)
            need[name] = need[name].union(region) if name in need else region
    return need


class _Builder:
    """The tiled graph: the stage's ops once per tile on regions, then the rest."""

    def __init__(self, graph: Graph, stage: list[Op]) -> None:
        self.old, self.stage = graph, stage
        self.new = Graph()
        produced = {op.outputs[0] for op in stage}
        cut = stage[-1].outputs[0]
        for name, t in graph.tensors.items():
            if name not in produced or name == cut:
                self.new.add_tensor(t)
        self.new.inputs, self.new.outputs = list(graph.inputs), list(graph.outputs)

    def tensor_like(self, name: str, box: Box, base: str) -> str:
        t = self.old.tensors[name]
        fresh = self.new.unique_name(base)
        self.new.add_tensor(Tensor(fresh, (1, box.height, box.width, t.shape[3]), t.dtype, quant=t.quant))
        return fresh

    def const(self, base: str, values) -> str:
        return self.new.add_const(base, np.asarray(values, np.int32))

    def crop(self, source: tuple[str, Box], want: Box, name: str) -> str:
        """The part `want` of a patch (tensor, region it holds)."""
        patch, held = source
        if held == want:
            return patch
        out = self.tensor_like(name, want, f"{name}/crop")
        begin = [0, want.r0 - held.r0, want.c0 - held.c0, 0]
        size = [1, want.height, want.width, self.old.tensors[name].shape[3]]
        self.new.add_op(Op("SLICE", [patch, self.const(f"{name}/crop_begin", begin),
                                     self.const(f"{name}/crop_size", size)], [out]))
        return out

    def tile(self, cut: str, tile: Box, k: int) -> str:
        need = _needs(self.old, self.stage, cut, tile)
        patches: dict[str, tuple[str, Box]] = {}
        for name in self.old.inputs:
            if name in need:  # a graph input, whole in memory: its region copied out
                patches[name] = (name, Box(0, self.old.tensors[name].shape[1], 0, self.old.tensors[name].shape[2]))
        for op in self.stage:
            out = op.outputs[0]
            if out not in need:
                continue
            inputs = list(op.inputs)
            for i, name in enumerate(op.inputs):
                if not name or self.old.tensors[name].is_const:
                    continue
                reads = _reads(self.old, op, need[out])
                shape = self.old.tensors[name].shape
                inputs[i] = self.crop(patches[name], _clip(reads, shape), name)
                pads = [max(0, -reads.r0), max(0, reads.r1 - shape[1]), max(0, -reads.c0), max(0, reads.c1 - shape[2])]
                if any(pads):
                    padded = self.tensor_like(name, Box(reads.r0, reads.r1, reads.c0, reads.c1), f"{name}/pad{k}")
                    paddings = self.const(f"{name}/paddings", [[0, 0], pads[:2], pads[2:], [0, 0]])
                    self.new.add_op(Op("PAD", [inputs[i], paddings], [padded]))
                    inputs[i] = padded
            attrs = dict(op.attrs, padding="VALID") if op.type in CONVOLUTIONS else dict(op.attrs)
            result = self.tensor_like(out, need[out], f"{out}/tile{k}")
            self.new.add_op(Op(op.type, inputs, [result], attrs, name=op.name))
            patches[out] = (result, need[out])
        return patches[cut][0]

    def join(self, cut: str, grid: list[list[str]]) -> None:
        """The tiles of the cut, row by row, into the cut tensor itself."""
        rows = []
        for r, row in enumerate(grid):
            if len(row) == 1:
                rows.append(row[0])
                continue
            shapes = [self.new.tensors[n].shape for n in row]
            joined = self.new.unique_name(f"{cut}/row{r}")
            self.new.add_tensor(Tensor(joined, (1, shapes[0][1], sum(s[2] for s in shapes), shapes[0][3]),
                                       self.old.tensors[cut].dtype, quant=self.old.tensors[cut].quant))
            self.new.add_op(Op("CONCATENATION", row, [joined], {"axis": 2, "fused_activation_function": "NONE"}))
            rows.append(joined)
        self.new.add_op(Op("CONCATENATION", rows, [cut], {"axis": 1, "fused_activation_function": "NONE"}))


def _split(size: int, parts: int) -> list[tuple[int, int]]:
    edges = [round(i * size / parts) for i in range(parts + 1)]
    return [(a, b) for a, b in zip(edges, edges[1:]) if b > a]


def tile_graph(graph: Graph, end: int, tiles: int) -> Graph:
    """The graph with ops[0..end] (a stage: stage_ends) run tiles x tiles over their cut."""
    stage = graph.ops[:end + 1]
    cut = stage[-1].outputs[0]
    shape = graph.tensors[cut].shape
    builder = _Builder(graph, stage)
    grid = []
    for r0, r1 in _split(shape[1], tiles):
        grid.append([builder.tile(cut, Box(r0, r1, c0, c1), len(grid) * tiles + c)
                     for c, (c0, c1) in enumerate(_split(shape[2], tiles))])
    builder.join(cut, grid)
    for op in graph.ops[end + 1:]:
        builder.new.add_op(Op(op.type, list(op.inputs), list(op.outputs), dict(op.attrs), name=op.name))
    return builder.new


def conv_macs(graph: Graph) -> int:
    """Multiply-accumulates of the graph's weighted ops: convolutions, FULLY_CONNECTED."""
    return sum(multiply_accumulates(graph, op) for op in graph.ops)


def options(graph: Graph) -> list[TilingOption]:
    """Every cut and tile count, with the arena and MACs each takes."""
    candidates = [(end, tiles) for end in stage_ends(graph) for tiles in TILE_COUNTS
                  if tiles <= min(graph.tensors[graph.ops[end].outputs[0]].shape[1:3])]
    found = []
    for end, tiles in with_progress(candidates, len(candidates), "tilings"):
        tiled = tile_graph(graph, end, tiles)
        try:
            arena = plan_memory(tiled).arena_size
        except PlanError:
            continue
        found.append(TilingOption(graph.ops[end].outputs[0], tiles, arena, conv_macs(tiled), tiled))
    return found


def choose(graph: Graph, max_arena: int) -> tuple[Graph, str]:
    """The graph to bundle within max_arena bytes of arena: as it is if it fits, else the
    tiling that fits with the fewest MACs; TocoError (one line) naming the smallest arena
    reachable and each option's cost when none fits. Also a line saying what was chosen."""
    untiled = plan_memory(graph).arena_size
    if untiled <= max_arena:
        return graph, f"arena {untiled} bytes untiled, within --max_arena {max_arena}"
    base = conv_macs(graph)
    found = options(graph)
    fitting = [o for o in found if o.arena <= max_arena]
    if not fitting:
        ranked = sorted(found, key=lambda o: (o.arena, o.macs))[:4]
        smallest = min([untiled, *(o.arena for o in found)])
        listed = "; ".join(o.describe(base) for o in ranked) or "no stage of convolutions from the input to tile"
        raise TocoError(f"--max_arena {max_arena}: the smallest arena reachable is {smallest} bytes "
                        f"(untiled {untiled}; {listed}); give at least {smallest}")
    best = min(fitting, key=lambda o: (o.macs, o.tiles, o.arena))
    return best.graph, f"{best.describe(base)} (untiled: arena {untiled} bytes)"
