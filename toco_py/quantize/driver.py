"""Quantizing a float graph in one of the modes, from conversion or from an existing .tflite."""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..errors import TocoError
from ..ir import Graph
from .full_integer import Int8Options, quantize_int8

MODES = ("int8", "int16x8", "dynamic", "float16")


@dataclass
class QuantizeOptions:
    mode: str
    calibration_data: str | None = None
    calibration_samples: int | None = None
    calibration_mean: float = 0.0
    calibration_std: float = 1.0
    percentile: float | None = None
    # minmax, percentile or mse (calibrate.RangeTracker), or measured: the one of them with the least
    # output error (range_choice.py); None: percentile when given, else minmax.
    calibration_method: str | None = None
    # Subtract the mean error of the int8 weights from the biases (bias_correction.py).
    bias_correction: bool = False
    # nearest, or gptq: each weight's rounding chosen by the output error (weight_rounding.py).
    weight_rounding: str = "nearest"
    int8: Int8Options = field(default_factory=Int8Options)
    # --accuracy_target: the largest output error, as a share of the float outputs' range.
    accuracy_target: float | None = None
    # --fallback: what the ops --accuracy_target picks become: "float" or "int16x8".
    fallback: str = "float"

    @property
    def full_integer(self) -> bool:
        """Activations quantized too (int8 or 16x8), from calibrated or fake-quant ranges."""
        return self.mode in ("int8", "int16x8")


def _needs_calibration(graph: Graph, options: QuantizeOptions) -> bool:
    """False when every activation already has a range (fake-quant ranges, default ranges)."""
    if options.int8.default_range is not None:
        return False
    if options.int8.input_stats is None and any(graph.tensors[n].min_max is None for n in graph.inputs):
        return True
    return any(g.tensors[o].min_max is None and g.tensors[o].dtype == "float32"
               for g in graph.subgraphs or [graph] for op in g.ops for o in op.outputs)


def _observers(options: QuantizeOptions) -> dict:
    """What calibration must also record: the conv/FC input means for bias correction, their
    input moments for GPTQ rounding, and in 16x8 the element-wise ops' values, to find the
    int16 kernels too coarse to keep (coarse_kernels.py)."""
    observers = {}
    if options.bias_correction:
        from .bias_correction import InputMeans

        observers["means"] = InputMeans()
    if options.weight_rounding == "gptq":
        from .weight_rounding import InputMoments

        observers["moments"] = InputMoments()
    if options.mode == "int16x8" and not options.int8.int8_only:
        from .coarse_kernels import ElementwiseSamples

        observers["elementwise"] = ElementwiseSamples()
    return observers


def _observing(observers) -> Callable | None:
    """One calibrate `observe` calling each observer, or None without any."""
    observers = list(observers)
    if not observers:
        return None

    def observe(*args):
        for observer in observers:
            observer(*args)
    return observe


def quantize_graph(graph: Graph, options: QuantizeOptions) -> list[str]:
    """Quantizes in place; returns notes for the user."""
    if options.mode not in MODES:
        raise TocoError(f"unknown quantization mode {options.mode!r}; use one of {', '.join(MODES)}")
    graphs = graph.subgraphs or [graph]
    if options.mode == "float16":
        from .float16 import quantize_float16

        return [f"float16: {sum(map(quantize_float16, graphs))} weight tensors stored as float16"]
    if options.mode == "dynamic":
        from .dynamic import quantize_dynamic

        shared = options.int8.shared_weight_scales
        count = sum(quantize_dynamic(g, frozenset(n for i, n in shared if i == s)) for s, g in enumerate(graphs))
        return [f"dynamic range: {count} weight tensors quantized to int8"]
    if options.calibration_method not in (None, "minmax", "percentile", "mse", "measured"):
        raise TocoError(f"calibration method {options.calibration_method!r}: use minmax, percentile, mse "
                        "or measured")
    if options.int8.weight_ranges not in ("minmax", "mse"):
        raise TocoError(f"weight ranges {options.int8.weight_ranges!r}: use minmax or mse")
    if options.weight_rounding not in ("nearest", "gptq"):
        raise TocoError(f"weight rounding {options.weight_rounding!r}: use nearest or gptq")
    ranges: list[dict[str, tuple[float, float]]] = [{} for _ in graph.subgraphs or [graph]]
    notes = []
    int8 = options.int8
    if options.accuracy_target is not None and not options.calibration_data:
        raise TocoError("--accuracy_target needs --calibration-data: the error is measured on samples "
                        "held back from it")
    if options.calibration_data:
        from .calibrate import calibrate
        from .calibration_data import calibration_samples

        samples = calibration_samples(graph, options.calibration_data, options.calibration_mean,
                                      options.calibration_std, options.calibration_samples)
        observers = _observers(options)
        held = []
        if options.accuracy_target is not None:
            from . import mixed_precision

            samples, held = mixed_precision.held_back(samples)
        if options.calibration_method == "measured":
            from . import range_choice
            from .calibrate import calibrate_methods

            candidates = calibrate_methods(graph, samples, range_choice.METHODS, options.percentile, int8.scheme,
                                           _observing(observers.values()))
        else:
            ranges = calibrate(graph, samples, options.percentile, options.calibration_method, int8.scheme,
                               _observing(observers.values()))
        notes.append(f"calibrated on {len(samples)} samples" + (f", {len(held)} held back" if held else ""))
        if "moments" in observers:
            from .weight_rounding import round_weights

            int8 = replace(int8, rounded_weights=round_weights(graph, observers["moments"], int8))
            notes.append(f"weight rounding: GPTQ chose the int8 weights of {len(int8.rounded_weights)} tensors")
        if options.calibration_method == "measured":
            chosen, errors = range_choice.choose_ranges(graph, candidates, int8, samples)
            ranges = candidates[chosen]
            notes.append(range_choice.describe(chosen, errors, len(samples)))
        if "elementwise" in observers:
            from .coarse_kernels import coarse_kernels

            coarse = coarse_kernels(graph, ranges, int8, observers["elementwise"], samples)
            int8 = replace(int8, keep_float={**coarse, **int8.keep_float})
        if options.accuracy_target is not None:
            float_graph = copy.deepcopy(graph)
            choice = mixed_precision.choose_fallback_ops(graph, ranges, int8, options.accuracy_target,
                                                         options.fallback, samples, held)
            int8 = mixed_precision.with_fallback(int8, choice.keep, options.accuracy_target, options.fallback)
        if "means" in observers:
            from .bias_correction import correct_biases

            count = correct_biases(graph, observers["means"], int8)
            notes.append(f"bias correction: corrected the biases of {count} ops for their weights' rounding")
    elif (options.bias_correction or options.weight_rounding != "nearest"
          or options.calibration_method not in (None, "minmax")):
        raise TocoError("--bias-correction, --weight-rounding gptq and --calibration-method percentile/mse "
                        "measure the calibration data: give --calibration-data")
    elif _needs_calibration(graph, options):
        raise TocoError(f"--quantize {options.mode} needs --calibration-data (samples of the inputs), unless every "
                        "range is known from fake-quant nodes or --default_ranges_min/--default_ranges_max")
    else:
        notes.append("no calibration: ranges from fake-quant nodes / default ranges")
    for reason, listing in quantize_int8(graph, ranges, int8).items():
        notes.append(f"kept in float ({reason}): {listing}")
    if options.accuracy_target is not None:
        notes += mixed_precision.describe(choice, options.accuracy_target, options.fallback, float_graph, graph)
    return notes
