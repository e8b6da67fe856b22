"""int8 UNIDIRECTIONAL_SEQUENCE_LSTM, TFLite's 8x8_16 scheme, bit-exact with LiteRT: int8 input,
output and output state, int8 symmetric weights, int32 biases, int16 cell state with a
power-of-two scale, int16 gates (Q3.12 before their activations, Q0.15 after).

_Params is lstm.cc's Prepare for an integer LSTM (PopulateQuantizedLstmParams8x8_16: the
effective scales, computed in float as it does, and PopulatePrecomputedZPTimesWeightsWithBias:
the zero points folded into the biases); _step is lstm_eval.cc's LstmStepInteger8x8_16 with
portable_tensor_utils' integer functions. Layer-norm LSTMs (ApplyLayerNorm) are refused.
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import ConversionError
from ...ir import Graph, Op
from .. import fixed_point as fx
from ..lstm import INTERMEDIATES, inputs_by_name
from ..registry import register_int8
from .litert import per_tensor, require_dtype

# Q3.12: the gates' pre-activations when there is no layer norm (intermediate_scale).
GATE_SCALE = np.float32(2.0 ** -12)
GATES = ("input", "forget", "cell", "output")


def _log2_exact(op: Op, scale: np.float32) -> int:
    """CheckedLog2: the cell state's scale must be a power of two."""
    log2 = np.float32(math.log(float(scale))) * np.float32(1.0 / math.log(2.0))
    rounded = fx.round_half_away(float(log2))
    if abs(float(log2) - rounded) >= 1e-3:
        raise ConversionError(f"{op!r}: the int16 cell state's scale {float(scale):.9g} is not a "
                              "power of two, which LiteRT's integer LSTM requires")
    return rounded


def _row_sums(w: np.ndarray) -> np.ndarray:
    return w.astype(np.int64).sum(axis=1)


def _folded_bias(zero_point: int, w: np.ndarray | None, bias: np.ndarray | None) -> np.ndarray | None:
    """PrecomputeZeroPointTimesWeightWithBias: bias + zero_point * (row sums of w), in int32."""
    if w is None:
        return None
    out = np.zeros(w.shape[0], np.int64) if bias is None else bias.astype(np.int64)
    return fx.wrap32(out + zero_point * _row_sums(w))


