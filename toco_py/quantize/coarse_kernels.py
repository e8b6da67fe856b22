"""16x8: an element-wise op whose int16 kernel loses more than an int8 step of its output range
on the calibration data stays in float.

16x8's int16 activations round to about 1/65536 of a range, but LiteRT computes EXP, LOG, RSQRT
and GELU in int16 from a table of 513 samples of the input range, interpolated linearly
(ops/int16/lut.py). Where the function bends within one of those 512 steps, the table is far
coarser than the rounding. Spotify's basic-pitch takes the LOG of a power spectrum whose values
mostly lie in the first step above zero of the symmetric input range: on noise, that LOG alone
brought the signal-to-noise ratio from 28 dB at its input to -9 dB, and the 16x8 model lost more
of its outputs' range than the int8 one (0.121 against 0.105 on its worst output; 0.055 with the
LOG and the epsilon ADD before it in float). int8 tables have one entry per input level, so they
cannot fail this way.

1. Each quantized element-wise op of one input runs its int16 kernel on a sample of the float
   inputs calibration gave it, quantized with the params the model gives them. Its error is the
   mean distance to the float outputs rounded to the output's own params (the best its int16
   output could hold), against the outputs' range. The float op's error is measured the same way,
   on its input as is when that input would be float too, else dequantized.
2. The ops whose table loses more than an int8 step, and more than in float, stay float only if
   that lowers the whole model's error on calibration samples. The local measure is blind to
   what comes after: on music, basic-pitch's float LOG of its coarsely quantized spectrum moved
   the minimum its log spectrum is normalized by, and the model's error rose 0.027 -> 0.036.
"""
from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np

from ..errors import TocoError
from ..interpreter import kernel_for, run_op
from ..ir import Graph, Op
from ..ops import REGISTRY, has_trait
from ..ops.quantize_ops import dequantize, quantize
from ..sensitivity import float_outputs, model_error
from .float_ops import float_reasons
from .full_integer import Int8Options, quantize_int8

# Elements kept per run and per op (evenly spaced), and in all per op: enough for a mean of a
# table's error, cheap for a loop body run many times.
PER_RUN, PER_OP = 4096, 1 << 16
# Calibration feeds the model's error is compared on before ops are kept in float: the local
# measure sees neither how wrong the op's input already is nor what the ops after it amplify
# (basic-pitch's minimum of its log spectrum).
CHECKED = 8
# The error an op may add, as a share of its outputs' range: an int8 step. A kernel worse than
# that defeats the point of 16-bit activations.
LIMIT = 1 / 256


