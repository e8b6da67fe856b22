"""Full-integer quantization of a float IR graph, given each tensor's real range: int8, or
16x8 (int16 activations; schemes.py says what differs).

Rules (TFLite's int8 scheme), with each op's part read from its definition (ops/registry.py):
asymmetric per-tensor int8 activations; symmetric per-channel int8 weights on the input and
axis of OpDef.weight_axis (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV);
int32 biases with scale input_scale x weight_scale; OpDef.int8_output fixes the output params
(LOGISTIC, SOFTMAX, TANH ...); "zero_fill" ops get a zero point of 0 (their kernels write
the raw 0); "moves_data" ops keep their input's params; the inputs of
"shared_params" ops (CONCATENATION, PACK ...) share the output's params (a producer that is
free to take them does; otherwise a requantizing QUANTIZE is inserted).

An op with no int8 kernel stays in float, as TensorFlow's converter keeps it: its quantized
inputs are read through a DEQUANTIZE, its outputs stay float32 for float consumers and reach
quantized consumers through one QUANTIZE each (keep_float); Int8Options.int8_only refuses
instead.

Every subgraph of a model is quantized; the tensors IF, WHILE and the variable ops hand from
one subgraph to another without requantizing share one set of params (subgraph_ranges.py,
pin_shared).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import ConversionError
from ..ir import Graph, Op, QuantParams, Tensor
from ..ops import REGISTRY, has_trait
from ..ops.int8.movement import data_inputs
from ..ops.quantize_ops import is_quantized_tensor
from ..ops.quantize_ops import quantize as quantize_values_raw
from . import lstm
from .float_ops import NO_KERNEL, NO_SCHEME, NON_FINITE, check_kept_names, float_reasons, other_schemes
from .params import (
    activation_params,
    bias_params,
    quantize_bias,
    quantize_symmetric,
)
from .schemes import INT8, INT16X8, Scheme
from .subgraph_ranges import shared_params
from .weight_ranges import weight_params

QUANTIZED_IO = ("int8", "uint8")


def _weight_axis(op: Op) -> tuple[int, int] | None:
    """(input index, channel axis) of the op's per-channel weights, if it has any."""
    opdef = REGISTRY.get(op.type)
    return None if opdef is None else opdef.weight_axis


@dataclass
class Int8Options:
    inference_input_type: str = "float32"   # float32 | int8 | uint8
    inference_output_type: str = "float32"
    default_range: tuple[float, float] | None = None
    # (mean, std) per graph input, in order: real = (q - mean) / std (TOCO's --mean_values and
    # --std_dev_values)
    input_stats: list[tuple[float, float]] | None = None
    # TFLITE_BUILTINS_INT8: an op with no integer kernel is an error rather than kept in float.
    int8_only: bool = False
    # How per-channel weight ranges are chosen: minmax or mse (weight_ranges.py).
    weight_ranges: str = "minmax"
    # The int8 values of the weights rounded otherwise than to nearest, by (subgraph index,
    # tensor name) (--weight-rounding gptq: weight_rounding.py); their scales are weight_ranges'.
    rounded_weights: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)
    # The weights whose channels share one scale, by (subgraph index, tensor name): those
    # clustered as a whole (compress/cluster.py), whose K values must stay K integers.
    shared_weight_scales: frozenset[tuple[int, str]] = frozenset()
    scheme: Scheme = INT8
    # Ops kept in float whatever their kernels, by op name or first output's name, with why
    # (--keep_float, --accuracy_target).
    keep_float: dict[str, str] = field(default_factory=dict)
    # Ops of an int8 model computed in 16x8 (--accuracy_target with --fallback int16x8), named
    # as keep_float's: their inputs reach them through a requantizing QUANTIZE to int16.
    int16_ops: dict[str, str] = field(default_factory=dict)


