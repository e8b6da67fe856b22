"""UNIDIRECTIONAL_SEQUENCE_LSTM: TFLite's fused LSTM over a sequence (LiteRT's
kernels/unidirectional_sequence_lstm.cc and lstm_eval.cc), its 24 inputs and its float kernel.

Gates in TFLite's order i (input), f (forget), c (cell), o (output). Optional parts, each
given by which inputs are present: CIFG (no input gate: i = 1 - f) when the input-gate
weights are absent, peepholes (cell_to_*_weights, diagonal), layer norm (the *_layer_norm
coefficients: the gate's pre-activation normalized per step, then scaled, then its bias
added), projection (projection_weights, optional projection_bias, clipped by proj_clip).

The output and cell state (inputs 18 and 19) are variable tensors (Tensor.variable): they
start at zero and keep their values from one invoke to the next. The kernels return the
states' new values after the output (the "updates_variables" trait).
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import need_shape
from .registry import APPROXIMATED, register

# The schema's input order (lstm_shared.h). "" marks an absent optional input in the IR.
INPUTS = (
    "input",
    "input_to_input_weights", "input_to_forget_weights", "input_to_cell_weights",
    "input_to_output_weights",
    "recurrent_to_input_weights", "recurrent_to_forget_weights", "recurrent_to_cell_weights",
    "recurrent_to_output_weights",
    "cell_to_input_weights", "cell_to_forget_weights", "cell_to_output_weights",
    "input_gate_bias", "forget_gate_bias", "cell_gate_bias", "output_gate_bias",
    "projection_weights", "projection_bias",
    "output_state", "cell_state",
    "input_layer_norm_coefficients", "forget_layer_norm_coefficients",
    "cell_layer_norm_coefficients", "output_layer_norm_coefficients",
)
INDEX = {name: i for i, name in enumerate(INPUTS)}
OPTIONAL = frozenset({
    "input_to_input_weights", "recurrent_to_input_weights", "cell_to_input_weights",
    "cell_to_forget_weights", "cell_to_output_weights", "input_gate_bias", "projection_weights",
    "projection_bias", "input_layer_norm_coefficients", "forget_layer_norm_coefficients",
    "cell_layer_norm_coefficients", "output_layer_norm_coefficients",
})
STATES = ("output_state", "cell_state")
# The intermediate tensors of an integer LSTM (op.attrs["intermediates"], TFLite's
# Operator.intermediates): the scales of the four gates' pre-activations (used with layer
# norm) and of the hidden value before the projection (lstm.cc, PopulateQuantizedLstmParams8x8_16).
INTERMEDIATES = ("input_gate", "forget_gate", "cell_gate", "output_gate", "hidden")
# The activations the cell input and cell output go through (lstm_eval.cc's
# ApplyActivationToVector); NONE is refused: LiteRT's kernel then leaves the cell output
# unwritten (it keeps the cell gate's values), which no TensorFlow cell computes.
ACTIVATIONS = {
    "TANH": np.tanh,
    "RELU": lambda x: np.maximum(x, 0),
    "RELU6": lambda x: np.clip(x, 0, 6),
    "RELU_N1_TO_1": lambda x: np.clip(x, -1, 1),
}


def inputs_by_name(op: Op, values: list) -> dict:
    """The op's input values by schema name (None where absent), from a list in input order."""
    if len(values) != len(INPUTS):
        raise ConversionError(f"{op!r}: UNIDIRECTIONAL_SEQUENCE_LSTM takes {len(INPUTS)} inputs "
                              f"(some may be absent), not {len(values)}")
    return dict(zip(INPUTS, values))


