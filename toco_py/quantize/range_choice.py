"""--calibration-method measured: of the activation ranges each method gives (min/max, percentile,
mse), the set whose quantized model has the least output error on the calibration samples,
where that is clearly less than min/max's.

No one method wins everywhere: a tensor's own quantization error (mse) weighs a rare outlier by
its square, though the output may not depend on it, while a percentile cuts tails the output
does need. Measured on published models (benchmarks/quant_published.md), mse cuts MediaPipe's
selfie segmenter's int8 error to 0.26x min/max's and leaves the pose landmarker's as it is,
where the percentile cuts it to 0.46x. So the whole model is quantized with each set and run
beside the float model on the first calibration samples, its error measured as
sensitivity.model_error (the worst output's mean |error| over that output's range). Small
differences there do not carry to other inputs, so min/max stays unless another method is
lower by more than MARGIN. The same data gives the same choice."""
from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from ..ir import Graph
from ..sensitivity import float_outputs, model_error
from .full_integer import Int8Options, quantize_int8

METHODS = ("minmax", "percentile", "mse")
# The first samples measure each choice: a model run per sample and method, beside the float one.
MEASURING_SAMPLES = 16
# Another method replaces min/max only below this share of its error on those samples. Measured
# (benchmarks/quant_accuracy.py): the digits CNN's percentile ranges measured 0.955x min/max's
# there and 1.15x on held-out digits; the gains that held were 0.87x (conv_bn_separable),
# 0.83x (pose landmarker) and 0.60x (selfie segmenter) on the calibration samples.
MARGIN = 0.9

Ranges = list[dict[str, tuple[float, float]]]


def choose_ranges(graph: Graph, candidates: dict[str, Ranges], options: Int8Options,
                  samples: Sequence[dict[str, np.ndarray]]) -> tuple[str, dict[str, float]]:
    """(the method chosen, each method's model_error over the samples)."""
    feeds = list(samples[:MEASURING_SAMPLES])
    truths = float_outputs(graph, feeds)
    errors = {}
    for method, ranges in candidates.items():
        quantized = copy.deepcopy(graph)
        quantize_int8(quantized, ranges, options)
        errors[method] = model_error(graph, quantized, feeds, truths)
    return pick(errors), errors


def pick(errors: dict[str, float]) -> str:
    """min/max, unless another method's error is below MARGIN times its; then the least."""
    base = METHODS[0]
    lower = [m for m in errors if m != base and errors[m] < MARGIN * errors[base]]
    return min(lower, key=errors.get) if lower else base


def describe(chosen: str, errors: dict[str, float], samples: int) -> str:
    measured = ", ".join(f"{method} {error:.3g}" for method, error in errors.items())
    return (f"activation ranges: {chosen}, by the output errors on {min(samples, MEASURING_SAMPLES)} calibration "
            f"samples ({measured} of the output range; min/max unless another is below {MARGIN:g}x its)")
