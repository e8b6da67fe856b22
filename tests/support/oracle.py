"""The oracles: TensorFlow runs a frozen graph, LiteRT runs a .tflite, TF's converter for
comparison. Also helpers to freeze tf.compat.v1 graphs built in the tests."""
from __future__ import annotations

import re

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


# The ops some of whose versions, as TFLite's op_version rules number them, LiteRT's reference
# resolver does not register (measured over the int8, op, codegen and quantization tests):
# TILE 3 and DEPTH_TO_SPACE 2 (int8 data), STRIDED_SLICE 6 and 8, ABS 4 and 5, RANGE 2.
# Models holding them run on the builtin kernels without delegates; any other op missing from
# the reference resolver raises.
REFERENCE_GAPS = ("TILE", "DEPTH_TO_SPACE", "STRIDED_SLICE", "ABS", "RANGE")


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
        missing = re.search(r"Didn't find op for builtin opcode '(\w+)'", str(err))
        if not reference or not missing or missing.group(1) not in REFERENCE_GAPS:
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


def convert_and_compare(build, feeds: dict, outputs: list[str], tf_op: str,
                        survivor: str | None = None, rtol: float = 0.0, atol: float = 0.0):
    """build() returns output tensors on placeholders; TF runs the frozen graph, LiteRT our
    conversion, and they must agree (exactly unless given tolerances). The graph must hold
    the TF op under test, and the IR op `survivor` must be left in the converted graph (not
    folded away). Returns the conversion result."""
    from toco_py import api

    pb, _ = freeze(lambda: dict(enumerate(build())), sorted({o.split(":")[0] for o in outputs}))
    gd = v1.GraphDef()
    gd.ParseFromString(pb)
    assert tf_op in [n.op for n in gd.node]
    result = api.convert_bytes(pb, input_arrays=list(feeds), output_arrays=outputs)
    if survivor:
        assert survivor in [op.type for op in result.graph.ops]
    expected = run_tf(pb, feeds, outputs)
    got = run_litert(result.model, feeds)
    for name, exp in zip(outputs, expected, strict=True):
        exp = np.asarray(exp)
        assert (got[name].shape, got[name].dtype) == (exp.shape, exp.dtype), name
        if rtol or atol:
            np.testing.assert_allclose(got[name], exp, rtol=rtol, atol=atol, err_msg=name)
        else:
            np.testing.assert_array_equal(got[name], exp, err_msg=name)
    return result


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
