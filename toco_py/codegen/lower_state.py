"""Resource variables in a C bundle: a static state buffer beside the arena, which keeps its
bytes from one NAME_invoke() to the next and which NAME_reset() zeroes.

Each variable, named by its VAR_HANDLE's (container, shared_name) as LiteRT names it, gets a
fixed slot of that buffer, resolved when the bundle is generated: VAR_HANDLE costs nothing,
READ_VARIABLE copies the slot into the arena, ASSIGN_VARIABLE copies a value into the slot.
The slot's size is that of the values read and assigned, which must agree (LiteRT would
reallocate a variable assigned a value of another shape; a static buffer cannot). An int8
variable, as TF's converter writes one with variable quantization, is its int8 bytes: reads
and assignments copy them as LiteRT does, whatever the tensors' parameters say. A variable read
before any assignment reads zeros (LiteRT and the interpreter refuse it; TF's converter always
assigns first, in the CALL_ONCE initializer).

A variable tensor (Tensor.variable: an LSTM's state) that no op writes before it is read gets
a slot too (model_plan.carried_tensors): zero at first and after NAME_reset(), except that an
int8 one holds its zero point, as LiteRT's and TFLM's ResetVariableTensor fill it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Graph, Op
from .lowering import CodegenError, OpContext, lowering
from .model_plan import carried_tensors, tensor_key
from .planner import aligned, tensor_bytes

Key = tuple[str, str]  # (container, shared_name)


@dataclass
class Slot:
    offset: int
    bytes: int
    dtype: str
    shape: tuple[int, ...]
    fill: int = 0  # the value of every element after a reset (an int8 one's zero point)


@dataclass
class StateLayout:
    slots: dict[Key, Slot]
    size: int  # bytes of the state buffer (0 without variables)


def variable_key(op: Op) -> Key:
    return (op.attrs.get("container", ""), op.attrs.get("shared_name", ""))


def handle_key(graph: Graph, op: Op, where: str) -> Key:
    """The variable a READ_VARIABLE / ASSIGN_VARIABLE reaches: its handle must come from a
    VAR_HANDLE of the same subgraph, so that the slot is known when the bundle is generated."""
    producer = graph.producer(op.inputs[0]) if op.inputs and op.inputs[0] else None
    if producer is None or producer.type != "VAR_HANDLE":
        raise CodegenError(f"codegen: {where}{op.type} reads handle {op.inputs[0]!r}, which no "
                           "VAR_HANDLE of its subgraph makes; a bundle resolves each variable "
                           "to a slot when it is generated, so handles cannot cross subgraphs")
    return variable_key(producer)


def _value(op: Op) -> str:
    return op.outputs[0] if op.type == "READ_VARIABLE" else op.inputs[1]


def state_layout(graphs: list[Graph], running: list[int]) -> StateLayout:
    """Slots in the order LiteRT numbers the handles (VAR_HANDLE ops by subgraph, then op),
    for the variables the running subgraphs read or assign."""
    order: list[Key] = []
    seen: dict[Key, tuple[str, tuple[int, ...], str, int]] = {}  # dtype, shape, tensor, bytes
    fills: dict[Key, int] = {}
    for s in running:
        where = f"subgraph {s} ({graphs[s].name}): " if s else ""
        for op in graphs[s].ops:
            if op.type == "VAR_HANDLE" and variable_key(op) not in order:
                order.append(variable_key(op))
            if op.type not in ("READ_VARIABLE", "ASSIGN_VARIABLE"):
                continue
            key = handle_key(graphs[s], op, where)
            t = graphs[s].tensors[_value(op)]
            size = tensor_bytes(graphs[s], t.name)  # a PlanError unless static and of a C type
            kind = (t.dtype, tuple(int(d) for d in t.shape), t.name, size)
            old = seen.setdefault(key, kind)
            if old[:2] != kind[:2]:
                raise CodegenError(
                    f"codegen: {where}variable {key[1]!r} is {old[0]} {list(old[1])} in "
                    f"{old[2]!r} but {kind[0]} {list(kind[1])} in {kind[2]!r}; a bundle keeps "
                    "each variable in a slot of fixed size and type")
        for name in carried_tensors(graphs[s]):
            order.append(tensor_key(s, name))
            t = graphs[s].tensors[name]
            seen[order[-1]] = (t.dtype, tuple(int(d) for d in t.shape), name, tensor_bytes(graphs[s], name))
            if t.dtype == "int8" and t.quant is not None:
                fills[order[-1]] = int(np.ravel(t.quant.zero_point)[0])
    slots, offset = {}, 0
    for key in order:
        if key in seen:
            dtype, shape, _, size = seen[key]
            slots[key] = Slot(offset, size, dtype, shape, fills.get(key, 0))
            offset += aligned(size)
    return StateLayout(slots, offset)


def _slot(ctx: OpContext) -> Slot:
    layout: StateLayout = ctx.state.model.layout
    return layout.slots[handle_key(ctx.graph, ctx.op, "")]


@lowering("VAR_HANDLE")
def _var_handle(ctx: OpContext) -> None:
    ctx.code("", ["/* nothing to do: the handle is a slot of the state, fixed when generated */"],
             uses_status=False)


@lowering("READ_VARIABLE")
@lowering("READ_VARIABLE", variant="int8")
@lowering("READ_VARIABLE", variant="int16")
def _read_variable(ctx: OpContext) -> None:
    slot = _slot(ctx)
    if slot.bytes:
        ctx.call("movement", "tk_copy", f"STATE({slot.offset})", ctx.pointer(ctx.output()),
                 str(slot.bytes))


@lowering("ASSIGN_VARIABLE")  # its first input, the handle, is never quantized
def _assign_variable(ctx: OpContext) -> None:
    slot = _slot(ctx)
    if slot.bytes:
        ctx.call("movement", "tk_copy", ctx.pointer(ctx.input(1)), f"STATE({slot.offset})",
                 str(slot.bytes))
