"""int8 with float fallback: an op with no int8 kernel stays float between a DEQUANTIZE and a
QUANTIZE, as TensorFlow's converter keeps it; --int8_only refuses it instead."""
import numpy as np
import pytest
import tensorflow as tf

from tests.support.cli import assert_one_line_error, toco
from tests.support.int8_graphs import MIDDLE_OPS, clipped_mlp, div_mlp, drop_int8_kernels, mlp_around, sin_mlp
from tests.support.oracle import op_types, rel_error, run_litert, run_tf
from tests.test_op_versions import compare_versions
from toco_py import api
from toco_py.errors import ConversionError
from toco_py.quantize.driver import QuantizeOptions

v1 = tf.compat.v1
ROUNDS = 16  # inputs the error is averaged over (the measure)


def _samples(count=32, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((1, 16)).astype(np.float32) for _ in range(count)]


def convert_ours(pb, tmp_path, **int8):
    path = tmp_path / "calibration.npy"
    np.save(path, np.concatenate(_samples()))
    options = QuantizeOptions("int8", calibration_data=str(path))
    for key, value in int8.items():
        setattr(options.int8, key, value)
    return api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"], quantize=options)


def convert_tf(pb, tmp_path):
    """TF's converter with its default op set, which keeps ops without int8 kernels in float."""
    path = tmp_path / "m.pb"
    path.write_bytes(pb)
    conv = v1.lite.TFLiteConverter.from_frozen_graph(str(path), ["x"], ["y"])
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([s] for s in _samples())
    return conv.convert()


def mean_error(pb, model, quantized_io=None):
    """Mean over ROUNDS inputs of the max error vs TF float over the output's range; with
    quantized_io = (input params, output params) the model takes and gives int8."""
    errors = []
    for seed in range(ROUNDS):
        x = np.random.default_rng(100 + seed).standard_normal((1, 16)).astype(np.float32)
        expected = run_tf(pb, {"x": x}, ["y"])[0]
        if quantized_io:
            (in_scale, in_zero), (out_scale, out_zero) = quantized_io
            q = np.clip(np.round(x / in_scale) + in_zero, -128, 127).astype(np.int8)
            got = (run_litert(model, {"x": q})["y"].astype(np.float32) - out_zero) * out_scale
        else:
            got = run_litert(model, {"x": x})["y"]
        errors.append(rel_error(expected, got))
    return float(np.mean(errors))


def _io_types(result):
    g = result.graph
    return g.tensors[g.inputs[0]].dtype, g.tensors[g.outputs[0]].dtype


def _converts(graph):
    """(op type, input op type) of each QUANTIZE/DEQUANTIZE fed by another one."""
    return [(op.type, graph.producer(op.inputs[0]).type) for op in graph.ops
            if op.type in ("QUANTIZE", "DEQUANTIZE") and graph.producer(op.inputs[0]) is not None
            and graph.producer(op.inputs[0]).type in ("QUANTIZE", "DEQUANTIZE")]


@pytest.mark.parametrize("build, kept", [(div_mlp, ""), (sin_mlp, "SIN (Sin)")], ids=["div", "sin"])
def test_mlp_matches_tf_ops_and_accuracy(build, kept, tmp_path):
    """DIV has an int8 kernel in both converters; SIN has none in LiteRT, so both keep it in
    float between one DEQUANTIZE and one QUANTIZE: the op lists are TF's."""
    pb = build()
    ours = convert_ours(pb, tmp_path)
    assert any(f"kept in float (no int8 kernel; --int8_only refuses): {kept}" in n
               for n in ours.notes) == bool(kept), ours.notes
    assert _converts(ours.graph) == []
    theirs = convert_tf(pb, tmp_path)
    assert op_types(ours.model) == op_types(theirs)
    ours_error, tf_error = mean_error(pb, ours.model), mean_error(pb, theirs)
    assert ours_error <= 1.25 * tf_error, (ours_error, tf_error)


