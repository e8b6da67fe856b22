"""IF, WHILE and CALL_ONCE in a C bundle: each subgraph that runs is a static C function over
the one arena (model_plan.py places its tensors), and these ops call them.

Values cross into and out of a subgraph by copies (tk_copy), never by aliasing: the op's
inputs are copied into the subgraph's inputs, its outputs back into the op's outputs. A
WHILE keeps the current loop values in its own output tensors: the inputs are copied there
first, then each round copies them into the cond's inputs, runs the cond, stops when its
result's first element is false, copies them into the body's inputs, runs the body and
copies its outputs back. CALL_ONCE runs its initializer on the first invoke and on the first
after NAME_reset() (a flag per subgraph, which reset clears). A failure inside a subgraph
returns its status unchanged: the failing op's index is then within that subgraph.
"""
from __future__ import annotations

from ..ir import Graph, Op
from . import cformat
from .lowering import CodegenError, OpContext, lowering
from .model_plan import called, subgraphs_of
from .planner import tensor_bytes


def function_name(subgraph: int) -> str:
    return f"subgraph_{subgraph}"


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


def _arena(ctx: OpContext, subgraph: int, name: str) -> str:
    """A tensor of another subgraph, at its place in the arena."""
    t = ctx.graph.subgraphs[subgraph].tensors[name]
    offset = ctx.state.model.plan.plans[subgraph].offsets[name]
    return f"ARENA({cformat.C_TYPES[t.dtype]}, {offset})"


def _copies(pairs: list[tuple[str, str, int]]) -> list[str]:
    """(source, destination, bytes) C expressions -> copy statements (none for empty tensors)."""
    return [f"(void)tk_copy({src}, {dst}, {size});" for src, dst, size in pairs if size]


def _into(ctx: OpContext, subgraph: int, values: list[str]) -> list[str]:
    """Copies of the caller's tensors `values` into the subgraph's inputs."""
    sub = ctx.graph.subgraphs[subgraph]
    _check_arity(ctx, subgraph, "inputs", len(sub.inputs), len(values))
    return _copies([(ctx.pointer(ctx.graph.tensors[v]), _arena(ctx, subgraph, n),
                          _matching_bytes(ctx, v, subgraph, n)) for v, n in zip(values, sub.inputs)])


def _out_of(ctx: OpContext, subgraph: int, results: list[str]) -> list[str]:
    """Copies of the subgraph's outputs into the caller's tensors `results`."""
    sub = ctx.graph.subgraphs[subgraph]
    _check_arity(ctx, subgraph, "outputs", len(sub.outputs), len(results))
    return _copies([(_arena(ctx, subgraph, n), ctx.pointer(ctx.graph.tensors[r]),
                          _matching_bytes(ctx, r, subgraph, n)) for r, n in zip(results, sub.outputs)])


def _check_arity(ctx: OpContext, subgraph: int, kind: str, has: int, given: int) -> None:
    if has != given:
        raise ctx.fail(f"subgraph {subgraph} has {has} {kind}, the op {given}")


def _matching_bytes(ctx: OpContext, caller: str, subgraph: int, name: str) -> int:
    size = tensor_bytes(ctx.graph, caller)
    theirs = tensor_bytes(ctx.graph.subgraphs[subgraph], name)
    if size != theirs:
        raise ctx.fail(f"tensor {caller!r} has {size} bytes, subgraph {subgraph}'s {name!r} "
                       f"{theirs}; a bundle copies values between fixed-size tensors")
    return size


def _call(subgraph: int) -> list[str]:
    return [f"status = {function_name(subgraph)}();", "if (status != TK_OK) return status;"]


def _truth(ctx: OpContext, pointer: str, t_dtype: str, what: str) -> str:
    if t_dtype != "bool":
        raise ctx.fail(f"its {what} is {t_dtype}; it must be bool")
    return f"*{pointer}"  # the first element, as LiteRT reads it


