"""Lowering of the float UNIDIRECTIONAL_SEQUENCE_LSTM (kernels/sequence_lstm.c) and of the FILL that
passes/fuse_lstm.py writes into its state variables before it.

The states are variable tensors that the kernel updates in place: in the arena when an op
writes them before the LSTM in each invoke (fuse_lstm's FILL of zeros, which makes every invoke
start from zero, as the TF1 graph does), else in the bundle's state buffer, carried from one
invoke to the next as LiteRT carries them (TF's converter's Keras LSTM).
"""
from __future__ import annotations

from ..ops.lstm import ACTIVATIONS, INPUTS, STATES
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


@lowering("UNIDIRECTIONAL_SEQUENCE_LSTM")
def lstm(ctx: OpContext) -> None:
    tensors = [ctx.input(i) for i in range(len(INPUTS))]
    named = dict(zip(INPUTS, tensors))
    out = ctx.output()
    ctx.require_dtype([*tensors, out], FLOAT)
    if named["input_to_input_weights"] is None:
        raise ctx.fail("CIFG (no input gate) has no C kernel yet; run the model with LiteRT")
    if named["forget_layer_norm_coefficients"] is not None:
        raise ctx.fail("layer norm has no C kernel yet; run the model with LiteRT")
    states = [ctx.pointer(named[n]) for n in STATES]
    time_major = bool(ctx.op.attrs.get("time_major", False))
    x = ctx.shape(named["input"])
    steps, batch = (x[0], x[1]) if time_major else (x[1], x[0])
    n_cell, n_output = ctx.shape(named["recurrent_to_output_weights"])
    activation = _ACTIVATION_CODES[ctx.op.attrs.get("fused_activation_function", "NONE")]
    ctx.call("sequence_lstm", "tk_lstm_f32", ctx.pointer(named["input"]),
             ctx.pointer_array(tensors[:INPUTS.index("output_state")]),
             *states,
             ctx.pointer(out), str(steps), str(batch), str(x[2]), str(n_cell), str(n_output),
             str(int(time_major)), str(activation),
             ctx.float_literal(ctx.op.attrs.get("cell_clip", 0.0)),
             ctx.float_literal(ctx.op.attrs.get("proj_clip", 0.0)))
