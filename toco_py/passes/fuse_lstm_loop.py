"""A TF1 dynamic_rnn of LSTM cells, a WHILE running one step per iteration (frontend/frames.py,
or frontend/loops.py for control flow v2; its TensorArrays or TensorLists lowered by
lower_tensor_arrays) -> one UNIDIRECTIONAL_SEQUENCE_LSTM per layer where the WHILE was; the
WHILE, its cond and its body go.

The loop, read by structure alone:
- counters: loop variables starting at 0 that the body adds 1 to; the cond is a LESS of a
  counter and a constant, or a LOGICAL_AND of such (dynamic_rnn's time < T and its
  maximum_iterations), so the loop runs N times, the smallest bound;
- the sequence: a loop invariant [N, B, F] whose step t the body reads (GATHER at a counter);
- per layer, an LSTM cell (lstm_cell.read_cell) whose h and c are loop variables starting at
  zero, reading the sequence's step (the first layer) or the h of the layer below;
- the outputs: a loop variable [N, B, H] that the body writes the top layer's h into at step
  t (RESHAPE to [1, B, H], DYNAMIC_UPDATE_SLICE at the counter times [1, 0, 0]). Every step is
  written, so what it starts as does not matter. (A loop whose outputs nothing reads has none:
  prune_while drops it.)
and nothing else in the body. dynamic_rnn transposes a batch-major input to time-major and
its outputs back: when it has both TRANSPOSEs (or the first and no outputs), the ops read the
batch-major input and give the batch-major outputs (time_major False).

After the loop, a layer's final h is the last step of its outputs (a GATHER). Anything else
(a final c or a counter read after the loop, sequence_length's masking, another activation, a
non-zero initial state) leaves the WHILE as it is, with a note (-v).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Graph, Op, Tensor
from ..tflite.options import SUBGRAPH_ATTRS
from . import fuse_lstm
from .base import Pass
from .lstm_cell import Cell, NoCell, cell_anchors, is_zero, read_cell, step_inputs
from .patterns import has_activation
from .prune_while import shared_subgraphs

BATCH_MAJOR = [1, 0, 2]  # the perm of dynamic_rnn's TRANSPOSEs between [B, T, F] and [T, B, F]


@dataclass
class _Layer:
    cell: Cell
    fc: Op  # its gates' product
    h: int  # the loop variables of its state
    c: int


@dataclass
class _Loop:
    steps: int
    counters: set[int]
    sequence: int  # the loop invariant the first layer reads a step of
    layers: list[_Layer]
    outputs: int | None  # the loop variable of the top layer's outputs


def _int_scalar(graph: Graph, name: str) -> int | None:
    value = graph.const_value(name)
    return int(value) if value is not None and value.shape == () and value.dtype == np.int32 else None


def _counters(graph: Graph, op: Op, body: Graph) -> set[int]:
    """The loop variables starting at 0 that each iteration adds 1 to."""
    found = set()
    for k, (start, arg, result) in enumerate(zip(op.inputs, body.inputs, body.outputs)):
        add = body.producer(result)
        if _int_scalar(graph, start) == 0 and add is not None and add.type == "ADD" \
                and not has_activation(add) and arg in add.inputs \
                and _int_scalar(body, add.inputs[1] if add.inputs[0] == arg else add.inputs[0]) == 1:
            found.add(k)
    return found


def _steps(cond: Graph, counters: set[int]) -> int:
    """How often the loop runs: the smallest bound the cond puts on a counter."""
    bounds = []
    pending = list(cond.outputs)
    while pending:
        test = cond.producer(pending.pop())
        if test is not None and test.type == "LOGICAL_AND":
            pending += test.inputs
            continue
        bound = None if test is None or test.type != "LESS" else _int_scalar(cond, test.inputs[1])
        if bound is None or test.inputs[0] not in cond.inputs or cond.inputs.index(test.inputs[0]) not in counters:
            raise NoCell(f"its condition ({test!r}) is not a counter below a constant")
        bounds.append(bound)
    if not bounds or min(bounds) < 1:
        raise NoCell("it runs no step")
    return min(bounds)


def _is_zeros(graph: Graph, name: str) -> bool:
    """A constant of zeros, or a FILL with zero."""
    fill = graph.producer(name)
    return is_zero(graph, name) or (fill is not None and fill.type == "FILL" and is_zero(graph, fill.inputs[1])
                                    and graph.const_value(fill.inputs[0]) is not None)


def _cell(body: Graph, fc: Op, states: list[int]) -> _Layer:
    """The cell read at fc (lstm_cell.cell_anchors), its h and c loop variables among `states`."""
    reads = [body.inputs.index(n) for n in step_inputs(body, fc) or () if n in body.inputs]
    why = NoCell(f"the cell at {fc!r} does not read its output h as a loop variable")
    for h, c in ((h, c) for h in reads for c in states if c != h):
        try:
            cell = read_cell(body, fc, body.inputs[h], body.inputs[c])
        except NoCell as error:
            why = error
            continue
        if (cell.h, cell.c) == (body.outputs[h], body.outputs[c]):
            return _Layer(cell, fc, h, c)
        why = NoCell(f"the cell at {fc!r} does not give its new state back to the loop")
    if fc.type == "SPLIT":  # (read_cell says what it lacks)
        read_cell(body, fc, None, None)
    raise why


def _layers(body: Graph, fcs: list[Op], states: list[int]) -> list[_Layer]:
    """The cells in order, each reading the h of the one before but the first."""
    cells = [_cell(body, fc, states) for fc in fcs]
    hs = {layer.cell.h for layer in cells}
    firsts = [layer for layer in cells if layer.cell.x not in hs]
    layers = firsts[:1]
    while len(firsts) == 1 and (layer := next((c for c in cells if c.cell.x == layers[-1].cell.h), None)):
        layers.append(layer)
    if len(layers) != len(cells):
        raise NoCell("its cells are not one stack, each reading the output of the one before")
    return layers


def _step_read(body: Graph, x: str, counters: set[int], invariants: set[int]) -> tuple[Op, int]:
    """The GATHER reading the first layer's input x at a counter, and the invariant it reads."""
    read = body.producer(x)
    if read is None or read.type != "GATHER" or read.attrs.get("axis", 0) != 0 or read.attrs.get("batch_dims", 0) \
            or read.inputs[0] not in body.inputs or read.inputs[1] not in body.inputs \
            or body.inputs.index(read.inputs[1]) not in counters \
            or body.inputs.index(read.inputs[0]) not in invariants:
        raise NoCell(f"the first cell's input {x!r} is not a step of a loop invariant at the counter")
    return read, body.inputs.index(read.inputs[0])


