"""An LSTM cell unrolled over a static sequence (TF1 static_rnn, a loop over steps sharing the
weights, a Keras LSTM with unroll=True) -> one UNIDIRECTIONAL_SEQUENCE_LSTM.

The chain starts at a cell whose state is zero (lstm_cell.py reads each cell) and follows the
cell state c into the next step's forget gate; all steps must have the same weights. The
steps' inputs become the op's sequence: the tensor they are the steps of in order (unstacked
by an UNPACK, or sliced one index at a time; time_major as that axis says), else a PACK of
them. The steps' outputs are the op's output: in place of the PACK that stacks them, and
through an UNPACK where anything else reads them (a next layer, which then fuses in turn, or
the last step).

The state: TFLite keeps it in variable tensors that the op updates in place, so the second
invoke of a model starts from the first one's final state (TensorFlow's converter leaves
its fused Keras LSTM so: every invoke after the first differs from TensorFlow's run unless
the app calls reset_all_variables()). A TF1 graph starts each run from zero; a FILL with
zeros written into each state variable before the op keeps every invoke the same. A chain
whose state comes in as graph inputs (a single step split out for inference, state fed
back by the app) copies them into the variables instead (RESHAPE), and a final cell state
the graph outputs is its variable, which the op leaves holding the new state: the model keeps
its interface. (Not a copy out of the variable after the op: LiteRT's XNNPACK delegate
runs that copy in one partition with the copies in, before the op.) With `stateful`
(--stateful_rnn) nothing resets the variables: the state carries from one invoke to the
next; the state inputs and the final cell state output leave the interface.

A cell that matches only in part (another activation, layer norm, a state read outside the
cell, a non-zero initial state that is no graph input) is left as it is; the reason is noted (-v).
"""
from __future__ import annotations

from contextlib import contextmanager
from functools import partial

import numpy as np

from ..ir import Graph, Op, Tensor
from ..ops.lstm import INPUTS
from .base import Pass
from .lstm_cell import GATES, Cell, NoCell, gate_split_without_cell, next_anchor, read_cell, step_inputs


def _chain(graph: Graph, anchor: Op, h0: str | None = None, c0: str | None = None) -> list[Cell]:
    cells = [read_cell(graph, anchor, h0, c0)]
    while (anchor := next_anchor(graph, cells[-1].c)) is not None:
        cells.append(read_cell(graph, anchor, cells[-1].h, cells[-1].c))
    return cells


def _shared(cells: list[Cell]) -> dict:
    """The parameters all cells agree on (None where no cell determines one)."""
    params = {}
    for key in cells[0].params:
        known = [c.params[key] for c in cells if c.params[key] is not None]
        if any(not np.array_equal(v, known[0]) for v in known[1:]):
            raise NoCell(f"the steps differ in their {key.replace('_', ' ')}")
        params[key] = known[0] if known else None
    return params


def _inner_uses(graph: Graph, cells: list[Cell]) -> dict[str, list[Op]]:
    """The steps' outputs h by what reads them outside the cells; raises if anything outside
    reads another tensor of theirs, but for the graph outputting the final cell state."""
    inside = {id(op) for cell in cells for op in cell.ops}
    outputs = {cell.h for cell in cells}
    uses: dict[str, list[Op]] = {}
    for cell in cells:
        for op in cell.ops:
            for name in op.outputs:
                outside = [u for u in graph.consumers(name) if id(u) not in inside]
                if name in outputs:
                    uses[name] = outside
                elif outside or name in graph.outputs and name != cells[-1].c:
                    raise NoCell(f"{name!r}, inside the cell, is read outside it")
    return uses


