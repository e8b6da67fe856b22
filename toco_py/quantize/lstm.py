"""UNIDIRECTIONAL_SEQUENCE_LSTM in TFLite's 8x8_16 scheme, with the parameters TF's quantizer
gives it (tools/optimize/operator_property.cc, the variants without layer norm, and the MLIR
quantizer's prepare_quantize_lstm.h):
- input and output int8 asymmetric; the output state shares the output's params (restrict_scale
  {18, 0}: without a projection LiteRT copies one int8 buffer into both);
- input, recurrent and projection weights int8 symmetric per tensor, in [-127, 127];
- peepholes int16 symmetric per tensor, in [-32767, 32767];
- gate biases int32 at the input's scale x that gate's input weights' scale; the projection
  bias at the hidden value's scale x the projection weights' scale;
- the cell state int16 symmetric, its scale a power of two (PowerOfTwoBound of its calibrated
  range over every step, over 32768);
- the five intermediates (Operator.intermediates) as TF's converter writes them: the four gate
  ones empty float32 tensors (the kernel reads them only with layer norm), the hidden one an
  empty int8 tensor with the params of the hidden value o * tanh(c): calibrated over every step
  before a projection, the output's without one (LiteRT writes it as the output).
A layer-norm LSTM has no int8 scheme here (nor an int8 kernel in the interpreter), nor one with
peepholes and a projection that changes the size (LiteRT's integer kernel computes it wrongly),
nor one whose state the app feeds in (a step model without --stateful_rnn): they stay in float.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ConversionError
from ..ir import Graph, Op, QuantParams, Tensor
from ..ops.lstm import INDEX, INPUTS, INTERMEDIATES, STATES, hidden_name
from .params import activation_params, bias_params, quantize_bias, quantize_symmetric, symmetric_weight_params

TYPE = "UNIDIRECTIONAL_SEQUENCE_LSTM"
# The cell state's log2 scale + 15 is the integer bits its tanh runs with, and LiteRT's ApplyTanh
# has kernels for 0 to 6 only (measured: outside them it leaves the tanh unapplied, see
# ops/int8/lstm.py _step). TF's PowerOfTwoBound goes below for a cell range under 1/2 (2^-16 for
# the second layer of tests/support/lstm_models.py's 2-layer Keras LSTM); the bound is kept
# within [1, 64] here: one bit coarser for small cell states, rather than a wrong output.
CELL_BOUNDS = (0, 6)


def unsupported(graph: Graph, op: Op) -> str | None:
    """What of this LSTM has no int8 scheme here, or None."""
    if op.type != TYPE:
        return None
    if op.inputs[INDEX["forget_layer_norm_coefficients"]]:
        return "a layer-norm LSTM"
    if any(_writer(graph, op, state) not in (None, "FILL") for state in STATES):
        # A state the app feeds back (passes/fuse_lstm.py copies graph inputs into the state
        # variables, the final cell state being an output): measured, an int8 copy in leaves
        # the variable without data in LiteRT, and XNNPACK reads the int16 state out before the op.
        return "an LSTM whose state is set by another op than a FILL of zeros (a step model's state " \
               "fed in as graph inputs: --stateful_rnn keeps it in the model)"
    projection = op.inputs[INDEX["projection_weights"]]
    if projection and any(op.inputs[INDEX[f"cell_to_{gate}_weights"]] for gate in ("input", "forget", "output")):
        n_output, n_cell = graph.tensors[projection].shape
        if n_output != n_cell:
            # LiteRT's integer kernel applies the peepholes to the first n_output cells only
            # (ops/int8/lstm.py _peephole): measured, 3x TF's converter's unfused int8 error.
            return "an LSTM with peepholes and a projection to another size than its cells"
    return None


def _writer(graph: Graph, op: Op, state: str) -> str | None:
    """What writes the state before the op: None, "FILL" (of zeros, passes/fuse_lstm.py) or
    another op's type."""
    writer = graph.producer(_input(op, state))
    if writer is None:
        return None
    value = graph.const_value(writer.inputs[1]) if writer.type == "FILL" else None
    return "FILL" if value is not None and not np.any(value) else writer.type