def _write(body: Graph, h: str, counters: set[int]) -> tuple[list[Op], int | None]:
    """The ops writing h into a loop variable at the counter's step, and that loop variable
    (none when nothing writes h)."""
    reshapes = [u for u in body.consumers(h) if u.type == "RESHAPE"]
    if not reshapes:
        return [], None
    reshape = reshapes[0]
    users = body.consumers(reshape.outputs[0])
    update = users[0] if len(users) == 1 else None
    if update is None or update.type != "DYNAMIC_UPDATE_SLICE" or update.inputs[1] != reshape.outputs[0] \
            or update.inputs[0] not in body.inputs or update.outputs[0] not in body.outputs:
        raise NoCell(f"{reshape!r} is not how the loop writes the step's output")
    k = body.inputs.index(update.inputs[0])
    array = body.tensors[update.inputs[0]].shape
    element = body.const_value(reshape.inputs[1])
    start = body.producer(update.inputs[2])
    if body.outputs[k] != update.outputs[0] or element is None \
            or list(np.ravel(element)) != [1, *(body.tensors[h].shape or ())] or array is None or len(array) != 3 \
            or start is None or start.type != "MUL" or has_activation(start) \
            or start.inputs[0] not in body.inputs or body.inputs.index(start.inputs[0]) not in counters \
            or not np.array_equal(body.const_value(start.inputs[1]), [1, 0, 0]):
        raise NoCell(f"{update!r} does not write the step's output at the counter")
    return [reshape, start, update], k


def _read(graph: Graph, op: Op, cond: Graph, body: Graph, fcs: list[Op]) -> _Loop:
    counters = _counters(graph, op, body)
    steps = _steps(cond, counters)
    invariants = {k for k, (arg, result) in enumerate(zip(body.inputs, body.outputs)) if arg == result}
    states = [k for k in range(len(op.inputs)) if k not in counters | invariants]
    layers = _layers(body, fcs, states)
    read, sequence = _step_read(body, layers[0].cell.x, counters, invariants)
    writes, outputs = _write(body, layers[-1].cell.h, counters)
    claimed = {id(o) for layer in layers for o in layer.cell.ops} | {id(o) for o in writes + [read]}
    claimed |= {id(body.producer(body.outputs[k])) for k in counters}
    stray = [o for o in body.ops if id(o) not in claimed]
    if stray:
        raise NoCell(f"its body computes more than the cells and the loop's plumbing: {stray[0]!r}")
    carried = counters | invariants | {k for layer in layers for k in (layer.h, layer.c)} | {outputs}
    if set(range(len(op.inputs))) - carried:
        raise NoCell(f"it carries {op.inputs[min(set(range(len(op.inputs))) - carried)]!r}, which is none of "
                     "the cells' state, the step's input and the outputs")
    for layer in layers:
        for k in (layer.h, layer.c):
            if not _is_zeros(graph, op.inputs[k]):
                raise NoCell(f"its state {op.inputs[k]!r} does not start at zero")
    shape = graph.tensors[op.inputs[sequence]].shape
    if shape is None or len(shape) != 3 or shape[0] != steps or min(shape) < 1 \
            or outputs is not None and (graph.tensors[op.outputs[outputs]].shape or (0,))[0] != steps:
        raise NoCell(f"its {steps} steps are not the whole time axis of {op.inputs[sequence]!r} "
                     f"{list(shape or [])} and of its outputs")
    return _Loop(steps, counters, sequence, layers, outputs)


