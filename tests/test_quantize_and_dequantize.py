"""QuantizeAndDequantizeV2/V4 with a given range: TensorFlow's kernel exactly, in float mode
(QUANTIZE + DEQUANTIZE on its grid, which is not FakeQuant's: no nudging, the zero point is
level 0 and the side of [min, max] needing the coarser step sets the step), and its range in
int8. TF 2.21's converter reads min and max as a FakeQuant's instead, so its float model
differs from TensorFlow by up to a step on every clamped element.

Where LiteRT may differ from TensorFlow at all: QUANTIZE rounds x / step half away from
zero, TensorFlow x * (1 / step) half to even; they agree but within float32 rounding of a
tie between two levels, and there differ by exactly one step."""
from __future__ import annotations

import numpy as np
import pytest

from tests.support import networks
from tests.support.cli import assert_one_line_error, toco
from tests.support.oracle import freeze, op_types, run_litert, run_tf
from toco_py import api
from toco_py.ir import Op
from toco_py.ops.fake_quant import qdq_range, tf_quantize_dequantize
from toco_py.quantize.driver import QuantizeOptions

tf = networks.tf
v1 = tf.compat.v1
TIE = 1e-3  # steps from a rounding tie: far more than float32 rounding of x * scale

# (min, max, attrs): signed and unsigned, narrow, few and many bits, either side setting the
# step, a zero range, and the other rounding mode.
CASES = {
    "symmetric": (-1.0, 1.0, {}),
    "max_sets_step": (-0.4, 2.7, {}),
    "min_sets_step": (-3.3, 0.9, {}),
    "narrow": (-2.0, 1.5, {"narrow_range": True}),
    "unsigned": (0.0, 5.0, {"signed_input": False}),
    "unsigned_below_zero": (-1.0, 3.0, {"signed_input": False}),
    "4_bits_half_up": (-1.3, 2.2, {"num_bits": 4, "round_mode": "HALF_UP"}),
    "12_bits": (-1.0, 3.0, {"num_bits": 12}),
    "zeros": (0.0, 0.0, {}),
}


def _qdq(x, lo, hi, attrs: dict):
    return tf.raw_ops.QuantizeAndDequantizeV4(
        input=x, input_min=tf.constant(lo, tf.float32), input_max=tf.constant(hi, tf.float32),
        range_given=True, **attrs)


def _tf_qdq(x: np.ndarray, lo, hi, attrs: dict) -> np.ndarray:
    pb, names = freeze(lambda: {"y": _qdq(v1.placeholder(tf.float32, x.shape, name="p"), lo, hi, attrs)})
    return run_tf(pb, {"p": x}, [names["y"]])[0]


def _op(attrs: dict) -> Op:
    return Op("QuantizeAndDequantize", [], [], attrs, "qdq")


def _near_ties(lo, hi, attrs) -> np.ndarray:
    """Inputs within a few ulps of every rounding tie of the grid, and beyond its ends."""
    low, high, _, step = (float(v) for v in qdq_range(_op(attrs), lo, hi))
    step = step or 1.0
    ties = np.arange(low - 2 * step, high + 2 * step, step, dtype=np.float64)[:600] + step / 2
    spread = [ties.astype(np.float32)]
    for direction in (np.inf, -np.inf):
        moved = spread[0]
        for _ in range(4):
            moved = np.nextafter(moved, np.float32(direction))
            spread.append(moved)
    return np.concatenate(spread)


@pytest.mark.parametrize("case", CASES)
def test_kernel_is_bit_exact(case):
    """The numpy kernel (constant folding, the interpreter) is TensorFlow's, to the bit, on
    inputs next to every tie and on normal samples."""
    lo, hi, attrs = CASES[case]
    x = np.concatenate([_near_ties(lo, hi, attrs),
                        np.random.default_rng(0).normal(0, 3, 1000).astype(np.float32)])
    np.testing.assert_array_equal(tf_quantize_dequantize(_op(attrs), x, np.float32(lo), np.float32(hi)),
                                  _tf_qdq(x, lo, hi, attrs))