class _Quantizer:
    def __init__(self, graph: Graph, ranges: dict[str, tuple[float, float]], options: Int8Options,
                 pins: dict[str, QuantParams] | None = None, entry: bool = True, index: int = 0) -> None:
        self.g = graph
        self.index = index  # of the subgraph
        self.ranges = dict(ranges)  # insert_scheme_conversions adds its QUANTIZEs' outputs
        self.options = options
        self.scheme = options.scheme
        self.params: dict[str, QuantParams] = {}
        # The integer type of the tensors quantized to another than int8 (an LSTM's int16 cell state).
        self.dtypes: dict[str, str] = {}
        # The params of the tensors other subgraphs see too (subgraph_ranges); entry: the graph
        # is the model's entry subgraph, whose outputs are the model's, not a loop's or branch's.
        self.pins = pins or {}
        self.entry = entry
        # The ops computed in another scheme than the model's (16x8 in an int8 model).
        self._schemes = other_schemes(graph, options)
        self._float_reasons = float_reasons(graph, options)
        self.float_ops = [op for op in graph.ops if id(op) in self._float_reasons]

    def op_scheme(self, op: Op) -> Scheme:
        return self._schemes.get(id(op), self.scheme)

    # ---- ranges and params ----------------------------------------------------------------

    def _range(self, name: str) -> tuple[float, float]:
        """A tensor's real range, or that of a value calibrated inside an op (OpDef.observed)."""
        t = self.g.tensors.get(name)
        if t is not None and t.min_max is not None:  # fake-quant ranges win: the model was trained with them
            return t.min_max
        if name in self.ranges:
            return self.ranges[name]
        if self.options.default_range is not None:
            return self.options.default_range
        producer = self.g.producer(name)
        where = f" (output of {producer.type} {producer.name!r})" if producer else ""
        if not self.entry:
            raise ConversionError(
                f"no range for tensor {name!r}{where} of subgraph {self.g.name!r}: the calibration "
                "data never ran it (a branch never taken, a loop body never entered); give "
                "calibration samples that do, or --default_ranges_min/--default_ranges_max")
        raise ConversionError(
            f"no range for tensor {name!r}{where}: give calibration data (--calibration-data) or "
            "--default_ranges_min/--default_ranges_max")

    def _input_stats_params(self, name: str) -> QuantParams | None:
        stats = self.options.input_stats
        if stats is None:
            return None
        if len(stats) != len(self.g.inputs):
            raise ConversionError(f"--mean_values/--std_dev_values give {len(stats)} values for "
                                  f"{len(self.g.inputs)} inputs ({', '.join(self.g.inputs)})")
        mean, std = stats[self.g.inputs.index(name)]
        # Inputs arrive as uint8 q with real = (q - mean) / std, i.e. [-mean/std, (255-mean)/std].
        return activation_params(-mean / std, (255 - mean) / std)

    def insert_scheme_conversions(self) -> None:
        """An op reading a tensor that an op of another scheme computes (int8 for a 16x8 op,
        or the reverse), or a graph input in another scheme than its own, reads it through a
        QUANTIZE to its own integer type, one per tensor and type, over the tensor's range.
        A float op's output is quantized for each type that reads it by keep_float."""
        made: dict[tuple[str, str], str] = {}
        for op in list(self.g.ops) if self._schemes else ():
            scheme = self.op_scheme(op)
            if self._is_float(op):
                continue
            for i, name in enumerate(op.inputs):
                t = self.g.tensors[name] if name else None
                if t is None or t.is_const or t.dtype != "float32":
                    continue
                producer = self.g.producer(name)
                if producer is not None and self._is_float(producer):
                    continue
                if (self._input_scheme(name) if producer is None else self.op_scheme(producer)) is scheme:
                    continue
                if (name, scheme.dtype) not in made:
                    out = self.g.unique_name(f"{name}/{scheme.dtype}")
                    self.g.add_tensor(Tensor(out, t.shape, "float32"))
                    self.ranges[out] = self._range(name)
                    conversion = Op("QUANTIZE", [name], [out], {}, out)
                    self.g.add_op(conversion, before=op)
                    self._schemes[id(conversion)] = scheme
                    made[name, scheme.dtype] = out
                self.g.set_input(op, i, made[name, scheme.dtype])

    def _input_scheme(self, name: str) -> Scheme:
        """A graph input's scheme: that of the ops reading it when they all share one other
        than the model's (its QUANTIZE then rounds float straight to int16), else the model's."""
        readers = {self.op_scheme(op) for op in self.g.consumers(name) if not self._is_float(op)}
        if len(readers) == 1 and self.entry and self.options.inference_input_type == "float32":
            return readers.pop()
        return self.scheme

    def choose_activation_params(self) -> None:
        for name in self.g.inputs:
            if self.g.tensors[name].dtype == "float32":  # integer inputs (token ids) stay as they are
                scheme = self._input_scheme(name)
                if scheme is not self.scheme:
                    self.dtypes[name] = scheme.dtype
                self.params[name] = (self._input_stats_params(name)
                                     or scheme.activation_params(*self._range(name)))
        for op in self.g.ops:
            scheme = self.op_scheme(op)
            for out in op.outputs:
                if self.g.tensors[out].dtype != "float32":
                    continue
                fixed = self._fixed_output(op)
                if scheme is not self.scheme and not self._is_float(op):
                    self.dtypes[out] = scheme.dtype
                if self._is_float(op):
                    self.params[out] = self.scheme.activation_params(*self._range(out))
                elif fixed is not None:
                    scale, zero = fixed
                    self.params[out] = QuantParams(np.array([scale], np.float32), np.array([zero], np.int64))
                elif has_trait(op.type, "zero_fill"):
                    self.params[out] = scheme.zero_fill_params(*self._range(out))
                elif has_trait(op.type, "moves_data") and data_inputs(op)[0] in self.params:
                    # The input whose values the op moves (SPLIT takes its axis first).
                    self.params[out] = self.params[data_inputs(op)[0]]
                elif has_trait(op.type, "moves_data") and self.g.tensors[data_inputs(op)[0]].is_const:
                    # A constant it moves (an embedding table GATHER reads): LiteRT copies the
                    # table's integers, so the output takes the table's params, from its range.
                    table = self.g.tensors[data_inputs(op)[0]]
                    self.params[out] = self.params[table.name] = scheme.activation_params(
                        float(table.data.min()), float(table.data.max()))
                else:
                    self.params[out] = scheme.activation_params(*self._range(out))
        for op in self.g.ops:
            if op.type == lstm.TYPE and not self._is_float(op):
                lstm.choose_params(self.g, op, self.params, self.dtypes, self._range)

    # ---- shared-parameter ops ---------------------------------------------------------------

    def _free_producer(self, name: str, consumer: Op) -> bool:
        """The tensor's params may change without affecting anything but `consumer`: an op's
        output with no fixed params (nor state tensors sharing them: an LSTM's), or a float
        graph input (its QUANTIZE then rounds once, straight to the consumer's params, as
        TensorFlow's does)."""
        if self.g.consumers(name) != [consumer] or name in self.g.outputs or name in self.pins:
            return False
        if name in self.g.inputs:
            return self.options.inference_input_type == "float32" and self.options.input_stats is None
        producer = self.g.producer(name)
        return (producer is not None and self._fixed_output(producer) is None
                and not has_trait(producer.type, "moves_data")
                and not has_trait(producer.type, "shared_params")
                and not has_trait(producer.type, "updates_variables"))

    def unify_shared_params(self) -> None:
        """The inputs take one set of params: the output's, chosen from the output's own range
        as TensorFlow's converter chooses them. That range is the union of the inputs' for
        CONCATENATION and PACK, and often narrower for MINIMUM, MAXIMUM and SELECT, whose
        outputs then keep finer steps: clamping their inputs to it changes no output (the
        output of a clamped input is the clamped output). But where an input that keeps its
        own params (a graph input's UNPACKed step, a state other ops read) already spans the
        output's range, its params are the shared ones: a requantization of it would round
        its values twice, for a finer step its own rounding has already lost."""
        requantized: dict[tuple, str] = {}
        for op in list(self.g.ops):
            if self._is_float(op):
                continue
            if self._compares_raw(op):
                # Its output is no number: the inputs share params over their ranges' union.
                lo, hi = zip(*(self._range(n) for n in op.inputs[:2]))
                shared = self.op_scheme(op).activation_params(min(lo), max(hi))
            elif not has_trait(op.type, "shared_params") or op.outputs[0] not in self.params:
                continue  # (an integer output: an int32 SCATTER_ND keeps its type)
            else:
                shared = self._shared_params(op)
                self._replace_params(op.outputs[0], shared)
            for i, name in enumerate(op.inputs):
                if not name or self.g.tensors[name].dtype != "float32":
                    continue  # a SELECT condition, an axis
                if self.g.tensors[name].is_const:
                    self.params[name] = shared  # quantize_constants quantizes it with these
                    continue
                if _same(self.params[name], shared):
                    continue
                if self._free_producer(name, op):
                    self.params[name] = shared
                    continue
                key = (name, shared.scale.tobytes(), shared.zero_point.tobytes())
                if key not in requantized:  # one QUANTIZE serves every op that reads it
                    requantized[key] = self._requantize(name, shared, op)
                self.g.set_input(op, i, requantized[key])

    def _compares_raw(self, op: Op) -> bool:
        """A 16x8 op comparing its inputs' raw integers (OpDef.int16_shared_inputs)."""
        opdef = REGISTRY.get(op.type)
        return self.op_scheme(op) is INT16X8 and opdef is not None and opdef.int16_shared_inputs

    def _shared_params(self, op: Op) -> QuantParams:
        """The output's params, or the finest of those of the inputs that keep their own
        params and span the output's range."""
        out = self.params[op.outputs[0]]
        if has_trait(op.type, "zero_fill"):
            return out  # its zero point 0 is what empty cells mean
        qrange = self.op_scheme(op).range
        lo, hi = _span(out, qrange)
        spanning = [self.params[n] for n in op.inputs
                    if n in self.params and not self.g.tensors[n].is_const and not self._free_producer(n, op)
                    and _span(self.params[n], qrange)[0] <= lo and _span(self.params[n], qrange)[1] >= hi]
        return min(spanning, key=lambda p: float(p.scale[0]), default=out)

    def _replace_params(self, name: str, params: QuantParams) -> None:
        """Sets a tensor's params, and the outputs of the data-moving ops that copied its old
        ones (choose_activation_params) follow: a RESHAPE of a SELECT_V2's output must keep
        the params the SELECT_V2 ends with, or its int8 values are read at the wrong scale."""
        old = self.params.get(name)
        self.params[name] = params
        for reader in self.g.consumers(name):
            if (old is None or self._is_float(reader) or not has_trait(reader.type, "moves_data")
                    or self._fixed_output(reader) is not None or data_inputs(reader)[0] != name):
                continue
            for out in reader.outputs:
                if out in self.params and _same(self.params[out], old):
                    self._replace_params(out, params)

    def _requantize(self, name: str, params: QuantParams, before: Op | None) -> str:
        """A QUANTIZE of `name` to `params`, placed before `before` (None: after every op), in
        the integer type `before` computes on."""
        out = self.g.unique_name(f"{name}/requantized")
        self.g.add_tensor(Tensor(out, self.g.tensors[name].shape, "float32"))
        self.params[out] = params
        if before is not None and out not in self.dtypes and self.op_scheme(before) is not self.scheme:
            self.dtypes[out] = self.op_scheme(before).dtype
        self.g.add_op(Op("QUANTIZE", [name], [out], {}, before.name if before else out), before=before)
        return out

    # ---- tensors shared with other subgraphs ---------------------------------------------------

    def pin_shared(self) -> None:
        """The tensors LiteRT hands between subgraphs without requantizing carry their group's
        params (subgraph_ranges): a subgraph input, an IF or WHILE output, a constant or a
        float op's output takes them; an op's output with params of its own (fixed, moved,
        shared) reaches the IF, WHILE or ASSIGN_VARIABLE, or leaves the subgraph, through a
        requantizing QUANTIZE."""
        for name, params in self.pins.items():
            if name in self.params and _same(self.params[name], params):
                continue
            producer = self.g.producer(name)
            if (self.g.tensors[name].is_const or (producer is None and self._input_stats_params(name) is None)
                    or (producer is not None and (has_trait(producer.type, "runs_model") or self._is_float(producer)))):
                self._replace_params(name, params)
                continue
            readers = [op for op in self.g.consumers(name) if has_trait(op.type, "runs_model")]
            requantized = self._requantize(name, params, readers[0] if readers else None)
            for reader in readers:
                self.g.set_inputs(reader, [requantized if n == name else n for n in reader.inputs])
            if not self.entry:
                self.g.outputs = [requantized if n == name else n for n in self.g.outputs]

    # ---- constants --------------------------------------------------------------------------

    def quantize_constants(self) -> None:
        """Each float constant becomes an integer one per distinct use: a weight shared by the
        steps of an unrolled cell stays one tensor; a bias gets one per input scale."""
        made: dict[tuple, str] = {}
        for op in self.g.ops:
            if self._is_float(op):
                continue  # its constants stay float
            weight = _weight_axis(op)
            for i, name in enumerate(op.inputs):
                t = self.g.tensors.get(name) if name else None
                if t is None or not t.is_const or t.dtype != "float32":
                    continue
                if op.type == lstm.TYPE:
                    data, params = lstm.quantize_constant(self.g, op, i, t.data, self.params)
                elif weight and i == weight[0]:
                    data, params = self._weight(t, weight[1])
                elif weight:  # a weighted op's other float constant is its bias
                    data, params = self._bias(op, t)
                else:
                    params = self._constant_params(op, t)
                    data = quantize_values(t.data, params, self.op_scheme(op).dtype)
                key = (name, data.dtype.name, params.scale.tobytes(), params.zero_point.tobytes(), params.axis)
                if key not in made:
                    made[key] = self.g.add_const(f"{name}/quantized", data)
                    self.g.tensors[made[key]].quant = params
                    self.g.tensors[made[key]].sparsity = t.sparsity  # stored sparse, if it was
                self.g.set_input(op, i, made[key])
        for name in {key[0] for key in made}:
            self.params.pop(name, None)
        self.g.remove_dead()

    def _constant_params(self, op: Op, t: Tensor) -> QuantParams:
        """A constant that a data-moving op copies into its output (PADV2's fill value) is
        quantized with the output's params: LiteRT copies its raw integer and requires equal
        zero points. Others (an embedding table GATHER reads included): params chosen for it
        (shared-params ops) or its own range."""
        if (has_trait(op.type, "moves_data") and t.name not in data_inputs(op)
                and op.outputs[0] in self.params):
            return self.params[op.outputs[0]]
        choose = self.op_scheme(op).activation_params
        return self.params.get(t.name) or choose(float(t.data.min()), float(t.data.max()))

    def _weight(self, t: Tensor, axis: int) -> tuple[np.ndarray, QuantParams]:
        if t.data.ndim == 0 or t.data.shape[axis] == 0:
            raise ConversionError(f"weights {t.name!r} of shape {list(t.data.shape)} have no channel axis {axis}")
        params = weight_params(t.data, axis, self.options.weight_ranges,
                               shared=(self.index, t.name) in self.options.shared_weight_scales)
        rounded = self.options.rounded_weights.get((self.index, t.name))
        return (quantize_symmetric(t.data, params) if rounded is None else rounded), params

    def _bias(self, op: Op, t: Tensor) -> tuple[np.ndarray, QuantParams]:
        weights = self.g.tensors[op.inputs[_weight_axis(op)[0]]]
        # The activation input: the first with params (TRANSPOSE_CONV's is its third).
        data = next(n for n in op.inputs if n in self.params)
        in_scale = float(self.params[data].scale[0])
        params = bias_params(in_scale, weights.quant)
        return quantize_bias(t.data, params, self.op_scheme(op).bias_dtype), params

    # ---- applying ---------------------------------------------------------------------------

    def _fixed_output(self, op: Op) -> tuple[float, int] | None:
        """The (scale, zero point) the op's integer kernel requires of its output, if any."""
        return self.op_scheme(op).fixed_output(REGISTRY.get(op.type))

    def _is_float(self, op: Op) -> bool:
        return id(op) in self._float_reasons

    def float_listings(self) -> dict[str, str]:
        """The ops kept in float by reason, then by type, with their first nodes:
        {reason: 'DIV (a/div, b/div); ...'}."""
        nodes: dict[str, dict[str, list[str]]] = {}
        for op in self.float_ops:
            by_type = nodes.setdefault(self._float_reasons[id(op)], {})
            by_type.setdefault(op.type, []).append(op.name or op.outputs[0])
        return {reason: "; ".join(f"{t} ({', '.join(n[:3])}{', ...' if len(n) > 3 else ''})"
                                  for t, n in sorted(by_type.items()))
                for reason, by_type in nodes.items()}

    def check_supported(self) -> None:
        """--int8_only: refuses the ops that stay in float for want of an integer kernel or
        scheme (those kept by name were asked for)."""
        if self.float_ops and self.options.int8_only:
            listings = self.float_listings()
            no_kernel, no_scheme = (text.format(scheme=self.scheme.name) for text in (NO_KERNEL, NO_SCHEME))
            problems = [f"no {self.scheme.name} kernel for {listings[no_kernel]}"] if no_kernel in listings else []
            problems += [f"{reason.split(';')[0]}: {listing}" for reason, listing in listings.items()
                         if reason.startswith(no_scheme)]
            if NON_FINITE in listings:
                problems.append(f"{NON_FINITE} in {listings[NON_FINITE]}")
            if not problems:
                return
            raise ConversionError(f"--int8_only: {'; '.join(problems)}. Convert without --int8_only to "
                                  "keep these ops in float, or use --quantize dynamic or float16.")

    def apply_activation_params(self) -> None:
        floats = {out for op in self.float_ops for out in op.outputs}
        for name, params in self.params.items():
            t = self.g.tensors[name]
            if not t.is_const and t.dtype == "float32" and name not in floats:
                t.dtype, t.quant = self.dtypes.get(name, self.scheme.dtype), params

    def prefer_general_int16_arithmetic(self) -> None:
        """LiteRT's int16 ADD and SUB take a power-of-two path when every scale is within 0.07%
        of a power of two (the pot_scale_int16 option, true by default), which aborts on a
        broadcast or on inputs at other scales than it expects; the general path has neither
        limit, and TF's quantizer (tools/optimize) chooses it too."""
        for op in self.g.ops:
            if op.type in ("ADD", "SUB") and self.g.tensors[op.outputs[0]].dtype == "int16":
                op.attrs["pot_scale_int16"] = False

    # ---- float fallback -----------------------------------------------------------------------

    def keep_float(self) -> None:
        """Float ops read their int8 inputs through one DEQUANTIZE per tensor; int8 ops read a
        float op's output through one QUANTIZE per tensor (float consumers read it as it is)."""
        dequantized: dict[str, str] = {}
        for op in self.float_ops:
            for i, name in enumerate(op.inputs):
                if name and is_quantized_tensor(self.g.tensors[name]):
                    if name not in dequantized:
                        dequantized[name] = self._convert(name, "DEQUANTIZE", "float32", None,
                                                          f"{name}/dequantized")
                    self.g.set_input(op, i, dequantized[name])
            for out in op.outputs:
                if out not in self.params:
                    continue
                quantized: dict[str, str] = {}  # one QUANTIZE per integer type read
                for reader in [c for c in self.g.consumers(out) if not self._is_float(c)]:
                    scheme = self.op_scheme(reader)
                    if scheme.dtype not in quantized:
                        params = (self.params[out] if scheme is self.scheme
                                  else scheme.activation_params(*self._range(out)))
                        quantized[scheme.dtype] = self._convert(out, "QUANTIZE", scheme.dtype, params,
                                                                f"{out}/quantized")
                    for i, name in enumerate(reader.inputs):
                        if name == out:
                            self.g.set_input(reader, i, quantized[scheme.dtype])

    def _convert(self, name: str, op_type: str, dtype: str, quant: QuantParams | None, new: str) -> str:
        """A new tensor holding `name` converted by a QUANTIZE or DEQUANTIZE, placed before the
        first op reading `name`."""
        first_reader = self.g.consumers(name)[0]
        out = self.g.unique_name(new)
        self.g.add_tensor(Tensor(out, self.g.tensors[name].shape, dtype, quant=quant))
        self.g.add_op(Op(op_type, [name], [out], {}, out), before=first_reader)
        return out

    def drop_round_trips(self) -> None:
        """A DEQUANTIZE of a boundary QUANTIZE (a float graph input read by a float op) reads
        the float input itself."""
        for op in list(self.g.ops):
            source = self.g.producer(op.inputs[0]) if op.type == "DEQUANTIZE" else None
            if (source is None or source.type != "QUANTIZE"
                    or self.g.tensors[source.inputs[0]].dtype != "float32" or op.outputs[0] in self.g.outputs):
                continue
            self.g.replace_uses(op.outputs[0], source.inputs[0])
        self.g.remove_dead()

    def insert_boundaries(self) -> None:
        for i, name in enumerate(list(self.g.inputs)):
            self.g.inputs[i] = self._input_boundary(name)
        for i, name in enumerate(list(self.g.outputs)):
            self.g.outputs[i] = self._output_boundary(name)

    def _outside(self, name: str, kind: str) -> str | None:
        """Unless the quantized tensor `name` already has the outside type `kind`: renames it
        to a new inner name (returned) and adds `name` back, of the outside type."""
        t = self.g.tensors[name]
        if t.dtype == "float32" and name in self.params and kind != "float32":
            # A float op's output leaves the graph quantized.
            inner = self.g.unique_name(f"{name}/float")
            self.g._rename_tensor(name, inner)
            params = self.params[name] if kind == self.scheme.dtype else _as_uint8(self.params[name])
            self.g.add_tensor(Tensor(name, t.shape, kind, quant=params))
            return inner
        if kind == t.dtype or not is_quantized_tensor(t) or t.variable:
            return None
        if kind == "float32":
            quant = None
        elif t.dtype == self.scheme.dtype:  # int8 to uint8
            quant = _as_uint8(t.quant)
        elif kind == self.scheme.dtype:  # a 16x8 op's output leaves an int8 model as int8
            quant = self.scheme.activation_params(*self._range(name))
        else:
            raise ConversionError(f"output {name!r} is computed in {t.dtype}, which LiteRT cannot "
                                  f"requantize to {kind}: use float32 or {self.scheme.dtype} outputs")
        inner = self.g.unique_name(f"{name}/{t.dtype}")
        self.g._rename_tensor(name, inner)
        self.g.add_tensor(Tensor(name, t.shape, kind, quant=quant))
        return inner

    def _input_boundary(self, name: str) -> str:
        inner = self._outside(name, self.options.inference_input_type)
        if inner is not None:
            # The graph input keeps its name and takes the outside type; QUANTIZE feeds the int8 tensor.
            self.g.inputs = [name if n == inner else n for n in self.g.inputs]
            self.g.ops.insert(0, Op("QUANTIZE", [name], [inner], {}, name))
            self.g.invalidate()
        return name

    def _output_boundary(self, name: str) -> str:
        kind = self.options.inference_output_type
        inner = self._outside(name, kind)
        if inner is not None:
            self.g.outputs = [name if n == inner else n for n in self.g.outputs]
            self.g.add_op(Op("DEQUANTIZE" if self.g.tensors[name].dtype == "float32" else "QUANTIZE",
                             [inner], [name], {}, name))
        return name


