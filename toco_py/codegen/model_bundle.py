"""The C bundle of a model of several subgraphs (IF, WHILE, CALL_ONCE) or with resource
variables: every subgraph that runs becomes a static function over the one arena
(model_plan.py), the variables live in a static state buffer (lower_state.py) which
NAME_reset() zeroes, and NAME_invoke() runs the entry subgraph."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph
from .api_files import render_header
from .constants import ConstTable
from .emitter import (
    Bundle,
    Step,
    arena_lines,
    assemble,
    check_graph,
    check_name,
    failed_helper,
    function_lines,
    io_tables,
    lower_all,
    placement_comment,
    source_preamble,
    step_families,
)
from .lower_control import check_loop_shapes, function_name
from .lower_state import Slot, StateLayout, state_layout
from .lowering import BundleState, CodegenError, KernelCall
from .model_plan import ModelPlan, plan_model, subgraphs_of
from .planner import PlanError


@dataclass
class ModelContext:
    """What the lowerings of IF, WHILE, CALL_ONCE and the variable ops read (state.model)."""
    plan: ModelPlan
    layout: StateLayout


def _where(graph: Graph, s: int) -> str:
    return f"subgraph {s} ({graph.name}): " if s else ""


@dataclass
class LoweredModel:
    plan: ModelPlan
    layout: StateLayout
    states: dict[int, BundleState]  # per subgraph that runs, entry first
    steps: dict[int, list[Step]]


def lower_model(graph: Graph, name: str) -> LoweredModel:
    """Checks, plans and lowers every subgraph that runs; CodegenError (one line) if the
    model cannot be generated."""
    graphs = subgraphs_of(graph)
    check_loop_shapes(graph)
    try:
        plan = plan_model(graph)
    except PlanError as err:
        raise CodegenError(f"codegen: {err}") from None
    for s in plan.order:
        try:
            check_graph(graphs[s])
        except CodegenError as err:
            raise CodegenError(f"codegen: {_where(graphs[s], s)}{str(err).removeprefix('codegen: ')}") from None
    try:
        layout = state_layout(graphs, plan.order)
    except PlanError as err:
        raise CodegenError(f"codegen: {err}") from None
    context = ModelContext(plan, layout)
    consts = ConstTable(name)
    states = {s: BundleState(graphs[s], plan.plans[s], name, consts, context, s) for s in plan.order}
    return LoweredModel(plan, layout, states, {s: lower_all(states[s]) for s in plan.order})


def generate_model(graph: Graph, name: str, source: str = "") -> Bundle:
    """All files of the bundle for a model of several subgraphs or with variables; raises
    CodegenError (one line) if it cannot be generated."""
    name = check_name(name)
    model = lower_model(graph, name)
    order = model.plan.order
    families = step_families([step for s in order for step in model.steps[s]])
    header = render_header(name, graph, model.plan, source, state_size=model.layout.size)
    code = _render_source(model, source)
    return assemble(model.states[0], header, code, families, source,
                    sum(len(model.states[s].graph.ops) for s in order), model.layout.size)


def _render_source(model: LoweredModel, source: str) -> str:
    states, steps, plan, layout = model.states, model.steps, model.plan, model.layout
    entry = states[0]
    name, upper = entry.prefix, entry.prefix.upper()
    out = source_preamble(entry, source) + arena_lines(upper, entry.plan) + _state_lines(upper, layout)
    for s in plan.order:
        graph = states[s].graph
        title = "Placement" if not s else f"Placement of subgraph {s} ({graph.name})"
        out += placement_comment(graph, plan.plans[s], title)
    out += io_tables(name, upper, entry.graph, entry.plan)
    out += _reset_lines(name, len(subgraphs_of(entry.graph)), layout)
    if any(isinstance(call, KernelCall) for s in plan.order for step in steps[s] for call in step.calls):
        out += failed_helper()
    callees = plan.order[1:]
    if callees:
        out += [f"static int {function_name(s)}(void);" for s in callees] + [""]
    for s in callees:
        out += [f"/* subgraph {s} ({states[s].graph.name}) */"]
        out += function_lines(f"static int {function_name(s)}(void)", upper, plan.plans[s], steps[s]) + [""]
    invoke = function_lines(f"int {name}_invoke(void)", upper, entry.plan, steps[0])
    if _filled_slots(layout):
        at = 3 if invoke[2] == "    int status;" else 2
        invoke[at:at] = ["    if (!state_filled) {", f"        {name}_reset();", "    }"]
    out += invoke
    return "\n".join(out) + "\n"


def _state_lines(upper: str, layout: StateLayout) -> list[str]:
    lines = ["/* The variables' state, kept from one invoke to the next: slot offset, bytes, variable."]
    lines += [f" * {slot.offset:>9} {slot.bytes:>9}  {key[1] or key[0]}" for key, slot in layout.slots.items()]
    return lines + [
        " */",
        "static union {",
        f"    unsigned char bytes[{upper}_STATE_SIZE > 0 ? {upper}_STATE_SIZE : 1];",
        "    float f;", "    double d;", "    int64_t i64;",
        "} state TK_ALIGN16;", "",
        "#define STATE(offset) ((void *)(state.bytes + (offset)))", ""]


def _filled_slots(layout: StateLayout) -> list[Slot]:
    return [slot for slot in layout.slots.values() if slot.fill and slot.bytes]


def _reset_lines(name: str, subgraphs: int, layout: StateLayout) -> list[str]:
    """NAME_reset(): the state zeroed, then the slots that start elsewhere (int8 variable
    tensors at their zero point) filled; those need it before the first invoke too, which
    runs it unless state_filled says it ran."""
    fills = []
    for slot in _filled_slots(layout):
        fills += [f"    for (i = {slot.offset}; i < {slot.offset + slot.bytes}; ++i) {{",
                  f"        state.bytes[i] = (unsigned char){slot.fill & 0xFF};", "    }"]
    flag = ["/* Whether the reset has filled the state (the first invoke makes sure). */",
            "static unsigned char state_filled;", ""] if fills else []
    return ["/* Which initializer subgraphs (CALL_ONCE) have run, by subgraph index. */",
            f"static unsigned char initialized[{subgraphs}];", "", *flag,
            f"void {name}_reset(void)", "{", "    size_t i;",
            "    for (i = 0; i < sizeof state.bytes; ++i) {", "        state.bytes[i] = 0;", "    }",
            *fills, *(["    state_filled = 1;"] if fills else []),
            f"    for (i = 0; i < {subgraphs}; ++i) {{", "        initialized[i] = 0;", "    }", "}", ""]
