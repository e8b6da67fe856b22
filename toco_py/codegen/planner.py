"""Static memory plan of a C bundle: one arena, an offset for every activation tensor.

Time is the op index. A graph input is alive from the start (op 0), a graph output to the
end (the last op), any other tensor from the op that produces it to the last op that reads
it. Two tensors alive at the same op must not share bytes, with two exceptions. A
reshape-like op (RESHAPE, SQUEEZE, EXPAND_DIMS) has in its output the input's bytes in the
same order: when the input dies at that op, the output takes over its buffer and the op
costs nothing. An element-wise op (unary, broadcasting binary, or a requantization) writes
output element i from element i of an input of the output's shape alone, after reading it:
when such an input dies at that op (and has the output's element size), the output takes
over its buffer and the kernel runs in place. So does PAD's output over its dying input:
pad.c writes it last row first, every element at or after its input position (in a plain
graph; not across the subgraphs of model_plan.py).

A CONCATENATION or PACK along an axis with no longer axis before it holds each input as one
contiguous run of its bytes: an input that dies there (with the output's type and params) is
written by its producer straight into its run, and the join copies nothing for it. The
output's bytes are then taken from the first such input's production on, which can raise the
peak where a run waits empty while other large tensors live: plan_memory keeps whichever plan
has the smaller arena (every join in place, only the runs (none with the steps below), or
none).

A CONCATENATION of NHWC tensors along their width or channels holds each input's pixels
with steps (channels: every pixel's run; width: every row's run). An input computed there
by an int8 convolution, whose kernels write their output with such steps (tk_conv2d_s8's
output_steps), is written into the output the same way; the MemoryPlan's `steps` give them.

Buffers (tensors sharing bytes) are placed largest first, each at the lowest offset where
it fits among the buffers already placed whose lifetimes overlap its own (TFLite Micro's
greedy planner). `check_plan` verifies a plan without trusting the placement code.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import TocoError
from ..ir import Graph
from ..ops import has_trait
from . import cformat

ALIGNMENT = 16
# Element by element too, in place where input and output elements have one size (int8 ->
# int8 requantization).
REQUANTIZING = ("QUANTIZE", "DEQUANTIZE")
# Larger outputs written backward over their input (pad.c): MIRROR_PAD reads back and is none.
PADDING = ("PAD", "PADV2")
JOINS = ("CONCATENATION", "PACK")
# Ops whose int8 C kernels write their output with steps (output_steps): the convolutions.
STEPPED_WRITERS = ("CONV_2D", "DEPTHWISE_CONV_2D")
RESOURCE = "resource"  # the dtype of a variable's handle


class PlanError(TocoError):
    """A memory plan is wrong (a bug in the planner, or a plan edited by hand)."""


@dataclass(frozen=True)
class Lifetime:
    first: int  # first op index at which the tensor must hold its value
    last: int   # last op index at which it is read (or the end, for graph outputs)

    def overlaps(self, other: Lifetime) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass
class MemoryPlan:
    offsets: dict[str, int]          # tensor -> byte offset in the arena
    sizes: dict[str, int]            # tensor -> bytes it occupies (unaligned)
    lifetimes: dict[str, Lifetime]
    aliases: dict[str, str] = field(default_factory=dict)  # output -> input whose bytes it reuses
    arena_size: int = 0
    # A join's input written in place -> (the join's output, the input's byte offset in it).
    inside: dict[str, tuple[str, int]] = field(default_factory=dict)
    # Those of them written with steps -> (row step, pixel step) in elements (stepped_runs),
    # and the bytes their writers reach from their offsets (MemoryPlan.reach).
    steps: dict[str, tuple[int, int]] = field(default_factory=dict)
    reaches: dict[str, int] = field(default_factory=dict)

    def end(self, name: str) -> int:
        return self.offsets[name] + self.sizes[name]

    def reach(self, name: str) -> int:
        """The bytes from the tensor's offset on that its writer touches: its size, or for one
        written with steps, up to its last pixel's last channel (stepped_reach)."""
        return self.reaches.get(name, self.sizes[name])


def stepped_reach(graph: Graph, name: str, steps: tuple[int, int]) -> int:
    """The bytes an NHWC tensor written with (row, pixel) steps spans from its first element."""
    batch, height, width, channels = (int(d) for d in graph.tensors[name].shape)
    row, pixel = steps
    return ((batch * height - 1) * row + (width - 1) * pixel + channels) * cformat.ITEM_SIZES[graph.tensors[name].dtype]