def _step_of(graph: Graph, x: str) -> tuple[str, int, int] | None:
    """(the tensor, its time axis, the step) when x is one step of a [T, B, F] or [B, T, F]
    tensor: an UNPACK's output, or a STRIDED_SLICE taking one index of axis 0 or 1 whole."""
    op = graph.producer(x)
    if op is None or not op.inputs:
        return None
    shape = graph.tensors[op.inputs[0]].shape
    if shape is None or len(shape) != 3:
        return None
    if op.type == "UNPACK" and op.attrs.get("axis", 0) in (0, 1):
        return op.inputs[0], op.attrs.get("axis", 0), op.outputs.index(x)
    if op.type != "STRIDED_SLICE" or op.attrs.get("ellipsis_mask") or op.attrs.get("new_axis_mask") \
            or op.attrs.get("offset"):
        return None
    begin, strides = graph.const_value(op.inputs[1]), graph.const_value(op.inputs[3])
    shrink = op.attrs.get("shrink_axis_mask", 0)
    if begin is None or strides is None or shrink not in (1, 2) or np.any(strides != 1) \
            or op.attrs.get("begin_mask", 0) & shrink:
        return None
    axis = shrink.bit_length() - 1
    if begin.size <= axis:
        return None
    whole = ((1 << begin.size) - 1) & ~shrink  # (the axes past the spec are whole)
    if op.attrs.get("begin_mask", 0) & whole != whole or op.attrs.get("end_mask", 0) & whole != whole:
        return None
    return op.inputs[0], axis, int(begin[axis]) % shape[axis]


def _joined_steps_axis(graph: Graph, x: str) -> bool | None:
    """time_major when x joins steps of sequences (a bidirectional layer's two directions,
    for the next layer): that of the first one, so that the next layer's sequence is the
    joined sequences (hoist_concat_out_of_pack), not their transposes; else None."""
    op = graph.producer(x)
    if op is None or op.type != "CONCATENATION":
        return None
    axes = [step[1] for step in map(partial(_step_of, graph), op.inputs) if step is not None]
    return axes[0] == 0 if axes else None


def _sequence(graph: Graph, cells: list[Cell]) -> tuple[str | None, bool | None]:
    """(the [T, B, F] or [B, T, F] tensor whose steps in order are the steps' inputs,
    time_major); (None, time_major) when they are its steps in another order (a backward
    RNN's: fold_pack_of_unpack reverses the tensor); (None, None) when there is none."""
    steps = [_step_of(graph, c.x) for c in cells]
    if None in steps:
        return None, _joined_steps_axis(graph, cells[0].x)
    if len({(t, axis) for t, axis, _ in steps}) != 1:
        return None, None
    sequence, axis, _ = steps[0]
    if [k for _, _, k in steps] != list(range(len(cells))) or graph.tensors[sequence].shape[axis] != len(cells):
        return None, axis == 0
    return sequence, axis == 0


def _gate_inputs(graph: Graph, base: str, params: dict) -> dict[str, str]:
    """The op's weight and bias inputs by schema name; zeros where no step determines one."""
    units, n_input = params["input_to_cell_weights"].shape
    shapes = {"input_to": (units, n_input), "recurrent_to": (units, params["n_output"])}
    named = {}
    for gate in GATES:
        for name, shape in [(f"{k}_{gate}_weights", s) for k, s in shapes.items()] + [(f"{gate}_gate_bias", (units,))]:
            value = params[name]
            named[name] = graph.add_const(f"{base}/{name}", np.zeros(shape, np.float32) if value is None else value)
    peepholes = {g: params[f"cell_to_{g}_weights"] for g in ("input", "forget", "output")}
    if any(p is not None and np.any(p) for p in peepholes.values()):
        for gate, p in peepholes.items():  # (unknown where the state is zero: no effect)
            named[f"cell_to_{gate}_weights"] = graph.add_const(
                f"{base}/cell_to_{gate}_weights", np.zeros(units, np.float32) if p is None else p)
    if params["projection_weights"] is not None:
        named["projection_weights"] = graph.add_const(f"{base}/projection_weights", params["projection_weights"])
    return named


def _state(graph: Graph, name: str, shape: tuple[int, ...], initial: str | None,
           stateful: bool) -> Op | None:
    """Makes `name` a variable state tensor; returns the op that sets it before each run of
    the LSTM: a FILL with zeros, or a RESHAPE copying the graph input `initial` into it (a
    copy, as the op updates its state in place); none when the state is to carry over."""
    graph.tensors.pop(name, None)  # (a graph output the removed cells computed)
    graph.add_tensor(Tensor(name, shape, "float32", variable=True))
    if stateful:
        return None
    dims = graph.add_const(f"{name}/shape", np.array(shape, np.int32))
    if initial is not None:
        return Op("RESHAPE", [initial, dims], [name], {"new_shape": list(shape)}, name)
    zero = graph.add_const(f"{name}/zero", np.array(0, np.float32))
    return Op("FILL", [dims, zero], [name], {}, name)