class ElementwiseSamples:
    """Samples of the float input and output elements of every element-wise op of one input run
    during calibration, by (subgraph index, op's first output): pass it as calibrate's
    `observe`."""

    def __init__(self) -> None:
        self.pairs: dict[tuple[int, str], list[tuple[np.ndarray, np.ndarray]]] = {}
        self.counts: dict[tuple[int, str], int] = {}

    def __call__(self, index, op: Op, args: list, outputs: list) -> None:
        if len(args) != 1 or not op.outputs or not has_trait(op.type, "elementwise"):
            return
        x, y = np.asarray(args[0]), np.asarray(outputs[0])
        if x.dtype.kind != "f" or x.shape != y.shape:
            return
        key = (index[0] if isinstance(index, tuple) else 0, op.outputs[0])
        if self.counts.get(key, 0) >= PER_OP:
            return
        stride = max(1, x.size // PER_RUN)
        self.pairs.setdefault(key, []).append((x.ravel()[::stride], y.ravel()[::stride]))
        self.counts[key] = self.counts.get(key, 0) + x.ravel()[::stride].size

    def arrays(self, key: tuple[int, str]) -> tuple[np.ndarray, np.ndarray]:
        pairs = self.pairs[key]
        return (np.concatenate([x for x, _ in pairs]).astype(np.float32),
                np.concatenate([y for _, y in pairs]).astype(np.float64))


def coarse_kernels(graph: Graph, ranges: list[dict[str, tuple[float, float]]], options: Int8Options,
                   samples: ElementwiseSamples, feeds: list[dict[str, np.ndarray]]) -> dict[str, str]:
    """The ops (by first output, as Int8Options.keep_float names them) whose int16 kernel loses
    more than LIMIT of their output range on the sampled calibration data, and more than they
    would in float, with why; none unless keeping them all in float also lowers the model's
    output error on the first CHECKED calibration feeds."""
    copies: dict[int, object] = {}
    quantized = copy.deepcopy(graph, copies)  # copies[id(op)]: the op in the quantized graph
    quantize_int8(quantized, ranges, options)
    floats, ints = graph.subgraphs or [graph], quantized.subgraphs or [quantized]
    kept = {}
    for s, name in samples.pairs:
        op = floats[s].producer(name)
        twin = copies.get(id(op))
        if twin is None or not any(o is twin for o in ints[s].ops):
            continue
        losses = _Losses(ints[s], twin, *samples.arrays((s, name)))
        table = losses.table()
        if table is None or table <= LIMIT:
            continue  # most ops: no float alternative to measure
        in_float = losses.in_float(_input_would_be_float(floats[s], op, options))
        if in_float < table:
            kept[name] = (f"its int16 kernel loses {table:.2g} of its output range on the calibration "
                          f"data, more than an int8 step, and {in_float:.2g} in float; --int8_only keeps "
                          "it int16")
    if not kept:
        return {}
    with_kept = copy.deepcopy(graph)
    quantize_int8(with_kept, ranges, replace(options, keep_float={**kept, **options.keep_float}))
    checked = feeds[:CHECKED]
    truths = float_outputs(graph, checked)
    better = model_error(graph, with_kept, checked, truths) < model_error(graph, quantized, checked, truths)
    return kept if better else {}


def _input_would_be_float(graph: Graph, op: Op, options: Int8Options) -> bool:
    """Whether the op's input would be computed in float were the op kept in float: its
    producer would then lie between float ops (float_ops.between_floats), as basic-pitch's
    epsilon ADD between its float SQUARE and LOG does."""
    producer = graph.producer(op.inputs[0])
    if producer is None:
        return False
    keep = replace(options, keep_float={**options.keep_float, op.outputs[0]: "measured"})
    return id(producer) in float_reasons(graph, keep)


class _Losses:
    """An int16 op's mean errors on sampled float inputs x (and the float model's outputs y), as
    shares of the outputs' range: its int16 kernel's (table), and the float op's (in_float)."""

    def __init__(self, graph: Graph, op: Op, x: np.ndarray, y: np.ndarray) -> None:
        finite = np.isfinite(y)  # a LOG of 0 in the float model: nothing to compare with
        self.graph, self.op, self.x, self.y = graph, op, x[finite], y[finite]
        self.source, self.target = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
        self.span = float(self.y.max() - self.y.min()) if self.y.size else 0.0

    def table(self) -> float | None:
        """None when the op is not computed in int16, its outputs are constant, or its kernel
        refuses the data (LiteRT's RSQRT fails on a negative input: calibration saw one, and
        the op is no choice of ours)."""
        if self.source.dtype != "int16" or self.target.dtype != "int16" or self.span == 0.0:
            return None
        try:
            [got] = run_op(self.op, kernel_for(self.graph, self.op), [self._quantized_input()])
        except TocoError:
            return None
        return self._loss(dequantize(got, self.target.quant.scale, self.target.quant.zero_point))

    def in_float(self, reads_float: bool) -> float:
        """The float op reads its input as is when that input would be float too (reads_float),
        else dequantized; its output is quantized again unless only the model's outputs read
        it: a LOG whose input's epsilon rounded to 0 then gives -inf, where the table gives
        its lowest value."""
        source = self.source.quant
        x = self.x if reads_float else dequantize(self._quantized_input(), source.scale, source.zero_point)
        got = REGISTRY[self.op.type].kernel(self.op, x)
        if any(c.type != "DEQUANTIZE" for c in self.graph.consumers(self.op.outputs[0])):
            got = self._requantized(got)
        return self._loss(got)

    def _quantized_input(self) -> np.ndarray:
        return quantize(self.x, self.source.quant.scale, self.source.quant.zero_point, dtype="int16")

    def _requantized(self, values: np.ndarray) -> np.ndarray:
        scale, zero = self.target.quant.scale, self.target.quant.zero_point
        return dequantize(quantize(values, scale, zero, dtype="int16"), scale, zero).astype(np.float64)

    def _loss(self, got: np.ndarray) -> float:
        """Mean distance to the float outputs rounded to the output's params (the best the int16
        output can hold)."""
        with np.errstate(invalid="ignore"):
            return float(np.mean(np.abs(np.asarray(got, np.float64) - self._requantized(self.y)))) / self.span
