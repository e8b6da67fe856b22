"""Quantization flags shared by `convert` and `quantize`, TOCO's names included."""
from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..errors import TocoError

if TYPE_CHECKING:  # the CLI imports this module at startup: numpy and the kernels load later
    from .driver import QuantizeOptions

_TYPE_NAMES = {"float": "float32", "float32": "float32", "int8": "int8", "uint8": "uint8",
               "quantized_uint8": "uint8", "int16": "int16"}


def _io_type(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return _TYPE_NAMES[value.lower()]
    except KeyError:
        raise TocoError(f"inference type {value!r}: use float32, int8, uint8 or int16") from None


def _floats(text: str | None, flag: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise TocoError(f"{flag} {text!r}: give numbers separated by commas, one per input") from None


def quantization_options(fn):
    options = [
        click.option("--quantize", "quantize_mode",
                     type=click.Choice(["int8", "int16x8", "dynamic", "float16"]),
                     help="int8: full integer (needs --calibration-data unless ranges are known); "
                          "int16x8: the same with int16 activations (TF's 16x8); "
                          "dynamic: int8 weights, float activations; float16: float16 weights."),
        click.option("--inference_type", "--inference-type", "inference_type",
                     type=click.Choice(["FLOAT", "QUANTIZED_UINT8", "INT8"], case_sensitive=False),
                     help="TOCO's flag: INT8 = --quantize int8 with int8 inputs/outputs; "
                          "QUANTIZED_UINT8 = int8 inside with uint8 inputs/outputs."),
        click.option("--inference_input_type", "--inference-input-type", "input_type",
                     help="float32 (QUANTIZE op at each input), int8 or uint8 (int16 with int16x8)."),
        click.option("--inference_output_type", "--inference-output-type", "output_type",
                     help="float32 (DEQUANTIZE op at each output), int8 or uint8 (int16 with int16x8)."),
        click.option("--mean_values", "--mean-values", "mean_values",
                     help="Per input, comma-separated: real = (q - mean) / std for uint8 inputs."),
        click.option("--std_dev_values", "--std-dev-values", "std_values",
                     help="Per input, comma-separated (see --mean_values)."),
        click.option("--default_ranges_min", "--default-ranges-min", "default_min", type=float,
                     help="Range minimum for tensors with no calibrated or fake-quant range."),
        click.option("--default_ranges_max", "--default-ranges-max", "default_max", type=float,
                     help="Range maximum for tensors with no calibrated or fake-quant range."),
        click.option("--post_training_quantize", "--post-training-quantize", "post_training_quantize",
                     is_flag=True, help="TOCO's flag: same as --quantize dynamic."),
        click.option("--calibration-data", "--calibration_data", "calibration_data",
                     help=".npz/.npy with samples along axis 0, or a folder of .npy files or images."),
        click.option("--calibration-samples", "--calibration_samples", "calibration_samples", type=int,
                     help="Use at most this many samples."),
        click.option("--calibration-mean", "--calibration_mean", "calibration_mean", type=float, default=0.0,
                     show_default=True, help="Images are scaled as (pixel - mean) / std."),
        click.option("--calibration-std", "--calibration_std", "calibration_std", type=float, default=1.0,
                     show_default=True, help="See --calibration-mean."),
        click.option("--calibration-percentile", "--calibration_percentile", "percentile",
                     type=click.FloatRange(50, 100),
                     help="Range from this percentile (and its mirror) instead of min/max, for "
                          "activations with outliers, e.g. 99.99."),
        click.option("--calibration-method", "--calibration_method", "calibration_method",
                     type=click.Choice(["minmax", "percentile", "mse", "measured"]),
                     help="Activation ranges: min/max of the calibration data (default), a "
                          "percentile (--calibration-percentile, 99.99 if not given), mse: the "
                          "clipping range with the least quantization error, or measured: whichever "
                          "of those three gives the model the least output error."),
        click.option("--weight-ranges", "--weight_ranges", "weight_ranges", type=click.Choice(["minmax", "mse"]),
                     default="minmax", show_default=True,
                     help="Per-channel weight ranges: max|w|, or the clip with the least error."),
        click.option("--weight-rounding", "--weight_rounding", "weight_rounding",
                     type=click.Choice(["nearest", "gptq"]), default="nearest", show_default=True,
                     help="Per-channel int8 weights rounded to nearest, or gptq: each conv/FC's "
                          "roundings chosen together for the least output error on the calibration "
                          "data (the scales unchanged)."),
        click.option("--bias-correction", "--bias_correction", "bias_correction", is_flag=True,
                     help="Subtract from each conv/FC bias the mean error its int8 weights add to "
                          "the output on the calibration data (adding a bias where an op has none)."),
        click.option("--int8_only", "--int8-only", "--tflite_builtins_int8", "--integer_only", "int8_only",
                     is_flag=True,
                     help="With --quantize int8 or int16x8: refuse an op with no integer kernel instead "
                          "of keeping it in float (TF's TFLITE_BUILTINS_INT8), for targets without "
                          "float kernels."),
        click.option("--keep_float", "--keep-float", "keep_float", multiple=True, metavar="NAMES",
                     help="Ops to keep in float, by node name or output tensor name, comma-separated "
                          "(repeatable): TF's deny-list."),
        click.option("--accuracy_target", "--accuracy-target", "accuracy_target", type=float, metavar="X",
                     help="Keep the fewest ops in float for the output error, on calibration samples "
                          "held back from the ranges, to be at most X of the float outputs' range "
                          "(e.g. 0.01); the notes say which ops and what they cost."),
        click.option("--fallback", "fallback", type=click.Choice(["float", "int16x8"]), default="float",
                     show_default=True,
                     help="What --accuracy_target makes of the ops it picks in an int8 model: float, "
                          "or 16x8 (int16 activations) where the op has a 16x8 kernel."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def build_options(quantize_mode, inference_type, input_type, output_type, mean_values,
                  std_values, default_min, default_max, post_training_quantize, calibration_data,
                  calibration_samples, calibration_mean, calibration_std, percentile,
                  int8_only=False, keep_float=(), accuracy_target=None, fallback="float",
                  calibration_method=None, weight_ranges="minmax",
                  bias_correction=False, weight_rounding="nearest") -> QuantizeOptions | None:
    mode = quantize_mode
    io_default = "float32"
    if inference_type and inference_type.upper() != "FLOAT":
        if mode not in (None, "int8"):
            raise TocoError(f"--inference_type {inference_type} conflicts with --quantize {mode}")
        mode = "int8"
        io_default = "uint8" if inference_type.upper() == "QUANTIZED_UINT8" else "int8"
    if post_training_quantize:
        if mode not in (None, "dynamic"):
            raise TocoError(f"--post_training_quantize conflicts with --quantize {mode}")
        mode = "dynamic"
    if int8_only and mode not in ("int8", "int16x8"):
        raise TocoError("--int8_only applies to full-integer quantization: add --quantize int8 or int16x8")
    kept = [name.strip() for names in keep_float for name in names.split(",") if name.strip()]
    _check_mixed_precision(mode, int8_only, keep_float, kept, accuracy_target, fallback)
    if mode == "int16x8" and (mean_values is not None or std_values is not None):
        raise TocoError("--mean_values/--std_dev_values describe uint8 inputs, which --quantize int16x8 "
                        "does not take: drop them (its inputs are float32 or int16)")
    method = _calibration_method(calibration_method, percentile)
    if mode in (None, "dynamic", "float16") and (method != "minmax" or weight_ranges != "minmax" or bias_correction
                                                  or weight_rounding != "nearest"):
        raise TocoError("--calibration-method, --calibration-percentile, --weight-ranges, --weight-rounding and "
                        "--bias-correction apply to full-integer quantization: add --quantize int8 or int16x8")
    if mode is None:
        if any(v is not None for v in (input_type, output_type, mean_values, calibration_data, default_min)):
            raise TocoError("quantization flags given without a mode: add --quantize int8 (or dynamic/float16)")
        return None
    if (default_min is None) != (default_max is None):
        raise TocoError("give both --default_ranges_min and --default_ranges_max")
    if default_min is not None and not default_min < default_max:
        raise TocoError("--default_ranges_min must be below --default_ranges_max")
    from .driver import QuantizeOptions
    from .full_integer import Int8Options
    from .schemes import INT8, SCHEMES

    return QuantizeOptions(
        mode=mode, calibration_data=calibration_data, calibration_samples=calibration_samples,
        calibration_mean=calibration_mean, calibration_std=calibration_std, percentile=percentile,
        accuracy_target=accuracy_target, fallback=fallback,
        calibration_method=method, bias_correction=bias_correction, weight_rounding=weight_rounding,
        int8=Int8Options(weight_ranges=weight_ranges,
            inference_input_type=_io_type(input_type) or io_default,
            inference_output_type=_io_type(output_type) or io_default,
            default_range=(default_min, default_max) if default_min is not None else None,
            input_stats=_input_stats(mean_values, std_values), int8_only=int8_only,
            scheme=SCHEMES.get(mode, INT8), keep_float=dict.fromkeys(kept, "named by --keep_float")))


def _check_mixed_precision(mode, int8_only, keep_float, kept, accuracy_target, fallback) -> None:
    if fallback != "float" and (accuracy_target is None or mode != "int8"):
        raise TocoError(f"--fallback {fallback} chooses what --accuracy_target makes of the ops it picks in "
                        "an int8 model: add --quantize int8 and --accuracy_target")
    if (keep_float or accuracy_target is not None) and mode not in ("int8", "int16x8"):
        raise TocoError("--keep_float and --accuracy_target choose ops of a full-integer model: add "
                        "--quantize int8 or int16x8")
    if keep_float and not kept:
        raise TocoError("--keep_float names no op: give node or tensor names, comma-separated")
    if int8_only and (kept or accuracy_target is not None):
        raise TocoError("--int8_only refuses float ops, --keep_float and --accuracy_target keep some: "
                        "drop one or the other")
    if accuracy_target is not None and not accuracy_target > 0:
        raise TocoError(f"--accuracy_target {accuracy_target:g}: only the float model itself has no "
                        "error; give a share of the output range above 0, e.g. 0.01")


def _calibration_method(method: str | None, percentile: float | None) -> str:
    """--calibration-percentile alone means the percentile method (as before the option); with
    measured, it is the percentile measured."""
    if percentile is not None and method not in (None, "percentile", "measured"):
        raise TocoError(f"--calibration-percentile conflicts with --calibration-method {method}: "
                        "drop one of them")
    return method or ("minmax" if percentile is None else "percentile")


def _input_stats(mean_values, std_values):
    means, stds = _floats(mean_values, "--mean_values"), _floats(std_values, "--std_dev_values")
    if means is None and stds is None:
        return None
    if means is None or stds is None:
        raise TocoError("give both --mean_values and --std_dev_values")
    if len(means) != len(stds):
        raise TocoError("--mean_values and --std_dev_values need one value per input each")
    if any(s <= 0 for s in stds):
        raise TocoError("--std_dev_values must be positive")
    return list(zip(means, stds))