def _initial_cell_state(graph: Graph, anchor: Op, h0: str) -> str:
    """The graph input that is the first cell's previous cell state, given h0's."""
    units, shape = graph.tensors[anchor.outputs[0]].shape, graph.tensors[h0].shape
    if not units or not shape or units[-1] < 0:
        raise NoCell(f"the cell's {anchor.outputs[0]!r} or the state {h0!r} has no static shape")
    units = units[-1]
    candidates = [n for n in graph.inputs if n != h0 and graph.tensors[n].dtype == "float32"
                  and graph.tensors[n].shape == (shape[0], units)]
    reasons = []
    for name in candidates:
        try:
            read_cell(graph, anchor, h0, name)
            return name
        except NoCell as why:
            reasons.append(str(why))
    raise NoCell(reasons[0] if reasons else f"no graph input of shape {(shape[0], units)} is its cell state")


def _drop_unused_inputs(graph: Graph, names: list[str]) -> None:
    """--stateful_rnn: the state inputs nothing reads any more leave the interface."""
    graph.inputs = [n for n in graph.inputs if n not in names or graph.consumers(n)]


def sequence_lstm(graph: Graph, base: str, params: dict, sequence: str, out: str, time_major: bool,
                  cell_state: str | None = None, initial: tuple = (None, None), stateful: bool = False) -> list[Op]:
    """The ops setting the state (_state) and the UNIDIRECTIONAL_SEQUENCE_LSTM of a cell's
    parameters (read_cell) from `sequence` to `out` ([T, B, F] or [B, T, F] as time_major
    says). cell_state: its cell state variable's name (a graph output), else a new one;
    initial: the graph inputs (h0, c0) its state starts from (None: zero)."""
    shape = graph.tensors[sequence].shape
    batch = shape[1 if time_major else 0]
    units, n_output = params["input_to_cell_weights"].shape[0], params["n_output"]
    named = {"input": sequence} | _gate_inputs(graph, base, params)
    named["output_state"] = graph.unique_name(f"{base}/output_state")
    named["cell_state"] = cell_state or graph.unique_name(f"{base}/cell_state")
    setters = [_state(graph, named["output_state"], (batch, n_output), initial[0], stateful),
               _state(graph, named["cell_state"], (batch, units), initial[1], stateful)]
    lstm = Op("UNIDIRECTIONAL_SEQUENCE_LSTM", [named.get(n, "") for n in INPUTS], [out], {
        "fused_activation_function": params["activation"], "cell_clip": float(params["cell_clip"]),
        "proj_clip": float(params["proj_clip"]), "time_major": time_major,
        "asymmetric_quantize_inputs": False, "diagonal_recurrent_tensors": False}, base)
    return [s for s in setters if s is not None] + [lstm]


def fuse(graph: Graph, cells: list[Cell], h0: str | None = None, c0: str | None = None,
         stateful: bool = False) -> None:
    """Replaces the chain by one op; h0, c0: the graph inputs its state starts from (None:
    zero); stateful: see the module doc."""
    params = _shared(cells)
    uses = _inner_uses(graph, cells)
    first = cells[0]
    x_shape = graph.tensors[first.x].shape
    steps, n_output = len(cells), params["n_output"]
    if x_shape is None or len(x_shape) != 2 or min(x_shape) < 1 \
            or x_shape[1] != params["input_to_cell_weights"].shape[1]:
        raise NoCell(f"the step input {first.x!r} has no static [batch, features] shape")
    batch, n_input = x_shape
    sequence, time_major = _sequence(graph, cells)
    hs = [c.h for c in cells]
    stacks = {id(u): u for h in hs for u in uses[h] if u.type == "PACK" and u.inputs == hs}
    stack = next(iter(stacks.values()), None)
    if time_major is None:
        time_major = stack is None or stack.attrs.get("axis", 0) == 0
    if stack is not None and stack.attrs.get("axis", 0) != (0 if time_major else 1):
        stack = None
    axis = 0 if time_major else 1
    base = first.anchor.name or first.h
    final_c = cells[-1].c if cells[-1].c in graph.outputs else None
    if final_c and stateful:  # (the state stays in the model)
        if graph.outputs == [final_c]:
            raise NoCell("its final cell state is the only graph output, which --stateful_rnn keeps in the model")
        graph.outputs = [n for n in graph.outputs if n != final_c]
        final_c = None
    before, after = [], []
    if sequence is None:
        sequence = graph.unique_name(f"{base}/sequence")
        graph.add_tensor(Tensor(sequence, (steps, batch, n_input) if time_major else (batch, steps, n_input)))
        before.append(Op("PACK", [c.x for c in cells], [sequence], {"values_count": steps, "axis": axis}, base))
    out_shape = (steps, batch, n_output) if time_major else (batch, steps, n_output)
    if stack is not None:
        out = stack.outputs[0]
    else:
        out = graph.unique_name(f"{base}/outputs")
        graph.add_tensor(Tensor(out, out_shape))
    if any(u is not stack for h in hs for u in uses[h]) or any(h in graph.outputs for h in hs):
        after.append(Op("UNPACK", [out], hs, {"num": steps, "axis": axis}, base))
    removed = {id(op): op for cell in cells for op in cell.ops}
    if stack is not None:
        removed[id(stack)] = stack
    for op in removed.values():
        graph.remove_op(op)
    lstm = sequence_lstm(graph, base, params, sequence, out, time_major, final_c, (h0, c0), stateful)
    for op in [*before, *lstm, *after]:
        graph.add_op(op)
    if stateful:
        _drop_unused_inputs(graph, [n for n in (h0, c0) if n])
    graph.toposort()