def quantize_values(data: np.ndarray, params: QuantParams, dtype: str = "int8") -> np.ndarray:
    return quantize_values_raw(data, params.scale, params.zero_point, params.axis, dtype)




def _span(params: QuantParams, qrange: tuple[int, int]) -> tuple[float, float]:
    """The real values per-tensor params represent over the integer range."""
    scale, zero = float(params.scale[0]), int(params.zero_point[0])
    return scale * (qrange[0] - zero), scale * (qrange[1] - zero)


def _same(a: QuantParams, b: QuantParams) -> bool:
    return np.array_equal(a.scale, b.scale) and np.array_equal(a.zero_point, b.zero_point)


def _as_uint8(params: QuantParams) -> QuantParams:
    return QuantParams(params.scale.copy(), params.zero_point + 128, params.axis)


def quantize_int8(graph: Graph, ranges: list[dict[str, tuple[float, float]]],
                  options: Int8Options) -> dict[str, str]:
    """Rewrites the float graph in place into a full-integer graph in options.scheme (int8 or
    16x8), every subgraph of it (ranges: each subgraph's, as calibrate gives them); returns the
    ops kept in float by the reason they are, as {reason: 'TYPE (node, ...); ...'}. The entry
    subgraph's inputs and outputs take the inference types; the other subgraphs' stay
    quantized, as their callers hand them over."""
    scheme = options.scheme
    io_types = ("float32",) + (QUANTIZED_IO if scheme.dtype == "int8" else (scheme.dtype,))
    for kind in (options.inference_input_type, options.inference_output_type):
        if kind not in io_types:
            raise ConversionError(f"inference type {kind!r} with --quantize {scheme.name}: use "
                                  f"{', '.join(io_types[:-1])} or {io_types[-1]}")
    graphs = graph.subgraphs or [graph]
    check_kept_names(graphs, options.keep_float)
    ranges, pins = shared_params(graphs, ranges, options.default_range, scheme.activation_params)
    inner = replace(options, inference_input_type=scheme.dtype, inference_output_type=scheme.dtype,
                    input_stats=None)
    quantizers = [_Quantizer(g, ranges[s], inner if s else options, pins[s], entry=not s, index=s)
                  for s, g in enumerate(graphs)]
    for q in quantizers:
        q.check_supported()
    listings: dict[str, list[str]] = {}
    for q in quantizers:
        q.insert_scheme_conversions()
        q.choose_activation_params()
        q.unify_shared_params()
        q.pin_shared()
        for rewrite in (q.quantize_constants, q.apply_activation_params, q.prefer_general_int16_arithmetic,
                        q.keep_float, q.insert_boundaries,
                        q.drop_round_trips, q.g.toposort):
            rewrite()
            q.g.checkpoint(f"the {scheme.name} quantizer's {rewrite.__name__}")
        for reason, listing in q.float_listings().items():
            listings.setdefault(reason, []).append(listing)
    return {reason: "; ".join(parts) for reason, parts in listings.items()}
