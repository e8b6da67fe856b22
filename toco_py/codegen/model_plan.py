"""Static memory plan of a model of several subgraphs: every subgraph's tensors in one arena.

Time is global. The entry subgraph's ops take one step each, as in planner.py, except an op
that runs subgraphs (IF, WHILE, CALL_ONCE): its step opens a window in which the subgraphs
it calls run one after the other (a WHILE's cond, then its body; an IF's then-branch, then
its else-branch), each op of theirs a step again, nested to any depth. So the caller's
tensors that the op reads or writes, and those alive across it, overlap every tensor of the
subgraphs it calls, while a cond and a body (or two branches), which never hold values at
the same time, may share bytes. Values cross the boundary by copies (the op's inputs into
the subgraph's inputs, its outputs back), never by aliasing. A subgraph called from several
places is alive over the hull of its windows. Within a subgraph, reshape-like ops alias as
in planner.py. `check_model_plan` verifies the result from the model alone.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph, Op
from ..ops import has_trait
from .planner import (
    ALIGNMENT,
    Lifetime,
    MemoryPlan,
    PlanError,
    _buffers,
    _check_pairs,
    _place,
    _sharing_allowed,
    aligned,
    arena_tensors,
    in_place_aliases,
    lifetimes,
    tensor_bytes,
)

Key = tuple[int, str]  # (subgraph index, tensor name)

# The subgraphs each op type runs, by attribute, in the order its window lays them out.
CALLED = {"IF": ("then_subgraph_index", "else_subgraph_index"),
          "WHILE": ("cond_subgraph_index", "body_subgraph_index"),
          "CALL_ONCE": ("init_subgraph_index",)}


def called(op: Op) -> list[int]:
    return [int(op.attrs[attr]) for attr in CALLED.get(op.type, ())]


def subgraphs_of(graph: Graph) -> list[Graph]:
    return graph.subgraphs or [graph]


def carried_tensors(graph: Graph) -> list[str]:
    """The variable tensors (Tensor.variable, an LSTM's state) that no op of the graph writes
    before the op that updates them: as in LiteRT, their values carry from one invoke to the
    next (zero at first and after a reset), so they live in the bundle's state buffer."""
    written = {name for op in graph.ops for name in op.outputs}
    return [name for name, t in graph.tensors.items() if t.variable and name not in written]


def tensor_key(subgraph: int, name: str) -> tuple[str, str]:
    """The state slot of a carried variable tensor, apart from any VAR_HANDLE's."""
    return (f"variable tensor of subgraph {subgraph}", name)


def is_model(graph: Graph) -> bool:
    """Whether the bundle needs the model path: several subgraphs, or state (a model of one
    subgraph with variables keeps them between invokes too)."""
    return len(subgraphs_of(graph)) > 1 or any(has_trait(op.type, "runs_model") for op in graph.ops) \
        or bool(carried_tensors(graph))


@dataclass
class ModelPlan:
    plans: dict[int, MemoryPlan]      # per subgraph run: offsets by tensor name, local lifetimes
    lifetimes: dict[Key, Lifetime]    # global
    arena_size: int
    order: list[int]                  # the subgraphs that run, callers before callees


def windows(graph: Graph) -> tuple[dict[int, list[list[tuple[int, int]]]], list[int]]:
    """Per subgraph, per visit, each op's (first, last) global step; and the subgraphs in the
    order of their first visit. PlanError for a subgraph that calls itself."""
    graphs = subgraphs_of(graph)
    visits: dict[int, list[list[tuple[int, int]]]] = {}
    order: list[int] = []

    def visit(s: int, start: int, stack: tuple[int, ...]) -> int:
        if s in stack:
            raise PlanError(f"subgraph {s} ({graphs[s].name}) runs itself through "
                            f"{' -> '.join(map(str, stack + (s,)))}; a bundle needs a call tree "
                            "without recursion")
        if s not in visits:
            order.append(s)
        steps, t = [], start
        for op in graphs[s].ops:
            first = t
            t += 1
            for child in called(op):
                if not 0 < child < len(graphs):
                    raise PlanError(f"{op.type} in subgraph {s} names subgraph {child}, which "
                                    "is not one of the model's subgraphs an op may run")
                t = visit(child, t, stack + (s,))
            steps.append((first, t - 1))
        # A subgraph without ops (a branch passing its inputs through) still holds them a step.
        visits.setdefault(s, []).append(steps or [(start, start)])
        return max(t, start + 1)

    visit(0, 0, ())
    return visits, order


def model_lifetimes(graph: Graph) -> tuple[dict[Key, Lifetime], list[int]]:
    """Global lifetimes of every arena tensor of every subgraph that runs: each visit's local
    lifetime (planner.lifetimes) stretched over the steps of its ops, hulled over visits."""
    graphs = subgraphs_of(graph)
    visits, order = windows(graph)
    lives: dict[Key, Lifetime] = {}
    for s in order:
        local = lifetimes(graphs[s])
        for steps in visits[s]:
            for name, life in local.items():
                start, end = steps[life.first][0], steps[life.last][1]
                old = lives.get((s, name))
                lives[(s, name)] = Lifetime(start, end) if old is None else \
                    Lifetime(min(old.first, start), max(old.last, end))
    return lives, order


def plan_model(graph: Graph, in_place: bool = True) -> ModelPlan:
    graphs = subgraphs_of(graph)
    lives, order = model_lifetimes(graph)
    keys = [(s, n) for s in order for n in arena_tensors(graphs[s])]
    sizes = {k: tensor_bytes(graphs[k[0]], k[1]) for k in keys}
    aliases: dict[Key, Key] = {}
    for s in order:
        if in_place:
            local = in_place_aliases(graphs[s], lifetimes(graphs[s]), elementwise=False)
            aliases.update({(s, dst): (s, src) for dst, src in local.items()})
    buffers = _buffers(keys, sizes, lives, aliases)
    arena = aligned(_place(buffers))
    offsets = {k: b.offset for b in buffers for k in b.tensors}
    plan = ModelPlan(_views(graphs, order, offsets, sizes, aliases, arena), lives, arena, order)
    check_model_plan(graph, plan)
    return plan


def _views(graphs: list[Graph], order: list[int], offsets: dict[Key, int], sizes: dict[Key, int],
           aliases: dict[Key, Key], arena: int) -> dict[int, MemoryPlan]:
    """Each subgraph's part of the plan, keyed by its own tensor names (what its lowerings read)."""
    views = {}
    for s in order:
        names = arena_tensors(graphs[s])
        views[s] = MemoryPlan({n: offsets[(s, n)] for n in names}, {n: sizes[(s, n)] for n in names},
                              lifetimes(graphs[s]),
                              {d[1]: a[1] for d, a in aliases.items() if d[0] == s}, arena)
    return views


def check_model_plan(graph: Graph, plan: ModelPlan) -> None:
    """PlanError unless each subgraph's tensors have aligned bytes inside the arena, aliases
    are sound, and no two tensors of any subgraphs alive at the same global step overlap.
    Lifetimes are recomputed from the model."""
    graphs = subgraphs_of(graph)
    lives, order = model_lifetimes(graph)
    if sorted(order) != sorted(plan.plans):
        raise PlanError(f"the plan covers subgraphs {sorted(plan.plans)}, the model runs {sorted(order)}")
    offsets, sizes, allowed = {}, {}, set()
    for s in order:
        view, sub = plan.plans[s], graphs[s]
        for name in arena_tensors(sub):
            if name not in view.offsets:
                raise PlanError(f"tensor {name!r} of subgraph {s} has no place in the arena")
            offset, size = view.offsets[name], view.sizes[name]
            if offset % ALIGNMENT or offset < 0 or size != tensor_bytes(sub, name) or \
                    offset + size > plan.arena_size:
                raise PlanError(f"tensor {name!r} of subgraph {s} ({size} bytes at {offset}) is "
                                f"misaligned or outside the {plan.arena_size}-byte arena")
            offsets[(s, name)], sizes[(s, name)] = offset, size
        allowed |= {frozenset((s, n) for n in pair) for pair in _sharing_allowed(sub, view)}
    combined = MemoryPlan(offsets, sizes, lives, arena_size=plan.arena_size)
    _check_pairs(combined, list(offsets), lives, allowed)