def _infer(op: Op, *tensors: Tensor | None):
    t = inputs_by_name(op, list(tensors))
    for name in INPUTS:
        if t[name] is None and name not in OPTIONAL:
            raise ConversionError(f"{op!r}: the LSTM input {name} is required")
    for name in STATES:
        if not t[name].variable:
            raise ConversionError(f"{op!r}: the LSTM's {name} ({t[name].name!r}) must be a variable "
                                  "tensor (TFLite keeps the state in it between invokes)")
    if op.attrs.get("fused_activation_function", "NONE") not in ACTIVATIONS:
        raise ConversionError(f"{op!r}: LiteRT's LSTM applies TANH, RELU, RELU6 or RELU_N1_TO_1 "
                              f"to its cell, not {op.attrs.get('fused_activation_function', 'NONE')}")
    shape = need_shape(op, t["input"])
    if len(shape) != 3:
        raise ConversionError(f"{op!r}: the LSTM's input must have rank 3, not {len(shape)}")
    n_output = need_shape(op, t["recurrent_to_output_weights"])[1]
    return shape[:2] + (n_output,), t["input"].dtype


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _layer_norm(x: np.ndarray, coefficients: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """MeanStddevNormalization per batch row, then the coefficients and the bias."""
    mean = x.mean(axis=-1, keepdims=True)
    variance = np.square(x - mean).mean(axis=-1, keepdims=True)
    normalized = (x - mean) / np.sqrt(variance + x.dtype.type(1e-8))
    return normalized * coefficients + bias


def lstm_step(t: dict, activation, x: np.ndarray, h: np.ndarray, c: np.ndarray,
              cell_clip: float, proj_clip: float, record: dict | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """One step for a batch: x [batch, input], h [batch, output], c [batch, cell]; returns
    (new h, new c) as lstm_eval.cc's LstmStepWithAuxInput computes them. `record` receives
    each gate's pre-activation and activation, and the cell output (o * activation(c))."""
    layer_norm = t["forget_layer_norm_coefficients"] is not None
    record = {} if record is None else record

    def gate(name: str, peephole: np.ndarray | None, squash) -> np.ndarray:
        pre = x @ t[f"input_to_{name}_weights"].T + h @ t[f"recurrent_to_{name}_weights"].T
        bias = t[f"{name}_gate_bias"]
        if not layer_norm:
            pre = pre + bias
        if peephole is not None:
            pre = pre + peephole
        if layer_norm:
            pre = _layer_norm(pre, t[f"{name}_layer_norm_coefficients"], bias)
        record[name] = (pre, squash(pre))
        return record[name][1]

    def peephole(name: str, state: np.ndarray) -> np.ndarray | None:
        w = t[f"cell_to_{name}_weights"]
        return None if w is None else w * state

    cifg = t["input_to_input_weights"] is None
    f = gate("forget", peephole("forget", c), _sigmoid)
    g = gate("cell", None, activation)
    i = 1 - f if cifg else gate("input", peephole("input", c), _sigmoid)
    c = f * c + i * g
    if cell_clip > 0:
        c = np.clip(c, -cell_clip, cell_clip)
    o = gate("output", peephole("output", c), _sigmoid)
    h = record["hidden"] = o * activation(c)
    if t["projection_weights"] is not None:
        h = h @ t["projection_weights"].T
        if t["projection_bias"] is not None:
            h = h + t["projection_bias"]
        if proj_clip > 0:
            h = np.clip(h, -proj_clip, proj_clip)
    return h, c


def _sequence(op: Op, arrays: list, steps_seen: dict | None = None):
    """(output, new output state, new cell state); steps_seen, when given, receives the cell
    state and the hidden value o * activation(c) of every step, stacked on a first axis."""
    t = inputs_by_name(op, arrays)
    x = t["input"]
    dtype = x.dtype.type
    time_major = op.attrs.get("time_major", False)
    steps = x if time_major else np.swapaxes(x, 0, 1)
    # The states may be 1-D or 2-D in TFLite (their element counts are what it checks).
    h = t["output_state"].astype(x.dtype).reshape(x.shape[1 if time_major else 0], -1)
    c = t["cell_state"].astype(x.dtype).reshape(h.shape[0], -1)
    activation = ACTIVATIONS[op.attrs.get("fused_activation_function", "NONE")]
    outputs, cells, hiddens = [], [], []
    for x_t in steps:
        record: dict = {}
        h, c = lstm_step(t, activation, x_t, h, c, dtype(op.attrs.get("cell_clip", 0.0)),
                         dtype(op.attrs.get("proj_clip", 0.0)), record)
        outputs.append(h)
        cells.append(c)
        hiddens.append(record["hidden"])
    if steps_seen is not None:
        steps_seen.update(cell=np.stack(cells), hidden=np.stack(hiddens))
    out = np.stack(outputs, axis=0 if time_major else 1).astype(x.dtype, copy=False)
    return out, h.reshape(t["output_state"].shape), c.reshape(t["cell_state"].shape)


def lstm(op: Op, *arrays: np.ndarray | None):
    """The float kernel: (output, new output state, new cell state)."""
    return _sequence(op, list(arrays))


def hidden_name(op: Op) -> str:
    """The name the hidden value o * activation(c) is calibrated under (_observed), whose
    range the int8 quantizer gives the op's hidden intermediate tensor."""
    return f"{op.outputs[0]}/hidden"


def _observed(op: Op, *arrays: np.ndarray | None) -> dict[str, np.ndarray]:
    """What calibration must see inside the op (OpDef.observed): every step's cell state (the
    int16 cell state's scale) and hidden value (the hidden intermediate's params); the op's
    results show only the last step's."""
    seen: dict = {}
    _sequence(op, list(arrays), seen)
    return {op.inputs[INDEX["cell_state"]]: seen["cell"], hidden_name(op): seen["hidden"]}


def _derivative(function, a: np.ndarray) -> np.ndarray:
    step = 1e-6
    return (function(a + step) - function(a - step)) / (2 * step)


def _squares(op: Op, *arrays: np.ndarray | None) -> list[np.ndarray]:
    """For the float tolerance policy (OpDef.squares): per element of the output and of the
    new states, the squared terms whose rounding reaches it. Each gate's pre-activation rounds
    in proportion to its terms (over the normalization's spread with layer norm); that rounding
    goes through the gate's activation, the cell state (kept from step to step, damped by the
    forget gate) and the output's product, each scaling it by its derivative (the linearized
    step, in float64); a projection sums the cell outputs once more."""
    t = inputs_by_name(op, list(arrays))
    x = t["input"].astype(np.float64)
    time_major = op.attrs.get("time_major", False)
    activation = ACTIVATIONS[op.attrs.get("fused_activation_function", "NONE")]
    h = t["output_state"].astype(np.float64).reshape(x.shape[1 if time_major else 0], -1)
    c = t["cell_state"].astype(np.float64).reshape(h.shape[0], -1)
    squared = {k: None if v is None else np.square(v.astype(np.float64)) for k, v in t.items()}
    cell_squares = np.square(c)  # the carried cell state's own rounding
    outputs = []
    for x_t in (x if time_major else np.swapaxes(x, 0, 1)):
        gate_squares = {}
        for gate in ("input", "forget", "cell", "output"):
            if t[f"input_to_{gate}_weights"] is None:
                continue
            terms = (np.square(x_t) @ squared[f"input_to_{gate}_weights"].T
                     + np.square(h) @ squared[f"recurrent_to_{gate}_weights"].T
                     + squared[f"{gate}_gate_bias"])
            if gate != "cell" and t[f"cell_to_{gate}_weights"] is not None:
                terms = terms + squared[f"cell_to_{gate}_weights"] * np.square(c)
            if t["forget_layer_norm_coefficients"] is not None:
                pre = x_t @ t[f"input_to_{gate}_weights"].T + h @ t[f"recurrent_to_{gate}_weights"].T
                terms = terms * squared[f"{gate}_layer_norm_coefficients"] / (pre.var(axis=-1, keepdims=True) + 1e-8)
            gate_squares[gate] = terms
        step: dict = {}
        previous = c
        h, c = lstm_step(t, activation, x_t, h, c, op.attrs.get("cell_clip", 0.0),
                         op.attrs.get("proj_clip", 0.0), step)
        (a_f, f), (a_g, g), (a_o, o) = step["forget"], step["cell"], step["output"]
        through_f = np.square(previous * _derivative(_sigmoid, a_f)) * gate_squares["forget"]
        if "input" in gate_squares:  # CIFG: i = 1 - f, its rounding that of f
            a_i, i = step["input"]
            through_i = np.square(g * _derivative(_sigmoid, a_i)) * gate_squares["input"]
        else:
            i, through_i = 1 - f, np.square(g * _derivative(_sigmoid, a_f)) * gate_squares["forget"]
        through_g = np.square(i * _derivative(activation, a_g)) * gate_squares["cell"]
        cell_squares = through_f + through_i + through_g + np.square(f) * cell_squares + np.square(c)
        hidden = (np.square(activation(c) * _derivative(_sigmoid, a_o)) * gate_squares["output"]
                  + np.square(o * _derivative(activation, c)) * cell_squares + np.square(step["hidden"]))
        if t["projection_weights"] is not None:
            hidden = (hidden + np.square(step["hidden"])) @ squared["projection_weights"].T
            if t["projection_bias"] is not None:
                hidden = hidden + squared["projection_bias"]
        outputs.append(hidden)
    # The results: the output sequence, then the states the op leaves (the last step's h, c).
    return [np.stack(outputs, axis=0 if time_major else 1), hidden, cell_squares]


def _sum_length(op: Op, *arrays) -> int:
    """The longest sum of one step's gate: input and recurrent products, bias, peephole."""
    t = inputs_by_name(op, list(arrays))
    return t["input_to_output_weights"].shape[1] + t["recurrent_to_output_weights"].shape[1] + 2


def tflm_gap(op: Op) -> str | None:
    """What of this LSTM TensorFlow Lite Micro's kernel does not compute, or None (measured with
    tflite_micro at targets.TFLM_VERSION: it refuses peepholes and a projection, and applies
    tanh whatever the op's activation, silently)."""
    given = {name for name, tensor in zip(INPUTS, op.inputs) if tensor}
    if given & {"cell_to_input_weights", "cell_to_forget_weights", "cell_to_output_weights"}:
        return "peepholes"
    if "projection_weights" in given:
        return "a projection"
    if op.attrs.get("fused_activation_function") != "TANH":
        return f"a {op.attrs.get('fused_activation_function')} activation"
    return None


register("UNIDIRECTIONAL_SEQUENCE_LSTM", infer=_infer, kernel=lstm, foldable=False,
         ulps=APPROXIMATED, sum_length=_sum_length, squares=_squares, observed=_observed,
         traits={"updates_variables", "tflm"})