# For the duration of a conversion (`carrying_state`): --stateful_rnn (see the module doc), and
# whether a step whose state is fed in as graph inputs fuses without it (not in int8: such a
# fused op stays float, quantize/lstm.py, while the unfused cells are all integer).
stateful = False
fuse_fed_state = True


@contextmanager
def carrying_state(on: bool, fed_state: bool = True):
    global stateful, fuse_fed_state
    saved = stateful, fuse_fed_state
    stateful, fuse_fed_state = on, fed_state
    try:
        yield
    finally:
        stateful, fuse_fed_state = saved


def _chain_from_inputs(graph: Graph, op: Op, reads: list[str]) -> tuple[list[Cell], str, str]:
    """The chain whose first step reads its state from graph inputs (one of `reads`, the
    tensors its gates read, is h0): (cells, h0, c0). When either of two inputs could be the
    state (a Keras cell's x and h_prev, of one shape), which one is not for us to guess."""
    found, reasons = [], []
    for h0 in [n for n in reads if n in graph.inputs]:
        try:
            c0 = _initial_cell_state(graph, op, h0)
            found.append((_chain(graph, op, h0, c0), h0, c0))
        except NoCell as why:
            reasons.append(str(why))
    if len(found) != 1:
        raise NoCell(reasons[0] if not found else f"either of {reads} could be its state")
    cells = found[0][0]
    if not {cells[-1].h, cells[-1].c} <= set(graph.outputs):
        raise NoCell("its state comes in as graph inputs, but its final state does not go out as graph outputs")
    return found[0]


def fuse_lstm(graph: Graph, op: Op) -> bool:
    if gate_split_without_cell(graph, op):
        graph.remark(f"fuse_lstm: the LSTM-like gates split by {op!r} stay unfused: none goes through a TANH, "
                     "RELU, RELU6 or RELU_N1_TO_1 multiplied by a LOGISTIC, as LiteRT's LSTM computes", op)
        return False
    reads = step_inputs(graph, op)
    # (the inputs of another subgraph are what its WHILE or IF passes, not the model's: a
    # loop's cells are fuse_lstm_loop's)
    inputs = set(graph.inputs) if graph is (graph.subgraphs or [graph])[0] else set()
    if reads is None or len(reads) > 2 or len(reads) == 2 and not set(reads) & inputs:
        return False  # (a step after the first, or no LSTM)
    try:
        if len(reads) == 2 and not (stateful or fuse_fed_state):
            raise NoCell("in int8 a fused LSTM cannot take a state fed in as graph inputs (unfused, every "
                         "op is integer; --stateful_rnn keeps the state in the model, fused and integer)")
        if len(reads) == 2:
            cells, h0, c0 = _chain_from_inputs(graph, op, reads)
        else:
            cells, h0, c0 = _chain(graph, op), None, None
        fuse(graph, cells, h0, c0, stateful)
    except NoCell as why:
        graph.remark(f"fuse_lstm: the LSTM-like cell at {op!r} stays unfused: {why}", op)
        return False
    return True


PASS = Pass("fuse_lstm", fuse_lstm)