@pytest.mark.parametrize("tf_op", sorted(MIDDLE_OPS))
def test_op_between_dense_layers_as_tf_converts_it(tf_op, tmp_path):
    """Each op is int8 where TF's converter makes it int8, float where TF keeps it in float, in
    no more ops, with TF's op versions, and as accurate (mean error over 16 inputs)."""
    pb = mlp_around(tf_op)
    ours, theirs = convert_ours(pb, tmp_path), convert_tf(pb, tmp_path)
    assert _converts(ours.graph) == []
    ours_ops, tf_ops = op_types(ours.model), op_types(theirs)
    assert len(ours_ops) <= len(tf_ops)
    # The same ops, but for a RESHAPE our FULLY_CONNECTED absorbs (ELU included: TF's quantizer
    # keeps it in float, and so do we).
    assert [t for t in ours_ops if t != "RESHAPE"] == [t for t in tf_ops if t != "RESHAPE"]
    assert compare_versions(ours.model, theirs)[1] == {}, "op versions differ from TF's"
    ours_error, tf_error = mean_error(pb, ours.model), mean_error(pb, theirs)
    assert ours_error <= 1.25 * tf_error, (ours_error, tf_error)


def test_int8_less_op_in_the_middle(tmp_path, monkeypatch):
    """MAXIMUM then MINIMUM in float mid-network: one DEQUANTIZE before the pair, one QUANTIZE
    after it, no conversion back to back; the ops at the ends stay int8 with float I/O."""
    pb = clipped_mlp()
    baseline = mean_error(pb, convert_ours(pb, tmp_path).model)
    drop_int8_kernels(monkeypatch, "MAXIMUM", "MINIMUM")
    result = convert_ours(pb, tmp_path)
    g = result.graph
    assert [op.type for op in g.ops] == ["MAXIMUM", "QUANTIZE", "FULLY_CONNECTED", "DEQUANTIZE",
                                         "MAXIMUM", "MINIMUM", "QUANTIZE", "FULLY_CONNECTED",
                                         "DEQUANTIZE", "MINIMUM"]
    assert _io_types(result) == ("float32", "float32")
    assert _converts(g) == []
    assert any("MAXIMUM (Maximum, Maximum_1); MINIMUM (Minimum, Minimum_1)" in n for n in result.notes)
    # Float steps add no error of their own.
    assert mean_error(pb, result.model) <= 1.25 * baseline


def test_int8_io_around_float_first_and_last_ops(tmp_path, monkeypatch):
    """--inference_input_type/--inference_output_type int8 with a float op first and last: the
    int8 input is dequantized for it, its float output quantized for the caller."""
    pb = clipped_mlp()
    drop_int8_kernels(monkeypatch, "MAXIMUM", "MINIMUM")
    result = convert_ours(pb, tmp_path, inference_input_type="int8", inference_output_type="int8")
    g = result.graph
    types = [op.type for op in g.ops]
    assert types[:2] == ["DEQUANTIZE", "MAXIMUM"] and types[-2:] == ["MINIMUM", "QUANTIZE"]
    assert _io_types(result) == ("int8", "int8")
    assert _converts(g) == []
    x, y = g.tensors[g.inputs[0]].quant, g.tensors[g.outputs[0]].quant
    params = ((float(x.scale[0]), int(x.zero_point[0])), (float(y.scale[0]), int(y.zero_point[0])))
    floats = mean_error(pb, convert_ours(pb, tmp_path).model)
    assert mean_error(pb, result.model, params) <= 1.25 * floats


def test_int8_only_refuses_with_the_ops_and_nodes(tmp_path):
    pb = sin_mlp()
    with pytest.raises(ConversionError, match=r"--int8_only: no int8 kernel for SIN \(Sin\)"):
        convert_ours(pb, tmp_path, int8_only=True)
    model = tmp_path / "m.pb"
    model.write_bytes(pb)
    calibration = tmp_path / "calibration.npy"
    np.save(calibration, np.concatenate(_samples()))
    files = ("--graph_def_file", str(model), "--output_file", str(tmp_path / "out.tflite"))
    for flag in ("--int8_only", "--tflite_builtins_int8"):
        proc = toco("convert", *files, "--input_arrays", "x", "--output_arrays", "y", "--quantize",
                    "int8", "--calibration-data", str(calibration), flag)
        assert_one_line_error(proc, "no int8 kernel for SIN (Sin)", "without --int8_only")
    proc = toco("convert", *files, "--quantize", "dynamic", "--int8_only")
    assert_one_line_error(proc, "--int8_only", "--quantize int8")
