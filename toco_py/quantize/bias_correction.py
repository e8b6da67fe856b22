"""Bias correction for per-channel int8 weights (Nagel et al., "Data-Free Quantization Through
Weight Equalization and Bias Correction", 2019, section 4.2; AIMET's empirical bias correction).

Rounding the weights W to W_q shifts an affine op's output y = W x + b by (W_q - W) x, whose
mean over the calibration data, E[(W_q - W) x] = (W_q - W) E[x] (the op is linear in x), is a
bias per output channel the int8 model would add to every output: subtracting it from the float
bias before the bias is quantized cancels it. E[x] is the mean of the op's float input over the
calibration runs; for a convolution, the op's own kernel run on that mean input with the weights
W_q - W gives the shift at every output position (padding included), averaged here per channel.
An op without a bias gets one.

Not on by default, though benchmarks/quant_accuracy.md measures it better than without on 4
networks of 10 (conv_bn_separable 0.00154 -> 0.00099 of the range) and within 1% on the others:
it costs file size. A corrected bias is a new int32 per channel with per-channel params; the
file no longer shares equal biases (MobileNetV2 at 96 px grows 19.7 KB, past TensorFlow's
converter's file), and an unrolled cell's steps get one bias each (gru_static_rnn 19.8 -> 27.7
KB; lstm_language_model 15.6 -> 18.7 KB, its FCs had no bias). In 16x8, where the activations
add little noise, the weights' rounding is most of the error and correcting it matters more
(conv_bn_separable 0.00125 -> 0.00022, digits_cnn 0.00037 -> 0.00018), but not everywhere
(audio_logmel 0.00010 -> 0.00011).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..ir import Graph, Op
from ..ops.common import ACTIVATION_ATTR
from ..ops.registry import definition
from .float_ops import float_reasons
from .full_integer import Int8Options
from .weight_ranges import rounding_error, weight_params

CORRECTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


class InputMeans:
    """The mean float input of every CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED run during
    calibration, per subgraph: pass it as calibrate's `observe`."""

    def __init__(self) -> None:
        self.sums: dict[tuple[int, str], np.ndarray] = {}
        self.counts: dict[tuple[int, str], int] = {}

    def __call__(self, index, op: Op, args: list, outputs: list) -> None:
        if op.type not in CORRECTED:
            return
        key = (index[0] if isinstance(index, tuple) else 0, op.inputs[0])
        x = np.asarray(args[0], np.float64)
        if key in self.sums and self.sums[key].shape != x.shape:
            self.counts[key] = -1  # its shape changes from run to run: no one mean
        if self.counts.get(key, 0) < 0:
            return
        self.sums[key] = self.sums.get(key, 0) + x
        self.counts[key] = self.counts.get(key, 0) + 1

    def mean(self, subgraph: int, name: str) -> np.ndarray | None:
        count = self.counts.get((subgraph, name), 0)
        return self.sums[(subgraph, name)] / count if count > 0 else None


def correct_biases(graph: Graph, means: InputMeans, options: Int8Options) -> int:
    """Subtracts each quantized affine op's mean weight-rounding error from its bias, in every
    subgraph; returns how many ops it corrected. Each op gets a bias of its own: the steps of
    an unrolled cell share weights and bias but not inputs (one bias corrected by the steps'
    mean shift measured worse than none on gru_static_rnn, 0.00910 against 0.00900 of the
    range; one per step, 0.00897). Ops the quantizer keeps in float keep theirs."""
    corrected = 0
    for s, g in enumerate(graph.subgraphs or [graph]):
        kept_float = set(float_reasons(g, options))
        for op in list(g.ops):
            if op.type not in CORRECTED or id(op) in kept_float:
                continue
            key = (s, op.inputs[1])
            shift = _shift(g, op, means.mean(s, op.inputs[0]), options, options.rounded_weights.get(key),
                           key in options.shared_weight_scales)
            if shift is None:
                continue
            bias = _bias(op)
            old = g.tensors[bias].data if bias else np.zeros(shift.size, np.float32)
            new = g.add_const(f"{bias or op.inputs[1] + '/bias'}/corrected", (old - shift).astype(np.float32))
            g.set_inputs(op, list(op.inputs[:2]) + [new])
            corrected += 1
    return corrected


def _bias(op: Op) -> str | None:
    return op.inputs[2] if len(op.inputs) > 2 and op.inputs[2] else None


def _shift(g: Graph, op: Op, mean_input: np.ndarray | None, options: Int8Options,
           rounded: np.ndarray | None, shared: bool = False) -> np.ndarray | None:
    """The mean output shift per channel that quantizing the op's weights (to nearest, or to
    `rounded`) causes, or None when the op has no constant float weights and bias, or no mean
    input. shared: the weights' channels share one scale (weight_params)."""
    w, bias = g.tensors[op.inputs[1]], _bias(op)
    if (mean_input is None or not w.is_const or w.dtype != "float32"
            or (bias is not None and not g.tensors[bias].is_const)):
        return None
    params = weight_params(w.data, definition(op).weight_axis[1], options.weight_ranges, shared=shared)
    error = rounding_error(w.data, params, rounded)
    linear = replace(op, attrs={**op.attrs, ACTIVATION_ATTR: "NONE"})
    shift = np.asarray(definition(op).kernel(linear, mean_input, error, None), np.float64)
    return shift.reshape(-1, shift.shape[-1]).mean(0)