@lowering("IF")
@lowering("IF", variant="int8")
@lowering("IF", variant="int16")
def _if(ctx: OpContext) -> None:
    cond = ctx.input(0)
    then, other = called(ctx.op)
    args = ctx.op.inputs[1:]
    test = _truth(ctx, ctx.pointer(cond), cond.dtype, "condition")
    ctx.code("movement", ["ARENA_ALLOW_ALL();", f"if ({test}) {{",
                          *_indent(_into(ctx, then, args) + _call(then) + _out_of(ctx, then, ctx.op.outputs)),
                          "} else {",
                          *_indent(_into(ctx, other, args) + _call(other) + _out_of(ctx, other, ctx.op.outputs)),
                          "}"])


@lowering("WHILE")
@lowering("WHILE", variant="int8")
@lowering("WHILE", variant="int16")
def _while(ctx: OpContext) -> None:
    cond, body = called(ctx.op)
    loop = ctx.op.outputs  # the loop values live in the op's outputs
    # check_loop_shapes made sure that each input has its output's shape
    start = _copies([(ctx.pointer(ctx.input(k)), ctx.pointer(ctx.output(k)), tensor_bytes(ctx.graph, name))
                     for k, name in enumerate(loop)])
    cond_graph = ctx.graph.subgraphs[cond]
    result = cond_graph.tensors[cond_graph.outputs[0]]
    test = _truth(ctx, _arena(ctx, cond, result.name), result.dtype, "cond subgraph's result")
    ctx.code("movement", ["ARENA_ALLOW_ALL();", *start, "for (;;) {",
                          *_indent(_into(ctx, cond, loop) + _call(cond) + [f"if (!{test}) break;"] +
                                   _into(ctx, body, loop) + _call(body) + _out_of(ctx, body, loop)),
                          "}"])


@lowering("CALL_ONCE")
def _call_once(ctx: OpContext) -> None:
    (init,) = called(ctx.op)
    ctx.code("", [f"if (!initialized[{init}]) {{", *_indent(_call(init)),
                  f"    initialized[{init}] = 1;", "}"])


def loop_shape_problems(graph: Graph) -> list[tuple[int, Op, str]]:
    """(subgraph, op, one-line error) of every WHILE whose loop variables change shape as it
    runs (TF's shape_invariants, a growing TensorArray): the bundle plans every tensor's bytes
    when it is generated."""
    graphs = subgraphs_of(graph)
    problems = []
    for s, sub in enumerate(graphs):
        for i, op in enumerate(sub.ops):
            if op.type != "WHILE":
                continue
            cond, body = (graphs[k] for k in called(op))
            for k, name in enumerate(op.outputs):
                seen = [sub.tensors[op.inputs[k]], sub.tensors[name]] + [
                    g.tensors[names[k]] for g, names in ((cond, cond.inputs), (body, body.inputs),
                                                          (body, body.outputs)) if k < len(names)]
                shapes = {tuple(t.shape) if t.shape is not None else None for t in seen}
                if len(shapes) > 1 or not all(t.static_shape for t in seen):
                    where = f"subgraph {s} ({sub.name}) " if s else ""
                    message = (
                        f"codegen: {where}op #{i} WHILE: loop variable {k} ({name!r}) has shapes "
                        f"{' / '.join(str(list(t.shape or [])) for t in seen)} (entry / exit / "
                        "cond / body in / body out): its size changes as the loop runs, and a "
                        "bundle plans every tensor's bytes when it is generated; give the loop "
                        "variables fixed shapes, or run the model with LiteRT")
                    problems.append((s, op, message))
                    break  # one line per loop
    return problems


def check_loop_shapes(graph: Graph) -> None:
    """CodegenError for the first WHILE whose loop variables change shape."""
    problems = loop_shape_problems(graph)
    if problems:
        raise CodegenError(problems[0][2])
