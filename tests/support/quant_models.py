"""Full-integer conversions of test networks by us and by TF's converter, and how they are
checked against LiteRT's reference kernels."""
import numpy as np
import tensorflow as tf

from tests.support.oracle import litert
from toco_py import api
from toco_py.interpreter import Interpreter
from toco_py.quantize.driver import QuantizeOptions
from toco_py.quantize.schemes import INT16X8
from toco_py.tensor_io import random_inputs
from toco_py.tflite.reader import read_model


def calibration_file(net, tmp_path, count: int = 32) -> str:
    rng = np.random.default_rng(1)
    def samples(shape):  # along axis 0: one per sample, or whole inputs when the batch is > 1
        return (count,) + (tuple(shape[1:]) if shape[0] == 1 else tuple(shape))
    arrays = {name: rng.standard_normal(samples(shape)).astype(dtype) if dtype == "float32"
              else rng.integers(0, 50, samples(shape)).astype(dtype)
              for name, (shape, dtype) in net.inputs.items()}
    path = tmp_path / f"{net.name}_calibration.npz"
    np.savez(path, **arrays)
    return str(path)


def int8_ours(net, calibration: str, mode: str = "int8", **int8) -> api.ConversionResult:
    """Our full-integer conversion (mode int8 or int16x8) calibrated on the file."""
    options = QuantizeOptions(mode, calibration_data=calibration)
    for key, value in int8.items():
        setattr(options.int8, key, value)
    if mode == "int16x8":
        options.int8.scheme = INT16X8
    return api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs, quantize=options)


def int8_tf(net, tmp_path, samples: list[dict], ops_sets: tuple[str, ...] = ("TFLITE_BUILTINS_INT8",)) -> bytes:
    """TF's converter's full-integer model (ops sets EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
    for 16x8), calibrated on the samples."""
    pb = tmp_path / "m.pb"
    pb.write_bytes(net.pb)
    conv = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(str(pb), list(net.inputs), net.outputs)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([s[n] for n in net.inputs] for s in samples)
    conv.target_spec.supported_ops = [getattr(tf.lite.OpsSet, name) for name in ops_sets]
    return conv.convert()


def differing_elements(model: bytes, seeds=(0, 1, 2)) -> int:
    """Elements where our interpreter and LiteRT's reference kernels disagree."""
    graph = read_model(model).main
    names = list(graph.tensors)
    interp = Interpreter(graph)
    differing = 0
    for seed in seeds:
        feeds = random_inputs(graph, seed)
        lite = litert(model, reference=True)
        for name, value in feeds.items():
            lite.set_tensor(names.index(name), value)
        lite.invoke()
        ours = interp.run(feeds)
        for name in graph.outputs:
            differing += int(np.sum(ours[name] != lite.get_tensor(names.index(name))))
    return differing


def runs_with_default_delegate(model: bytes) -> None:
    """What users run on a phone: the default interpreter, XNNPACK delegate included (it is
    stricter than the builtin kernels, e.g. on SPLIT outputs sharing their input's params)."""
    interp = litert(model)
    for detail in interp.get_input_details():
        interp.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interp.invoke()


def samples_of(path: str, net) -> list[dict]:
    with np.load(path) as data:
        count = len(data[list(net.inputs)[0]])
        return [{n: data[n][i].reshape(shape) for n, (shape, _) in net.inputs.items()} for i in range(count)]