def _network(lo, hi, attrs) -> bytes:
    """x -> MatMul -> QuantizeAndDequantizeV4 -> y."""
    def graph():
        x = v1.placeholder(tf.float32, (16, 6), name="x")
        w = tf.constant(np.random.default_rng(1).normal(0, 0.7, (6, 4)).astype(np.float32))
        return {"y": tf.identity(_qdq(tf.matmul(x, w), lo, hi, attrs), name="y")}
    return freeze(graph)[0]


def _assert_equal_but_ties(got, want, h, step):
    steps = np.asarray(h, np.float64) / step
    near_tie = np.abs(steps - np.floor(steps) - 0.5) < TIE
    differ = got != want
    assert not np.any(differ & ~near_tie), np.flatnonzero(differ & ~near_tie)[:5]
    np.testing.assert_allclose(np.abs(got - want)[differ], np.broadcast_to(step, got.shape)[differ], rtol=1e-5)


FLOAT_CASES = {k: v for k, v in CASES.items() if k != "zeros"}


@pytest.mark.parametrize("case", FLOAT_CASES)
def test_float_conversion_equals_tensorflow(case):
    """LiteRT on the float .tflite equals TensorFlow on the .pb (but next to ties): QUANTIZE +
    DEQUANTIZE on TensorFlow's grid, with a clamp where the grid does not fill its storage."""
    lo, hi, attrs = FLOAT_CASES[case]
    pb = _network(lo, hi, attrs)
    model = api.convert_bytes(pb, input_arrays=["x"], output_arrays=["y"]).model
    types = op_types(model)
    assert types[0] == "FULLY_CONNECTED" and types[-2:] == ["QUANTIZE", "DEQUANTIZE"], types
    step = float(qdq_range(_op(attrs), lo, hi)[3])
    for seed in range(3):
        x = np.random.default_rng(seed).normal(0, 2, (16, 6)).astype(np.float32)
        want, h = run_tf(pb, {"x": x}, ["y", "MatMul"])
        _assert_equal_but_ties(run_litert(model, {"x": x})["y"], want, h, step)


def test_int8_takes_its_range(tmp_path):
    """--quantize int8 drops the node and quantizes its tensor on its grid."""
    lo, hi, attrs = CASES["max_sets_step"]
    samples = tmp_path / "x.npy"
    np.save(samples, np.random.default_rng(0).normal(0, 2, (4, 16, 6)).astype(np.float32))
    result = api.convert_bytes(_network(lo, hi, attrs), input_arrays=["x"], output_arrays=["y"],
                               quantize=QuantizeOptions("int8", calibration_data=str(samples)))
    assert "QuantizeAndDequantize" not in {op.type for op in result.graph.ops}
    fc = next(op for op in result.graph.ops if op.type == "FULLY_CONNECTED")
    params = result.graph.tensors[fc.outputs[0]].quant
    low, high, _, step = (float(v) for v in qdq_range(_op(attrs), lo, hi))
    assert float(params.scale[0]) == pytest.approx((high - low) / 255, rel=1e-6)
    assert float(params.scale[0]) == pytest.approx(step, rel=1e-6)


def test_range_not_given_is_a_one_line_error(tmp_path):
    """Without range_given the node quantizes on the range of each input it sees: no TFLite
    op computes that, and the error says what to give instead (TF 2.21's converter emits a
    QUANTIZE on the given bounds, which is not what TensorFlow computes)."""
    def graph():
        x = v1.placeholder(tf.float32, (4, 3), name="x")
        return {"y": tf.raw_ops.QuantizeAndDequantizeV4(input=x, input_min=tf.constant(-1.0),
                                                         input_max=tf.constant(1.0), range_given=False,
                                                         name="qdq")}
    pb = tmp_path / "m.pb"
    pb.write_bytes(freeze(graph)[0])
    proc = toco("convert", "--graph_def_file", str(pb), "-o", str(tmp_path / "m.tflite"),
                "--input_arrays", "x", "--output_arrays", "qdq")
    assert_one_line_error(proc, "qdq", "range_given")
