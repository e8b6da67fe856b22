"""Lowering of UNIDIRECTIONAL_SEQUENCE_LSTM, float (kernels/sequence_lstm.c) and int8 8x8_16
(kernels/sequence_lstm_s8.c), and of the FILL that passes/fuse_lstm.py writes into its state
variables before it.

The states are variable tensors that the kernel updates in place: in the arena when an op
writes them before the LSTM in each invoke (fuse_lstm's FILL of zeros, which makes every invoke
start from zero, as the TF1 graph does), else in the bundle's state buffer, carried from one
invoke to the next as LiteRT carries them (TF's converter's Keras LSTM).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Tensor
from ..ops.int8 import lstm as int8_lstm
from ..ops.lstm import ACTIVATIONS, INPUTS, STATES, inputs_by_name
from .lower_nn import FLOAT
from .lowering import OpContext, lowering

_ACTIVATION_CODES = {name: code for code, name in enumerate(ACTIVATIONS)}  # as sequence_lstm.c numbers them


@lowering("FILL")
def fill(ctx: OpContext) -> None:
    """The value tiled over the output: tk_tile of a one-element tensor."""
    value, out = ctx.input(1), ctx.output()
    ctx.require_rank([out])
    rank = len(out.shape)
    ctx.call("tile", "tk_tile", ctx.pointer(value), ctx.int_array([1] * rank), str(rank),
             ctx.int_array(ctx.shape(out)), ctx.pointer(out), ctx.element_size(out))


@dataclass
class _Shapes:
    steps: int
    batch: int
    n_input: int
    n_cell: int
    n_output: int
    time_major: bool

    def args(self) -> list[str]:
        return [str(self.steps), str(self.batch), str(self.n_input), str(self.n_cell),
                str(self.n_output), str(int(self.time_major))]


def _lstm_parts(ctx: OpContext) -> tuple[list[Tensor | None], dict[str, Tensor | None], list[str], _Shapes]:
    """What both kernels take: the inputs (in order and by name), the states' pointers and the
    sizes; the refusals they share."""
    tensors = [ctx.input(i) for i in range(len(INPUTS))]
    named = dict(zip(INPUTS, tensors))
    if named["input_to_input_weights"] is None:
        raise ctx.fail("CIFG (no input gate) has no C kernel yet; run the model with LiteRT")
    if named["forget_layer_norm_coefficients"] is not None:
        raise ctx.fail("layer norm has no C kernel yet; run the model with LiteRT")
    states = [ctx.pointer(named[n]) for n in STATES]
    time_major = bool(ctx.op.attrs.get("time_major", False))
    x = ctx.shape(named["input"])
    n_cell, n_output = ctx.shape(named["recurrent_to_output_weights"])
    steps, batch = (x[0], x[1]) if time_major else (x[1], x[0])
    return tensors, named, states, _Shapes(steps, batch, x[2], n_cell, n_output, time_major)


@lowering("UNIDIRECTIONAL_SEQUENCE_LSTM")
def lstm(ctx: OpContext) -> None:
    out = ctx.output()
    tensors, named, states, shapes = _lstm_parts(ctx)
    ctx.require_dtype([*tensors, out], FLOAT)
    activation = _ACTIVATION_CODES[ctx.op.attrs.get("fused_activation_function", "NONE")]
    ctx.call("sequence_lstm", "tk_lstm_f32", ctx.pointer(named["input"]),
             ctx.pointer_array(tensors[:INPUTS.index("output_state")]),
             *states, ctx.pointer(out), *shapes.args(), str(activation),
             ctx.float_literal(ctx.op.attrs.get("cell_clip", 0.0)),
             ctx.float_literal(ctx.op.attrs.get("proj_clip", 0.0)))


def _braces(items) -> str:
    return "{" + ", ".join(str(item) for item in items) + "}"


@lowering("UNIDIRECTIONAL_SEQUENCE_LSTM", variant="int8")
def lstm_s8(ctx: OpContext) -> None:
    """The 8x8_16 kernel, its parameters from the numpy kernel's own _Params (one source of
    truth: multipliers, shifts, folded biases, clips, and its refusals)."""
    out = ctx.output()
    tensors, named, states, shapes = _lstm_parts(ctx)
    gates = int8_lstm.GATES
    weights = [named[f"{kind}_to_{gate}_weights"] for kind in ("input", "recurrent") for gate in gates]
    ctx.require_dtype([named["input"], out, *weights, named["projection_weights"]], ("int8",))
    ctx.require_dtype([named[f"cell_to_{gate}_weights"] for gate in ("input", "forget", "output")], ("int16",))
    ctx.require_dtype([named[f"{gate}_gate_bias"] for gate in gates] + [named["projection_bias"]], ("int32",))
    p = int8_lstm._Params(ctx.op, ctx.graph, inputs_by_name(
        ctx.op, [None if t is None or t.data is None else np.asarray(t.data) for t in tensors]))
    # p.gates[gate]: the input, recurrent and peephole (multiplier, shift), then the input-side
    # and recurrent-side folded biases.
    fields = {f"{side}_bias": _braces(ctx.table("int32_t", p.gates[gate][k], f"{gate} gate: {side} bias")
                                      for gate in gates)
              for k, side in ((3, "input"), (4, "recurrent"))}
    for k, kind in enumerate(("input", "recurrent", "peephole")):
        pairs = [p.gates[gate][k] or (0, 0) for gate in gates]  # the cell gate has no peephole
        fields[f"{kind}_multiplier"] = _braces(m for m, _ in pairs)
        fields[f"{kind}_shift"] = _braces(s for _, s in pairs)
    fields.update(hidden_multiplier=p.hidden[0], hidden_shift=p.hidden[1], hidden_zero=p.hidden_zero,
                  state_zero=p.state_zero, cell_log2=p.cell_log2, cell_clip=p.cell_clip, proj_clip=p.proj_clip)
    hidden = "NULL"
    if p.projection is not None:
        (multiplier, shift), bias = p.projection
        fields.update(projection_bias=ctx.table("int32_t", bias, "projection bias"),
                      projection_multiplier=multiplier, projection_shift=shift)
        hidden = ctx.scratch(shapes.n_cell)
    params = ctx.struct("tk_lstm_s8_params", _braces(f".{k} = {v}" for k, v in fields.items()), "quantization")
    ctx.call("sequence_lstm_s8", "tk_lstm_s8", ctx.pointer(named["input"]),
             ctx.pointer_array(tensors[:INPUTS.index("output_state")]), params,
             *states, ctx.pointer(out), hidden, *shapes.args())