class _Params:
    """What Prepare computes once: multipliers, folded biases, clips."""

    def __init__(self, op: Op, graph: Graph, t: dict) -> None:
        names = inputs_by_name(op, list(op.inputs))
        if t["forget_layer_norm_coefficients"] is not None:
            raise ConversionError(f"{op!r}: the interpreter has no int8 kernel for a layer-norm LSTM")
        n_cell, n_output = t["recurrent_to_output_weights"].shape
        if t["cell_to_output_weights"] is not None and n_output > n_cell:
            # LiteRT's peephole would read past the cell state (see _peephole).
            raise ConversionError(f"{op!r}: LiteRT's integer LSTM cannot have peepholes and a "
                                  f"projection to more outputs ({n_output}) than cells ({n_cell})")
        intermediates = op.attrs.get("intermediates", ())
        if len(intermediates) != len(INTERMEDIATES):
            raise ConversionError(f"{op!r}: an integer LSTM needs {len(INTERMEDIATES)} intermediate "
                                  f"tensors, it has {len(intermediates)}")
        require_dtype(op, graph, names["cell_state"], ("int16",))
        require_dtype(op, graph, names["output_state"], ("int8",))
        in_scale, in_zero = per_tensor(op, graph, names["input"])
        state_scale, state_zero = per_tensor(op, graph, names["output_state"])
        cell_scale, _ = per_tensor(op, graph, names["cell_state"])
        out_scale, _ = per_tensor(op, graph, op.outputs[0])
        hidden_scale, hidden_zero = per_tensor(op, graph, intermediates[4])
        # The zero point the int8 hidden value o * tanh(c) gets added before it is clipped. Measured
        # on the installed LiteRT: the intermediate's own without a projection, its negation with
        # one (the projection's bias then folds +hidden_zp). The two orders agree unless the
        # hidden value clips: tests/test_codegen_int8_lstm.py's wide rows, where it does.
        self.hidden_zero = hidden_zero if t["projection_weights"] is None else -hidden_zero
        self.cell_log2 = _log2_exact(op, cell_scale)
        self.state_zero = state_zero

        def scale(name: str) -> np.float32:
            return per_tensor(op, graph, names[name])[0]

        def multiplier(real) -> tuple[int, int]:
            return fx.quantize_multiplier(float(np.float32(real)))

        # Per gate: (input weights multiplier, recurrent multiplier, peephole multiplier,
        # input-side folded bias, recurrent-side folded bias).
        self.gates = {}
        for gate in GATES:
            w_in, w_rec = t[f"input_to_{gate}_weights"], t[f"recurrent_to_{gate}_weights"]
            if w_in is None:
                continue  # CIFG: no input gate
            peephole = None
            if gate != "cell" and t[f"cell_to_{gate}_weights"] is not None:
                # double: std::pow(2, cell_scale) * float / float.
                peephole = multiplier(2.0 ** self.cell_log2 * float(scale(f"cell_to_{gate}_weights"))
                                      / float(GATE_SCALE))
            self.gates[gate] = (
                multiplier(np.float32(scale(f"input_to_{gate}_weights") * in_scale) / GATE_SCALE),
                multiplier(np.float32(scale(f"recurrent_to_{gate}_weights") * state_scale) / GATE_SCALE),
                peephole,
                _folded_bias(-in_zero, w_in, t[f"{gate}_gate_bias"]),
                _folded_bias(-state_zero, w_rec, None))
        # double: std::pow(2, -15) / float * std::pow(2, -15).
        self.hidden = multiplier(2.0 ** -15 / float(hidden_scale) * 2.0 ** -15)
        self.projection = None
        if t["projection_weights"] is not None:
            # The hidden value's zero point folded as the input's and the state's are.
            self.projection = (
                multiplier(np.float32(scale("projection_weights") * hidden_scale) / state_scale),
                _folded_bias(-self.hidden_zero, t["projection_weights"], t["projection_bias"]))
        cell_clip, proj_clip = op.attrs.get("cell_clip", 0.0), op.attrs.get("proj_clip", 0.0)
        # static_cast of a float clamped to the type's range: truncation toward zero.
        self.cell_clip = int(np.clip(np.float32(cell_clip) / cell_scale, -32768, 32767)) if cell_clip > 0 else 0
        self.proj_clip = int(np.clip(np.float32(proj_clip) / out_scale, -128, 127)) if proj_clip > 0 else 0


def _matmul_accumulate(x: np.ndarray, w: np.ndarray, bias: np.ndarray, mult: tuple[int, int],
                       acc: np.ndarray, out_zero: int = 0, bounds=(fx.INT16_MIN, fx.INT16_MAX)) -> np.ndarray:
    """MatrixBatchVectorMultiplyAccumulate (integer): acc + requantized(bias + x w^T) + zero
    point, saturated to the output type. Every requantization of this kernel rounds twice
    (MultiplyByQuantizedMultiplier): measured, single rounding fails every int8 case of
    tests/test_lstm_op.py."""
    total = fx.wrap32(bias + x.astype(np.int64) @ w.astype(np.int64).T)
    return np.clip(fx.scale_double_rounding(total, *mult) + out_zero + acc, *bounds)


def _peephole(w: np.ndarray, cell: np.ndarray, acc: np.ndarray, mult: tuple[int, int],
              n_output: int, time_major: bool) -> np.ndarray:
    """VectorBatchVectorCwiseProductAccumulate as LstmStepInteger8x8_16 calls it, with n_output
    as the vector's length where n_cell is meant (LiteRT's arithmetic, reproduced). With a
    projection to fewer outputs than cells, it runs over the first n_output * rows elements of
    the flat cell state and gate buffers, cycling through the first n_output weights: rows is
    the whole batch when time major, one batch row at a time otherwise (EvalInteger8x8_16
    steps through a batch-major input row by row)."""
    rows = cell.shape[0] if time_major else 1
    flat_acc = acc.reshape(-1, rows * cell.shape[1]).copy()
    flat_cell = cell.reshape(flat_acc.shape)
    count = rows * n_output
    product = np.tile(w[:n_output].astype(np.int64), rows) * flat_cell[:, :count]
    flat_acc[:, :count] = np.clip(fx.scale_double_rounding(product, *mult) + flat_acc[:, :count],
                                  fx.INT16_MIN, fx.INT16_MAX)
    return flat_acc.reshape(acc.shape)


