"""TensorFlow's LSTM kernels (tensorflow/core/kernels/rnn/lstm_ops.cc), converter-only:
LSTMBlockCell (one step) and BlockLSTM / BlockLSTMV2 (a time-major sequence [T, batch,
features] of seq_len_max steps). passes/lower_block_lstm.py writes them as element-wise
cells, which passes/fuse_lstm.py fuses.

One step: the gates are [x, h_prev] @ w + b, w [features + units, 4 units], its columns in
the gate order "icfo" (LSTMBlockCell, BlockLSTM) or "ifco" (BlockLSTMV2), then
    i = sigmoid(gate_i [+ cs_prev * wci]), ci = tanh(gate_c),
    f = sigmoid(gate_f + forget_bias [+ cs_prev * wcf])   (BlockLSTMV2: no forget_bias)
    cs = [clip to +-cell_clip when it is > 0] (ci * i + cs_prev * f)
    co = tanh(cs), o = sigmoid(gate_o [+ cs * wco]), h = o * co
and the outputs are (i, cs, f, o, ci, co, h). BlockLSTM writes zeros for cs and h from step
seq_len_max on (and leaves the others unwritten: zeros here).
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import need_shape
from .registry import register

OUTPUTS = ("i", "cs", "f", "o", "ci", "co", "h")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def block_step(op: Op, x, cs_prev, h_prev, w, wci, wcf, wco, b) -> tuple[np.ndarray, ...]:
    """TensorFlow's one step (the module doc); the outputs in OUTPUTS order."""
    gates = np.concatenate([x, h_prev], axis=1) @ w + b
    part = dict(zip(op.attrs["gate_order"], np.split(gates, 4, axis=1)))
    peephole = op.attrs["use_peephole"]
    i = _sigmoid(part["i"] + cs_prev * wci if peephole else part["i"])
    ci = np.tanh(part["c"])
    f_in = part["f"] + np.float32(op.attrs["forget_bias"])
    f = _sigmoid(f_in + cs_prev * wcf if peephole else f_in)
    cs = ci * i + cs_prev * f
    clip = op.attrs["cell_clip"]
    if clip > 0:
        cs = np.clip(cs, -np.float32(clip), np.float32(clip))
    co = np.tanh(cs)
    o = _sigmoid(part["o"] + cs * wco if peephole else part["o"])
    return tuple(v.astype(x.dtype) for v in (i, cs, f, o, ci, co, o * co))


def _units(op: Op, x: tuple, w: Tensor) -> int:
    w_shape = need_shape(op, w)
    if len(w_shape) != 2 or w_shape[1] % 4 or w_shape[0] != x[-1] + w_shape[1] // 4:
        raise ConversionError(f"{op!r}: w {list(w_shape)} is not [features + units, 4 units] "
                              f"for inputs of {x[-1]} features")
    return w_shape[1] // 4


def _infer_cell(op: Op, x: Tensor, cs_prev: Tensor, h_prev: Tensor, w: Tensor, *rest: Tensor):
    shape = need_shape(op, x)
    if len(shape) != 2:
        raise ConversionError(f"{op!r}: x must be [batch, features], is {list(shape)}")
    return [((shape[0], _units(op, shape, w)), x.dtype)] * len(OUTPUTS)


def _infer_block(op: Op, seq_len_max: Tensor, x: Tensor, cs_prev: Tensor, h_prev: Tensor, w: Tensor, *rest):
    shape = need_shape(op, x)
    if len(shape) != 3:
        raise ConversionError(f"{op!r}: x must be [time, batch, features], is {list(shape)}")
    return [((shape[0], shape[1], _units(op, shape, w)), x.dtype)] * len(OUTPUTS)


def _block(op: Op, seq_len_max, x, cs_prev, h_prev, *params):
    steps = int(seq_len_max)
    if not 0 <= steps <= x.shape[0]:
        raise ConversionError(f"{op!r}: seq_len_max {steps} is not between 0 and {x.shape[0]}")
    outs = [np.zeros(x.shape[:2] + (cs_prev.shape[1],), x.dtype) for _ in OUTPUTS]
    cs, h = cs_prev, h_prev
    for t in range(steps):
        values = block_step(op, x[t], cs, h, *params)
        for out, value in zip(outs, values):
            out[t] = value
        cs, h = values[1], values[-1]
    return tuple(outs)


# Lowered to element-wise cells before the model is written.
register("LSTMBlockCell", builtin=False, infer=_infer_cell, kernel=block_step)
register("BlockLSTM", builtin=False, infer=_infer_block, kernel=_block)