def aligned(size: int) -> int:
    return (size + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def check_static_sizes(graph: Graph) -> None:
    """PlanError naming the first op that computes a tensor of a size known only at run time
    (WHERE, UNIQUE, RANGE of run-time bounds: shape -1 in the model): the plan is made when
    the bundle is generated, so every size must be known then."""
    for op in graph.ops:
        inputs_static = all(graph.tensors[n].static_shape for n in op.inputs if n)
        for name in op.outputs:
            t = graph.tensors[name]
            if inputs_static and not t.static_shape and t.dtype != RESOURCE:
                raise PlanError(
                    f"{op.type} (node {op.name or name!r}) computes {name!r} of shape "
                    f"{list(graph.tensors[name].shape or [])}, whose size is known only at run "
                    "time; a bundle plans its memory when it is generated and needs static "
                    "shapes: cut the model before that op, or run it with LiteRT")


def check_tensor(graph: Graph, name: str) -> None:
    """PlanError unless the tensor has a fully known shape and a type a bundle can hold."""
    t = graph.tensors[name]
    if not t.static_shape:
        raise PlanError(f"tensor {name!r} has no fully known shape {list(t.shape or [])}; "
                        "convert with --input_shapes")
    if t.dtype not in cformat.C_TYPES:
        raise PlanError(f"tensor {name!r} has type {t.dtype}, which a bundle cannot hold")


def tensor_bytes(graph: Graph, name: str) -> int:
    check_tensor(graph, name)
    t = graph.tensors[name]
    return t.size * cformat.ITEM_SIZES[t.dtype]


def arena_tensors(graph: Graph) -> list[str]:
    """Every tensor that lives in the arena, in a fixed order: graph inputs, then each op's
    outputs, then constant graph outputs (copied into the arena so the API can hand out a
    writable pointer for every output). A variable's handle (VAR_HANDLE's resource) is none:
    it names a slot of the bundle's state, resolved when the bundle is generated."""
    names: list[str] = []
    seen: set[str] = set()

    def add(name: str) -> None:
        if name and name not in seen and graph.tensors[name].dtype != RESOURCE:
            seen.add(name)
            names.append(name)

    for name in graph.inputs:
        add(name)
    for op in graph.ops:
        for name in op.outputs:
            add(name)
    for name in graph.outputs:
        add(name)
    return names


def lifetimes(graph: Graph) -> dict[str, Lifetime]:
    end = max(len(graph.ops) - 1, 0)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for name in graph.inputs:
        first[name] = last[name] = 0
    for i, op in enumerate(graph.ops):
        for name in op.outputs:
            first.setdefault(name, i)
            last.setdefault(name, i)  # written even if nothing reads it
        for name in op.inputs:
            if name in first:
                last[name] = i
    for name in graph.outputs:
        first.setdefault(name, 0)  # a constant output, copied in before the first op
        last[name] = end
    return {name: Lifetime(first[name], last[name]) for name in arena_tensors(graph)}


def in_place_aliases(graph: Graph, lives: dict[str, Lifetime], elementwise: bool = True) -> dict[str, str]:
    """output -> input for reshape-like ops, and (elementwise) element-wise ops, whose input
    dies at that op."""
    aliases = {}
    for i, op in enumerate(graph.ops):
        for src in _in_place_inputs(graph, op, elementwise):
            if src in lives and lives[src].last == i and src not in graph.outputs:
                aliases[op.outputs[0]] = src
                break
    return aliases


def _in_place_inputs(graph: Graph, op, elementwise: bool) -> list[str]:
    """The inputs whose bytes the op's output may take: a reshape-like op's first; a PAD's
    first; an element-wise op's inputs of the output's shape and element size."""
    if not op.inputs or not op.outputs:
        return []
    if has_trait(op.type, "in_place") or (elementwise and op.type in PADDING):
        return op.inputs[:1]
    if not elementwise or len(op.outputs) != 1 or not (has_trait(op.type, "elementwise")
                                                       or has_trait(op.type, "broadcasting")
                                                       or op.type in REQUANTIZING):
        return []
    out = graph.tensors[op.outputs[0]]
    return [n for n in op.inputs if n and graph.tensors[n].shape == out.shape
            and cformat.ITEM_SIZES.get(graph.tensors[n].dtype) == cformat.ITEM_SIZES.get(out.dtype)]


def join_runs(graph: Graph, op) -> list[tuple[str, int]]:
    """(input, byte offset in the output) for a CONCATENATION or PACK whose inputs are each one
    contiguous run of the output (no axis longer than 1 before the joined one); else []."""
    if op.type not in JOINS or len(op.outputs) != 1 or not op.inputs:
        return []
    out = graph.tensors[op.outputs[0]]
    if not out.static_shape:
        return []
    axis = op.attrs.get("axis", 0)
    axis = axis + len(out.shape) if axis < 0 else axis
    if int(np.prod(out.shape[:axis])) != 1:
        return []
    runs, at = [], 0
    for name in op.inputs:
        runs.append((name, at))
        at += graph.tensors[name].size * cformat.ITEM_SIZES.get(graph.tensors[name].dtype, 0)
    return runs


def stepped_runs(graph: Graph, op) -> list[tuple[str, int, tuple[int, int]]]:
    """(input, byte offset in the output, (row step, pixel step) in elements) for a
    CONCATENATION of rank-4 (NHWC) tensors along width or channels whose inputs are not whole
    runs of the output (join_runs): each input's pixels sit `pixel step` apart, its rows
    `row step` apart, from its offset on; else []."""
    if op.type != "CONCATENATION" or len(op.outputs) != 1 or not op.inputs or join_runs(graph, op):
        return []
    out = graph.tensors[op.outputs[0]]
    axis = op.attrs.get("axis", 0)
    axis = axis + len(out.shape) if axis < 0 else axis
    if len(out.shape) != 4 or axis not in (2, 3) or not out.static_shape:
        return []
    _, _, width, channels = (int(d) for d in out.shape)
    item = cformat.ITEM_SIZES.get(out.dtype, 0)
    runs, at = [], 0
    for name in op.inputs:
        t = graph.tensors[name]
        runs.append((name, at * item, (width * channels, channels)))  # either axis: the output's steps
        at += int(t.shape[3]) if axis == 3 else int(t.shape[2]) * channels
    return runs


def writes_with_steps(graph: Graph, name: str) -> bool:
    """The tensor's producer writes it with any steps: an int8 convolution (STEPPED_WRITERS)."""
    op = graph.producer(name)
    return (op is not None and op.type in STEPPED_WRITERS and op.outputs == [name]
            and graph.tensors[name].dtype == "int8" and graph.tensors[op.inputs[0]].dtype == "int8")


def joined_in_place(graph: Graph, lives: dict[str, Lifetime]) -> tuple[dict[str, tuple[str, int]],
                                                                        dict[str, tuple[int, int]]]:
    """(input -> (join output, offset), input -> steps) for the join inputs their producers
    can write into the output: a run (join_runs) computed by any op, or pixels with steps
    (stepped_runs) computed by a convolution that writes them so (writes_with_steps); dying at
    the join, read once there, of the output's type and params, neither a graph input nor
    output, at an aligned offset."""
    inside, steps = {}, {}
    for i, op in enumerate(graph.ops):
        out = op.outputs[0] if op.outputs else None
        runs = [(name, at, None) for name, at in join_runs(graph, op)]
        runs += [run for run in stepped_runs(graph, op) if writes_with_steps(graph, run[0])]
        for name, at, step in runs:
            t, o = graph.tensors[name], graph.tensors[out]
            if (name in lives and lives[name].last == i and graph.producer(name) is not None
                    and op.inputs.count(name) == 1 and name not in graph.inputs and name not in graph.outputs
                    and at % ALIGNMENT == 0 and t.dtype == o.dtype and _same_params(t.quant, o.quant)):
                inside[name] = (out, at)
                if step is not None:
                    steps[name] = step
    return inside, steps


def _same_params(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return (np.array_equal(np.asarray(a.scale), np.asarray(b.scale))
            and np.array_equal(np.asarray(a.zero_point), np.asarray(b.zero_point)))


@dataclass
class _Buffer:
    tensors: list[str]
    size: int
    life: Lifetime
    order: int  # first appearance, for a deterministic tie-break
    offset: int = -1
    at: dict[str, int] = field(default_factory=dict)  # tensor -> its offset within the buffer


def _root(aliases: dict[str, str], name: str) -> str:
    while name in aliases:
        name = aliases[name]
    return name


def _buffers(names: list[str], sizes: dict[str, int], lives: dict[str, Lifetime],
             aliases: dict[str, str], inside: dict | None = None) -> list[_Buffer]:
    """Alias groups, each group inside another (`inside`) placed with it at its offset."""
    groups: dict = {}
    for name in names:
        groups.setdefault(_root(aliases, name), []).append(name)
    within = {_root(aliases, n): (_root(aliases, out), at) for n, (out, at) in (inside or {}).items()}

    def top(root) -> tuple:
        at = 0
        while root in within:
            root, step = within[root]
            at += step
        return root, at

    members: dict = {}
    for root, group in groups.items():
        outer, at = top(root)
        members.setdefault(outer, {}).update(dict.fromkeys(group, at))
    buffers = []
    for order, placed in enumerate(members.values()):
        life = Lifetime(min(lives[n].first for n in placed), max(lives[n].last for n in placed))
        size = aligned(max(at + sizes[n] for n, at in placed.items()))
        buffers.append(_Buffer(list(placed), size, life, order, at=placed))
    return buffers


def first_fit(size: int, taken: list[tuple[int, int]]) -> int:
    """The lowest offset where `size` bytes fit between the (offset, size) ranges taken."""
    offset = 0
    for start, length in sorted(taken):
        if offset + size <= start:
            break
        offset = max(offset, start + length)
    return offset


def _place(buffers: list[_Buffer]) -> int:
    placed: list[_Buffer] = []
    for buf in sorted(buffers, key=lambda b: (-b.size, b.life.first, b.order)):
        taken = [(p.offset, p.size) for p in placed if p.life.overlaps(buf.life) and p.size]
        buf.offset = first_fit(buf.size, taken)
        placed.append(buf)
    return max((b.offset + b.size for b in buffers), default=0)


def plan_memory(graph: Graph, in_place: bool = True) -> MemoryPlan:
    names = arena_tensors(graph)
    sizes = {n: tensor_bytes(graph, n) for n in names}
    lives = lifetimes(graph)
    aliases = in_place_aliases(graph, lives) if in_place else {}
    joined, steps = joined_in_place(graph, lives) if in_place else ({}, {})
    # Every join in place; only the runs (none with steps); none. Ties: the first listed,
    # which copies least.
    runs = {name: place for name, place in joined.items() if name not in steps}
    choices = [(joined, steps)] + ([(runs, {})] if steps and runs else []) + ([({}, {})] if joined else [])
    plans = [_placed(names, sizes, lives, aliases, inside, stepped) for inside, stepped in choices]
    plan = min(plans, key=lambda p: p.arena_size)
    plan.reaches = {name: stepped_reach(graph, name, step) for name, step in plan.steps.items()}
    check_plan(graph, plan)
    return plan


def _placed(names: list[str], sizes: dict[str, int], lives: dict[str, Lifetime], aliases: dict[str, str],
            inside: dict[str, tuple[str, int]], steps: dict[str, tuple[int, int]]) -> MemoryPlan:
    buffers = _buffers(names, sizes, lives, aliases, inside)
    arena = _place(buffers)
    offsets = {n: b.offset + b.at[n] for b in buffers for n in b.tensors}
    return MemoryPlan(offsets, sizes, lives, aliases, aligned(arena), inside, steps)


# ---- the independent check ---------------------------------------------------------------

def _alias_ok(graph: Graph, plan: MemoryPlan, dst: str, src: str) -> bool:
    """dst may share src's bytes: a reshape-like op reads src and writes dst, or an
    element-wise one reads src of dst's shape, src dies there, and both sit at the same
    offset."""
    op = graph.producer(dst)
    if op is None or src not in _in_place_inputs(graph, op, elementwise=True):
        return False
    i = next(k for k, o in enumerate(graph.ops) if o is op)
    return (_consumers_end(graph, src) == i and src not in graph.outputs
            and plan.offsets[dst] == plan.offsets[src])


def _consumers_end(graph: Graph, name: str) -> int:
    return max((i for i, op in enumerate(graph.ops) if name in op.inputs), default=-1)


def _inside_ok(graph: Graph, plan: MemoryPlan, name: str, out: str, at: int) -> bool:
    """name may sit inside out at `at`: a join reads it and writes out, name is its run at
    that offset (join_runs) or, written so by its producer, its pixels with the plan's steps
    there (stepped_runs), name dies there, and the plan puts it exactly there."""
    op = graph.producer(out)
    if op is None or op.inputs.count(name) != 1:
        return False
    if name in plan.steps:
        fits = (writes_with_steps(graph, name) and (name, at, plan.steps[name]) in stepped_runs(graph, op)
                and plan.reach(name) == stepped_reach(graph, name, plan.steps[name]))
    else:
        fits = (name, at) in join_runs(graph, op)
    if not fits:
        return False
    i = next(k for k, o in enumerate(graph.ops) if o is op)
    return (_consumers_end(graph, name) == i and name not in graph.outputs
            and plan.offsets[name] == plan.offsets[out] + at)


def _sharing_allowed(graph: Graph, plan: MemoryPlan) -> set[frozenset[str]]:
    """Pairs of tensors that legitimately share bytes: alias chains, checked link by link, and
    a join's inputs written in place with its output."""
    for dst, src in plan.aliases.items():
        if not _alias_ok(graph, plan, dst, src):
            raise PlanError(f"tensor {dst!r} cannot reuse the bytes of {src!r}")
    for name, (out, at) in plan.inside.items():
        if not _inside_ok(graph, plan, name, out, at):
            raise PlanError(f"tensor {name!r} cannot be written into {out!r} at byte {at}")
    groups: dict[str, list[str]] = {}
    for name in plan.offsets:
        groups.setdefault(_root(plan.aliases, name), []).append(name)
    pairs = {frozenset((a, b)) for members in groups.values() for a in members for b in members if a != b}
    # Inputs with steps in one join interleave their bytes (each writes only its own).
    stepped = [(name, plan.inside[name][0]) for name in plan.steps]
    pairs |= {frozenset((a, b)) for a, out in stepped for b, other in stepped if a != b and out == other}
    return pairs | {frozenset((name, out)) for name, (out, _) in plan.inside.items()}


def check_plan(graph: Graph, plan: MemoryPlan) -> None:
    """Raises PlanError unless every arena tensor has aligned bytes inside the arena and no
    two tensors alive at the same op overlap (except alias pairs). Lifetimes are recomputed
    from the graph rather than taken from the plan."""
    lives = lifetimes(graph)
    names = arena_tensors(graph)
    missing = [n for n in names if n not in plan.offsets]
    if missing:
        raise PlanError(f"tensor {missing[0]!r} has no place in the arena")
    for name in names:
        if plan.offsets[name] % ALIGNMENT or plan.offsets[name] < 0:
            raise PlanError(f"tensor {name!r} is at offset {plan.offsets[name]}, not a "
                            f"multiple of {ALIGNMENT}")
        if plan.sizes[name] != tensor_bytes(graph, name) or plan.end(name) > plan.arena_size:
            raise PlanError(f"tensor {name!r} ({plan.sizes[name]} bytes at "
                            f"{plan.offsets[name]}) does not fit the {plan.arena_size}-byte arena")
    allowed = _sharing_allowed(graph, plan)
    _check_pairs(plan, names, lives, allowed)


def _check_pairs(plan: MemoryPlan, names: list[str], lives: dict[str, Lifetime],
                 allowed: set[frozenset[str]]) -> None:
    # Sorted by offset, a tensor can only overlap the ones that start before it ends.
    by_offset = sorted((n for n in names if plan.sizes[n]), key=lambda n: plan.offsets[n])
    starts = np.array([plan.offsets[n] for n in by_offset], dtype=np.int64)
    for i, a in enumerate(by_offset):
        stop = int(np.searchsorted(starts, plan.end(a), side="left"))
        for b in by_offset[i + 1:stop]:
            if lives[a].overlaps(lives[b]) and frozenset((a, b)) not in allowed:
                raise PlanError(
                    f"memory plan overlap: {_describe(plan, lives, a)} and "
                    f"{_describe(plan, lives, b)} are alive at the same time")


def _describe(plan: MemoryPlan, lives: dict[str, Lifetime], name: str) -> str:
    life = lives[name]
    return (f"{name!r} (ops {life.first}-{life.last}, bytes "
            f"{plan.offsets[name]}-{plan.end(name)})")