def cell_state_params(lo: float, hi: float) -> QuantParams:
    """int16, zero point 0, scale 2^k / 32768 for the least power of two 2^k covering the range
    (PowerOfTwoBound), k within CELL_BOUNDS."""
    peak = max(abs(lo), abs(hi))
    log2 = math.ceil(math.log2(peak)) if peak > 0 else CELL_BOUNDS[0]
    log2 = min(max(log2, CELL_BOUNDS[0]), CELL_BOUNDS[1])
    return QuantParams(np.array([2.0 ** log2 / 32768], np.float32), np.array([0], np.int64))


def _input(op: Op, name: str) -> str:
    return op.inputs[INDEX[name]]


def choose_params(graph: Graph, op: Op, params: dict[str, QuantParams], dtypes: dict[str, str],
                  range_of) -> None:
    """The states' params (params, dtypes: int16 for the cell state), the values the FILLs that
    zero them write, and the intermediate tensors. range_of(name): a tensor's real range."""
    output = params[op.outputs[0]]
    cell = cell_state_params(*range_of(_input(op, "cell_state")))
    for state, state_params, dtype in (("output_state", output, "int8"), ("cell_state", cell, "int16")):
        name = _input(op, state)
        params[name], dtypes[name] = state_params, dtype
        _zero_fill(graph, name, state_params, dtype)
    hidden = activation_params(*range_of(hidden_name(op))) if _input(op, "projection_weights") else output
    names = []
    for kind in INTERMEDIATES:
        name = graph.unique_name(f"{op.outputs[0]}/{kind}_intermediate")
        if kind == "hidden":
            graph.add_tensor(Tensor(name, (0,), "int8", np.zeros(0, np.int8), hidden))
        else:
            graph.add_tensor(Tensor(name, (0,), "float32", np.zeros(0, np.float32)))
        names.append(name)
    op.attrs["intermediates"] = names


def _zero_fill(graph: Graph, state: str, params: QuantParams, dtype: str) -> None:
    """The FILL that zeroes a state before each invoke (passes/fuse_lstm.py; unsupported() lets
    no other writer through) writes the integer of real 0: the zero point (LiteRT resets an int8
    variable tensor to it too)."""
    fill = graph.producer(state)
    if fill is None:
        return  # a model whose state carries over from invoke to invoke
    zero = graph.add_const(f"{state}/zero_{dtype}", np.array(params.zero_point[0], dtype))
    graph.tensors[zero].quant = params
    graph.set_input(fill, 1, zero)


def quantize_constant(graph: Graph, op: Op, index: int, data: np.ndarray,
                      params: dict[str, QuantParams]) -> tuple[np.ndarray, QuantParams]:
    """The integer form of the op's constant input `index` and its params."""
    name = INPUTS[index]
    if name.endswith("_weights") and not name.startswith("cell_to_"):
        weight = symmetric_weight_params(data, None)
        return quantize_symmetric(data, weight), weight
    if name.startswith("cell_to_"):
        weight = symmetric_weight_params(data, None, bits=16)
        return quantize_symmetric(data, weight, bits=16), weight
    if name == "projection_bias":
        hidden = graph.tensors[op.attrs["intermediates"][-1]].quant
        scale = bias_params(float(hidden.scale[0]), _weight_params(graph, op, "projection_weights"))
    elif name.endswith("_gate_bias"):
        gate = name[:-len("_gate_bias")]
        scale = bias_params(float(params[_input(op, "input")].scale[0]),
                            _weight_params(graph, op, f"input_to_{gate}_weights"))
    else:
        raise ConversionError(f"{op!r}: no int8 form for the LSTM's constant {name} "
                              f"({op.inputs[index]!r})")
    return quantize_bias(data, scale), scale


def _weight_params(graph: Graph, op: Op, name: str) -> QuantParams:
    """A weight's params, from its float values (whether or not it is quantized yet)."""
    t = graph.tensors[_input(op, name)]
    return t.quant if t.quant is not None else symmetric_weight_params(t.data, None)