def _step(p: _Params, t: dict, x: np.ndarray, h: np.ndarray, c: np.ndarray, time_major: bool):
    """LstmStepInteger8x8_16 for a batch: x, h int8 [batch, *], c int16 [batch, cell].

    The cell state's tanh runs in Q(15 + cell_log2), and LiteRT's ApplyTanh has kernels for
    0 to 6 integer bits only: outside them (a cell scale below 2^-15 or above 2^-9, which TF's
    converter picks for a cell range under 0.5 or over 64) it returns without writing its
    output buffer, which still holds the input gate, and the hidden value is o * i instead of
    o * tanh(c). Measured on TF's converter's 2-layer Keras LSTM (cell scale 2^-16): LiteRT's
    output saturates; reproduced here to stay bit-exact with it."""

    def pre_activation(gate: str, cell: np.ndarray) -> np.ndarray:
        in_mult, rec_mult, peep_mult, in_bias, rec_bias = p.gates[gate]
        acc = np.zeros(cell.shape, np.int64)
        acc = _matmul_accumulate(x, t[f"input_to_{gate}_weights"], in_bias, in_mult, acc)
        acc = _matmul_accumulate(h, t[f"recurrent_to_{gate}_weights"], rec_bias, rec_mult, acc)
        if peep_mult is not None:
            acc = _peephole(t[f"cell_to_{gate}_weights"], cell, acc, peep_mult, h.shape[1],
                            time_major)
        return acc

    f = fx.logistic16(pre_activation("forget", c), 3)
    g = fx.tanh16(pre_activation("cell", c), 3)
    i = fx.INT16_MAX - f if "input" not in p.gates else fx.logistic16(pre_activation("input", c), 3)
    # CwiseMul (a rounding shift, the int16 cast wraps) and CwiseAdd (saturating).
    kept = fx.wrap16(fx.rdbpot(f * c, 15))
    added = fx.wrap16(fx.rdbpot(i * g, 30 + p.cell_log2))
    c = np.clip(kept + added, fx.INT16_MIN, fx.INT16_MAX)
    if p.cell_clip > 0:
        c = np.clip(c, -p.cell_clip, p.cell_clip)
    o = fx.logistic16(pre_activation("output", c), 3)
    squashed = fx.tanh16(c, 15 + p.cell_log2) if 0 <= 15 + p.cell_log2 <= 6 else i
    hidden = np.clip(fx.scale_double_rounding(o * squashed, *p.hidden) + p.hidden_zero, -128, 127)
    if p.projection is None:
        out = hidden
    else:
        mult, bias = p.projection
        out = _matmul_accumulate(hidden, t["projection_weights"], bias, mult, np.zeros(
            (hidden.shape[0], bias.shape[0]), np.int64), p.state_zero, (-128, 127))
        if p.proj_clip > 0:
            out = np.clip(out, -p.proj_clip, p.proj_clip)
    return out, c


def lstm_int8(op: Op, graph: Graph, *arrays: np.ndarray | None):
    t = inputs_by_name(op, list(arrays))
    p = _Params(op, graph, t)
    x = t["input"]
    time_major = op.attrs.get("time_major", False)
    h = t["output_state"].astype(np.int64).reshape(x.shape[1 if time_major else 0], -1)
    c = t["cell_state"].astype(np.int64).reshape(h.shape[0], -1)
    outputs = []
    for x_t in (x if time_major else np.swapaxes(x, 0, 1)):
        h, c = _step(p, t, x_t, h, c, time_major)
        outputs.append(h)
    out = np.stack(outputs, axis=0 if time_major else 1).astype(np.int8)
    return (out, h.astype(np.int8).reshape(t["output_state"].shape),
            c.astype(np.int16).reshape(t["cell_state"].shape))


register_int8("UNIDIRECTIONAL_SEQUENCE_LSTM", lstm_int8)
