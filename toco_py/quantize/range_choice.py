"""--calibration-method measured: of the activation ranges each method gives (min/max, percentile,
mse), the set whose quantized model has the least output error on the calibration samples.

No one method wins everywhere: a tensor's own quantization error (mse) weighs a rare outlier by
its square, though the output may not depend on it, while a percentile cuts tails the output
does need. Measured on published models (benchmarks/quant_published.md), mse cuts MediaPipe's
selfie segmenter's int8 error to 0.26x min/max's and leaves the pose landmarker's as it is,
where the percentile cuts it to 0.46x. So the whole model is quantized with each set and run
beside the float model; the error is sensitivity.model_error's (the worst output's mean |error|
over its range). Ties go to the earlier method, min/max first: the choice is never worse than
min/max on these samples, and the same data gives the same choice."""
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

Ranges = list[dict[str, tuple[float, float]]]


def choose_ranges(graph: Graph, candidates: dict[str, Ranges], options: Int8Options,
                  samples: Sequence[dict[str, np.ndarray]]) -> tuple[str, dict[str, float]]:
    """(the method whose ranges quantize the graph with the least output error on the samples,
    each method's error)."""
    feeds = list(samples[:MEASURING_SAMPLES])
    truths = float_outputs(graph, feeds)
    errors = {}
    for method, ranges in candidates.items():
        quantized = copy.deepcopy(graph)
        quantize_int8(quantized, ranges, options)
        errors[method] = model_error(graph, quantized, feeds, truths)
    return min(errors, key=errors.get), errors


def describe(chosen: str, errors: dict[str, float], samples: int) -> str:
    measured = ", ".join(f"{method} {error:.3g}" for method, error in errors.items())
    return (f"activation ranges: {chosen}, of the output errors measured on {min(samples, MEASURING_SAMPLES)} "
            f"calibration samples ({measured} of the output range)")
