"""Checking a fusion on a tf.compat.v1 graph: our conversion matches TensorFlow within the
tolerance policy, and the operator lists of ours and of TF's converter to compare."""
from __future__ import annotations

import numpy as np

from toco_py import api

from .oracle import freeze, op_types, tf_convert
from .policy import tensorflow_and_litert_failures


def convert_both(build, feeds: dict[str, np.ndarray], tmp_path, outputs=("y",)) -> tuple[list[str], list[str]]:
    """build() makes the graph on placeholders named as the feeds, its output named `y`.
    Converts with both converters; LiteRT on ours must match TensorFlow. Returns (our
    op types, TF's converter's op types)."""
    pb, _ = freeze(lambda: {"y": build()}, list(outputs))
    path = tmp_path / "model.pb"
    path.write_bytes(pb)
    result = api.convert_bytes(pb, input_arrays=list(feeds), output_arrays=list(outputs))
    failures = tensorflow_and_litert_failures(pb, result.model, feeds, list(outputs))
    assert not failures, failures
    return op_types(result.model), op_types(tf_convert(str(path), list(feeds), list(outputs)))
