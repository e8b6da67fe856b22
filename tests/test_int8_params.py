"""The int8 quantizer's choices on one-op graphs, against TensorFlow's converter (2.21) on the
same calibration samples, measured as the issue measures (mean over 16 inputs of the max
error over the output's range, against TensorFlow's float run):

- inputs of ops whose int8 kernels need one set of params (CONCATENATION, PACK, MINIMUM,
  MAXIMUM) take the output's, chosen from the output's own range, and a float graph input
  is quantized straight to them (no second rounding by a requantizing QUANTIZE);
- a fake-quant between a graph input and a graph output gives the input its range;
- what TensorFlow keeps in float stays float (ELU; ZEROS_LIKE, which LiteRT has no int8
  kernel for; an EQUAL with infinity, which int8 has no level for), and every model runs."""
import numpy as np
import pytest
import tensorflow as tf

from tests.support.oracle import freeze, op_types, rel_error, run_litert, run_tf
from toco_py import api
from toco_py.ops.fake_quant import nudge
from toco_py.quantize.driver import QuantizeOptions

v1 = tf.compat.v1
ROUNDS = 16


def _x(*shape, name="x"):
    return v1.placeholder(tf.float32, shape, name=name)


# name -> builder of {"y": tensor} on placeholders x (and y0)
GRAPHS = {
    "concat": lambda: tf.concat([_x(2, 3), _x(2, 4, name="y0")], 1),
    "pack": lambda: tf.stack([_x(3, 4), _x(3, 4, name="y0")], 1),
    "minimum": lambda: tf.minimum(_x(2, 3, 4), _x(3, 4, name="y0")),
    "maximum": lambda: tf.maximum(_x(2, 3, 4), _x(3, 4, name="y0")),
    "fake_quant_of_input": lambda: tf.quantization.fake_quant_with_min_max_args(_x(3, 4), -1.0, 1.0),
    "elu": lambda: tf.nn.elu(_x(2, 3, 4)),
    "zeros_like": lambda: tf.raw_ops.ZerosLike(x=_x(2, 3, 4)),
    "is_inf": lambda: tf.math.is_inf(_x(2, 3, 4)),
}


class Net:
    def __init__(self, name: str):
        self.pb, _ = freeze(lambda: {"y": tf.identity(GRAPHS[name](), name="out")})
        gd = v1.GraphDef.FromString(self.pb)
        self.inputs = {n.name: tuple(d.size for d in n.attr["shape"].shape.dim)
                       for n in gd.node if n.op == "Placeholder"}

    def feeds(self, seed: int) -> dict:
        rng = np.random.default_rng(seed)
        return {n: rng.standard_normal(s).astype(np.float32) for n, s in self.inputs.items()}

    def convert(self, tmp_path, **int8) -> api.ConversionResult:
        samples = [self.feeds(1000 + k) for k in range(ROUNDS)]
        path = tmp_path / "calibration.npz"
        np.savez(path, **{n: np.stack([s[n] for s in samples]) for n in self.inputs})
        options = QuantizeOptions("int8", calibration_data=str(path))
        for key, value in int8.items():
            setattr(options.int8, key, value)
        return api.convert_bytes(self.pb, input_arrays=list(self.inputs), output_arrays=["out"],
                                 quantize=options)

    def convert_tf(self, tmp_path) -> bytes:
        path = tmp_path / "m.pb"
        path.write_bytes(self.pb)
        conv = v1.lite.TFLiteConverter.from_frozen_graph(str(path), list(self.inputs), ["out"])
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([self.feeds(1000 + k)[n] for n in self.inputs]
                                               for k in range(ROUNDS))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        return conv.convert()

    def error(self, model: bytes) -> float:
        errors = []
        for k in range(ROUNDS):
            feeds = self.feeds(2000 + k)
            want = run_tf(self.pb, feeds, ["out"])[0]
            got = next(iter(run_litert(model, feeds).values()))
            errors.append(rel_error(want, got) if want.dtype.kind == "f" else float(np.mean(want != got)))
        return float(np.mean(errors))


@pytest.mark.parametrize("name", ["concat", "pack", "minimum", "maximum"])
def test_shared_params_come_from_the_output(name, tmp_path):
    """As TensorFlow's: one QUANTIZE per float input straight to the op's params, the op's
    params from its output's range; TensorFlow's error, to the last digit here."""
    net = Net(name)
    ours = net.convert(tmp_path)
    assert op_types(ours.model).count("QUANTIZE") == 2, op_types(ours.model)
    op = next(o for o in ours.graph.ops if o.type not in ("QUANTIZE", "DEQUANTIZE"))
    params = {(float(ours.graph.tensors[n].quant.scale[0]), int(ours.graph.tensors[n].quant.zero_point[0]))
              for n in op.inputs + op.outputs if ours.graph.tensors[n].quant is not None}
    assert len(params) == 1, params
    ours_error, tf_error = net.error(ours.model), net.error(net.convert_tf(tmp_path))
    assert ours_error <= tf_error * 1.0001, (ours_error, tf_error)


