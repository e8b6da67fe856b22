"""The full-integer schemes: what differs between int8 and 16x8 (int16 activations, int8
weights; TF's EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8). Both keep weights
int8 symmetric per channel and read their kernels and fixed output params from the op registry;
16x8 makes every activation symmetric int16 with zero point 0 and the biases of the weighted
ops int64, as TFLite's 16x8 kernels take them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..ir import QuantParams
from ..ops.registry import OpDef
from .params import activation_params, zero_point_0_params


def symmetric_int16_params(lo: float, hi: float) -> QuantParams:
    """Zero point 0 and the narrow range [-32767, 32767] covering [lo, hi] (TFLite's
    GetSymmetricQuantizationParams with 16 bits)."""
    return zero_point_0_params(lo, hi, -32767, 32767)


@dataclass(frozen=True)
class Scheme:
    name: str                 # as --quantize spells it
    dtype: str                # the activations' integer type
    bias_dtype: str           # the biases' of the weighted ops (weight_axis)
    activation_params: Callable[[float, float], QuantParams]
    # Params for a "zero_fill" op's output: its kernel writes the raw 0 for the value 0.
    zero_fill_params: Callable[[float, float], QuantParams]
    kernel_slot: str          # the OpDef field holding the kernel
    output_slot: str          # the OpDef field holding the fixed output params
    # Calibrated ranges are widened by this factor. At 16 bits a value beyond what the
    # calibration samples reached costs far more (clipped) than the rounding a wider range adds:
    # on benchmarks/quant_accuracy.py's networks, held-out logits reached 1.5x the range of 32
    # calibration samples, and a factor of 2 (one bit of 15) halved dropout_mlp's 16x8 error and
    # cut gru_static_rnn's 7x; 8-bit steps are too coarse to spare a bit.
    headroom: float = 1.0

    def kernel(self, opdef: OpDef | None):
        return None if opdef is None else getattr(opdef, self.kernel_slot)

    def fixed_output(self, opdef: OpDef | None) -> tuple[float, int] | None:
        return None if opdef is None else getattr(opdef, self.output_slot)

    @property
    def range(self) -> tuple[int, int]:
        info = np.iinfo(self.dtype)
        return int(info.min), int(info.max)


INT8 = Scheme("int8", "int8", "int32", activation_params, zero_point_0_params, "int8_kernel", "int8_output")
INT16X8 = Scheme("int16x8", "int16", "int64", symmetric_int16_params, symmetric_int16_params,
                 "int16_kernel", "int16_output", headroom=2.0)
SCHEMES = {s.name: s for s in (INT8, INT16X8)}
