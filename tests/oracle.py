"""The oracles: TensorFlow runs a frozen graph, LiteRT runs a .tflite, TF's converter for
comparison. Also helpers to freeze tf.compat.v1 graphs built in the tests."""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter, OpResolverType

v1 = tf.compat.v1


def freeze(build, outputs: list[str] | None = None) -> tuple[bytes, dict]:
    """Builds a graph with `build()` (which returns {name: tensor} of outputs), initialises
    its variables and freezes it. Returns (GraphDef bytes, outputs dict of names)."""
    graph = tf.Graph()
    with graph.as_default():
        outs = build()
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            names = outputs or [t.op.name for t in outs.values()]
            gd = v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), names)
    return gd.SerializeToString(), {k: t.op.name for k, t in outs.items()}


def run_tf(pb: bytes, feeds: dict[str, np.ndarray], outputs: list[str]) -> list[np.ndarray]:
    gd = v1.GraphDef()
    gd.ParseFromString(pb)
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(gd, name="")
        with v1.Session(graph=graph) as sess:
            fetches = [graph.get_tensor_by_name(o if ":" in o else o + ":0") for o in outputs]
            feed = {graph.get_tensor_by_name(k if ":" in k else k + ":0"): v for k, v in feeds.items()}
            return sess.run(fetches, feed)


def litert(model: bytes, reference: bool = False, delegates: bool = True,
           preserve_all: bool = False) -> Interpreter:
    if reference:
        kwargs = {"experimental_op_resolver_type": OpResolverType.BUILTIN_REF}
    elif not delegates:
        kwargs = {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    else:
        kwargs = {}
    try:
        interp = Interpreter(model_content=model, num_threads=1,
                             experimental_preserve_all_tensors=preserve_all, **kwargs)
    except ValueError as err:
        # The reference resolver registers fewer op versions than the builtin one (e.g.
        # STRIDED_SLICE with an ellipsis, TILE on int8): fall back to the builtin kernels.
        if not reference or "Didn't find op" not in str(err):
            raise
        return litert(model, reference=False, delegates=False, preserve_all=preserve_all)
    interp.allocate_tensors()
    return interp


def run_litert(model: bytes, feeds: dict[str, np.ndarray], reference: bool = False) -> dict[str, np.ndarray]:
    """Runs through the signature runner, so inputs and outputs are found by name (models
    without a SignatureDef, as TF's from_frozen_graph writes them, by tensor names)."""
    interp = litert(model, reference)
    if interp.get_signature_list():
        return interp.get_signature_runner()(**feeds)
    for detail in interp.get_input_details():
        interp.set_tensor(detail["index"], feeds[detail["name"]])
    interp.invoke()
    return {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}


def tf_convert(pb_path: str, inputs: list[str], outputs: list[str], shapes: dict | None = None) -> bytes:
    conv = v1.lite.TFLiteConverter.from_frozen_graph(pb_path, inputs, outputs, shapes)
    return conv.convert()


def op_types(model: bytes) -> list[str]:
    """Operator type names in a .tflite as LiteRT sees them (no delegate rewriting them)."""
    interp = litert(model, delegates=False)
    return [d["op_name"] for d in interp._get_ops_details()]


def rel_error(expected: np.ndarray, actual: np.ndarray) -> float:
    """max |a - b| over the range of the expected output (the issues' error measure)."""
    expected = np.asarray(expected, np.float64)
    span = float(expected.max() - expected.min()) if expected.size else 0.0
    return float(np.max(np.abs(expected - np.asarray(actual, np.float64)))) / max(span, 1e-12)