def _read_after(graph: Graph, name: str) -> bool:
    return name in graph.outputs or bool(graph.consumers(name))


def _transpose(op: Op | None, graph: Graph) -> bool:
    return op is not None and op.type == "TRANSPOSE" and \
        np.array_equal(graph.const_value(op.inputs[1]), BATCH_MAJOR)


def _fuse(graph: Graph, op: Op, loop: _Loop) -> None:
    given = {loop.outputs} | {layer.h for layer in loop.layers}  # (what the fused ops give)
    cells = {layer.c for layer in loop.layers}
    for k, name in enumerate(op.outputs):
        if k not in given and _read_after(graph, name):
            raise NoCell(f"its {'final cell state c' if k in cells else 'loop variable'} {name!r} is read after "
                         "it, which the fused op does not give")
    sequence = op.inputs[loop.sequence]
    into = graph.producer(sequence)
    users = [] if loop.outputs is None else graph.consumers(op.outputs[loop.outputs])
    out_of = users[0] if len(users) == 1 and op.outputs[loop.outputs] not in graph.outputs else None
    time_major = not (_transpose(into, graph) and (loop.outputs is None or _transpose(out_of, graph)))
    if not time_major:
        sequence = into.inputs[0]
    removed = [op] + ([] if time_major or out_of is None else [out_of])
    new_ops = []
    for i, layer in enumerate(loop.layers):
        base = layer.fc.name or layer.cell.h
        if i == len(loop.layers) - 1 and loop.outputs is not None:
            out = op.outputs[loop.outputs] if time_major else out_of.outputs[0]
        else:
            batch, n_output = graph.tensors[op.outputs[layer.h]].shape  # (its state h)
            out = graph.unique_name(f"{base}/outputs")
            shape = (loop.steps, batch, n_output) if time_major else (batch, loop.steps, n_output)
            graph.add_tensor(Tensor(out, shape))
        new_ops += fuse_lstm.sequence_lstm(graph, base, layer.cell.params, sequence, out, time_major,
                                           stateful=fuse_lstm.stateful)
        if _read_after(graph, op.outputs[layer.h]):
            last = graph.add_const(f"{out}/last_step", np.array(loop.steps - 1, np.int32))
            new_ops.append(Op("GATHER", [out, last], [op.outputs[layer.h]],
                              {"axis": 0 if time_major else 1, "batch_dims": 0}, base))
        sequence = out
    for old in removed:
        graph.remove_op(old)
    for new in new_ops:
        graph.add_op(new)
    graph.drop_unused(op.outputs)
    graph.toposort()
    _drop_subgraphs(graph, [op.attrs[key] for key in SUBGRAPH_ATTRS["WHILE"]])


def _drop_subgraphs(graph: Graph, indices: list[int]) -> None:
    """Removes subgraphs no op runs any longer from the model, renumbering the others."""
    models = graph.subgraphs
    for k in sorted(indices, reverse=True):
        del models[k]
    for sub in models:
        for op in sub.ops:
            for key in SUBGRAPH_ATTRS.get(op.type, ()):
                op.attrs[key] -= sum(k < op.attrs[key] for k in indices)
    if len(models) == 1:
        models.clear()  # (a model of one graph has none)


def fuse_lstm_loop(graph: Graph, op: Op) -> bool:
    if op.type != "WHILE" or shared_subgraphs(graph, op):
        return False
    cond = graph.subgraphs[op.attrs["cond_subgraph_index"]]
    body = graph.subgraphs[op.attrs["body_subgraph_index"]]
    fcs = cell_anchors(body)
    if not fcs:
        return False  # (no LSTM inside)
    try:
        _fuse(graph, op, _read(graph, op, cond, body, fcs))
    except NoCell as why:
        graph.remark(f"fuse_lstm_loop: the LSTM loop {op!r} stays a WHILE: {why}", op)
        return False
    return True


PASS = Pass("fuse_lstm_loop", fuse_lstm_loop)
