"""One TF graph, two converters: ours run by LiteRT against TensorFlow, and the op count
against TF's converter's on the same graph."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.lite.python.convert_phase import ConverterError

from toco_py import api

from .oracle import freeze, op_types, run_litert, run_tf, tf_convert
from .policy import op_by_op_failures, tensorflow_and_litert_failures

v1 = tf.compat.v1


def convert_tf(build, feeds: dict, tmp_path, tf_op: str, float_math: bool = False,
               tf_converts: bool = True, tf_model_runs: bool = True):
    """build() returns {name: tensor} of outputs on placeholders named as `feeds`. Converts
    the frozen graph, checks LiteRT's outputs against TensorFlow's (exactly, or for float
    math within the tolerance policy), our interpreter's kernels op by op against LiteRT's on
    the model read back, and our op count against TF's converter's (or, with
    tf_converts=False, that TF's converter fails on the graph; with tf_model_runs=False, that
    LiteRT fails to run TF's model, whose op count then does not bound ours); returns our op
    types."""
    pb, names = freeze(build)
    outputs = [n if ":" in n else f"{n}:0" for n in names.values()]
    gd = v1.GraphDef()
    gd.ParseFromString(pb)
    assert tf_op in [n.op for n in gd.node]
    result = api.convert_bytes(pb, input_arrays=list(feeds), output_arrays=outputs)
    if float_math:
        assert tensorflow_and_litert_failures(pb, result.model, feeds, outputs) == []
    else:
        got = run_litert(result.model, feeds)
        for name, want in zip(outputs, run_tf(pb, feeds, outputs), strict=True):
            key = next(k for k in got if k in (name, name.split(":")[0]))
            np.testing.assert_array_equal(got[key], want, err_msg=name)
    # On the test's feeds: random ones may be invalid (unsorted segment ids).
    assert op_by_op_failures(result.model, feeds=feeds) == []
    path = tmp_path / "model.pb"
    path.write_bytes(pb)
    ours = op_types(result.model)
    tf_outputs = [o.split(":")[0] for o in outputs]
    if not tf_converts:
        with pytest.raises(ConverterError):
            tf_convert(str(path), list(feeds), tf_outputs)
        return ours
    tf_model = tf_convert(str(path), list(feeds), tf_outputs)
    if not tf_model_runs:
        with pytest.raises(RuntimeError):
            run_litert(tf_model, feeds)
        return ours
    theirs = op_types(tf_model)
    assert len(ours) <= len(theirs), (ours, theirs)
    return ours