def test_fake_quant_of_an_input_that_is_an_output(tmp_path):
    """The input is quantized on the fake-quant's grid, so the output clamps where TensorFlow's
    fake-quant clamps (it kept the calibrated range: 93x TF's error); exact but at ties."""
    net = Net("fake_quant_of_input")
    ours = net.convert(tmp_path)
    nudged_min, nudged_max, scale, *_ = nudge(-1.0, 1.0, 0, 255)
    quantized = ours.graph.tensors[ours.graph.ops[0].outputs[0]]
    assert float(quantized.quant.scale[0]) == pytest.approx(float(scale))
    assert float(quantized.quant.scale[0]) * (-128 - int(quantized.quant.zero_point[0])) == pytest.approx(
        float(nudged_min))
    ours_error, tf_error = net.error(ours.model), net.error(net.convert_tf(tmp_path))
    assert ours_error <= tf_error, (ours_error, tf_error)
    assert ours_error < 1e-6


def test_elu_stays_float_unless_int8_only(tmp_path):
    """TensorFlow keeps ELU in float; so do we, and say so. --int8_only takes LiteRT's int8
    ELU (a table) rather than refusing."""
    net = Net("elu")
    ours = net.convert(tmp_path)
    assert op_types(ours.model) == op_types(net.convert_tf(tmp_path)) == ["ELU"]
    assert any("kept in float (as TensorFlow's converter keeps them" in n and "ELU" in n for n in ours.notes)
    assert not any("no int8 kernel" in n for n in ours.notes)
    assert net.error(ours.model) < 1e-6
    only = net.convert(tmp_path, int8_only=True)
    assert op_types(only.model) == ["QUANTIZE", "ELU", "DEQUANTIZE"]
    assert net.error(only.model) < 0.05  # a few output steps of the int8 table


@pytest.mark.parametrize("name", ["zeros_like", "is_inf"])
def test_float_only_computations_stay_float_and_run(name, tmp_path):
    """ZEROS_LIKE (LiteRT has no int8 kernel: the model failed at invoke) and EQUAL with an
    infinite constant (the quantizer crashed on it) stay float; the model runs and is exact."""
    net = Net(name)
    ours = net.convert(tmp_path)
    assert net.error(ours.model) == 0.0
    assert net.error(net.convert_tf(tmp_path)) == 0.0
    if name == "is_inf":
        assert any(n.startswith("kept in float (reads a constant with inf") and "EQUAL" in n for n in ours.notes)


def test_recurrent_steps_are_not_requantized(tmp_path):
    """In an unrolled GRU each step's CONCATENATION reads an UNPACKed slice of the input
    sequence, whose params span the concatenation's range: they are the shared params, so
    the slice is not rounded a second time, and a tensor is requantized once per params
    (the same QUANTIZE serves every op that needs it)."""
    from tests.support import networks

    net = networks.SMALL_NETWORKS["gru_static_rnn"]()
    rng = np.random.default_rng(1)
    path = tmp_path / "calibration.npz"
    np.savez(path, **{n: np.concatenate([rng.standard_normal(s).astype(np.float32) for _ in range(8)])
                      for n, (s, _) in net.inputs.items()})
    g = api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs,
                          quantize=QuantizeOptions("int8", calibration_data=str(path))).graph
    requantized = [(op.inputs[0], float(g.tensors[op.outputs[0]].quant.scale[0]))
                   for op in g.ops if op.type == "QUANTIZE" and g.producer(op.inputs[0]) is not None]
    assert len(requantized) == len(set(requantized)), requantized
    assert not [n for n, _ in requantized if g.producer(n).type == "UNPACK"], requantized


def test_int8_only_names_the_constant_int8_cannot_hold(tmp_path):
    from toco_py.errors import ConversionError

    with pytest.raises(ConversionError, match=r"--int8_only: reads a constant with inf or NaN, which "
                                              r"int8 has no level for in EQUAL \(IsInf\)"):
        Net("is_inf").convert(tmp_path, int8_only=True)


def test_gather_of_a_constant_table_takes_its_params(tmp_path):
    """LiteRT's int8 GATHER copies the table's integers, so its output must carry the table's
    params (TF's converter's choice); calibrated on the rows of a few tokens, the output's own
    range would misread every row (measured: 35% of the range off before)."""
    rng = np.random.default_rng(4)
    table = rng.normal(0, 1, (40, 6)).astype(np.float32)

    def build():
        token = v1.placeholder(tf.int32, [3], "token")
        return {"out": tf.identity(tf.gather(tf.constant(table), token), "out")}

    pb, _ = freeze(build)
    calibration = tmp_path / "cal.npz"
    np.savez(calibration, token=np.array([[1, 2, 3]] * 4, np.int32))  # rows 1-3 only
    result = api.convert_bytes(pb, input_arrays=["token"], output_arrays=["out"],
                               quantize=QuantizeOptions("int8", calibration_data=str(calibration)))
    gather = next(op for op in result.graph.ops if op.type == "GATHER")
    table_q, out_q = (result.graph.tensors[n].quant for n in (gather.inputs[0], gather.outputs[0]))
    assert float(table_q.scale[0]) == float(out_q.scale[0])
    assert int(table_q.zero_point[0]) == int(out_q.zero_point[0])
    tokens = np.array([0, 17, 39], np.int32)
    got = run_litert(result.model, {"token": tokens})["out"]
    # Within half a step of the table's int8 grid (rounding only).
    assert np.abs(got - table[tokens]).max() <= float(table_q.scale[0]) / 2 + 1e-6
