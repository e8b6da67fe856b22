"""An int8 model LiteRT refuses is a bug: every int8 model the int8 test networks produce is
prepared (allocate_tensors) and invoked, where some kernels check their params (PADV2's fill
value at pad.cc's EvalInt), with the default resolver (XNNPACK delegate included) and with
the reference kernels."""
import numpy as np
import pytest

from tests.support import networks
from tests.support.int8_graphs import (
    MIDDLE_OPS,
    clipped_mlp,
    div_mlp,
    drop_int8_kernels,
    mlp_around,
    padded_constant,
    sin_mlp,
)
from tests.support.oracle import litert
from toco_py import api
from toco_py.quantize.driver import QuantizeOptions

NO_CALIBRATION = ("fake_quant_mlp",)  # its ranges come from fake-quant nodes
# Graphs with input "x": (builder, ops whose int8 kernels are dropped, Int8Options fields).
GRAPHS = {
    "padded_constant": (padded_constant, (), {}),
    "div_mlp": (div_mlp, (), {}),
    "sin_mlp": (sin_mlp, (), {}),
    "clipped_mlp_float_middle": (clipped_mlp, ("MAXIMUM", "MINIMUM"), {}),
    "clipped_mlp_int8_io": (clipped_mlp, ("MAXIMUM", "MINIMUM"),
                            {"inference_input_type": "int8", "inference_output_type": "int8"}),
}
X_SHAPES = {padded_constant: (1, 4, 4, 3), div_mlp: (1, 16), sin_mlp: (1, 16), clipped_mlp: (1, 16)}
# LiteRT's reference resolver has no ELU and no ROUND at all (float included): those graphs
# run on the builtin kernels only.
BUILTIN_ONLY = {"Elu", "Round"}


def _options(calibration: str | None, **int8) -> QuantizeOptions:
    options = QuantizeOptions("int8", calibration_data=calibration)
    for key, value in int8.items():
        setattr(options.int8, key, value)
    return options


def litert_problems(model: bytes, resolvers=(False, True)) -> list[str]:
    """What is wrong with an int8 model in LiteRT ([] when nothing): it must hold int8
    tensors, be prepared (allocate_tensors runs each kernel's Prepare) and invoked (where some
    kernels check their params; a refusal raises), and give every output finite and in its
    declared shape, on each resolver (False: builtin, True: reference)."""
    types = {d["dtype"] for d in litert(model).get_tensor_details()}
    problems = [] if np.int8 in types else [f"no int8 tensor in the model: {types}"]
    for reference in resolvers:
        kind = "reference" if reference else "builtin"
        interp = litert(model, reference=reference)
        for detail in interp.get_input_details():
            interp.set_tensor(detail["index"], np.ones(detail["shape"], detail["dtype"]))
        interp.invoke()
        for detail in interp.get_output_details():
            out = interp.get_tensor(detail["index"])
            if out.shape != tuple(detail["shape"]):
                problems.append(f"{kind}: {detail['name']} has shape {out.shape}, declared {detail['shape']}")
            elif np.issubdtype(out.dtype, np.floating) and not np.all(np.isfinite(out)):
                problems.append(f"{kind}: {detail['name']} is not finite")
    return problems


@pytest.mark.parametrize("name", list(networks.SMALL_NETWORKS))
def test_small_network_int8_models_prepare(name, tmp_path):
    net = networks.SMALL_NETWORKS[name]()
    calibration = None
    if name not in NO_CALIBRATION:
        calibration = str(tmp_path / "calibration.npz")
        samples = [net.feeds(seed) for seed in range(8)]
        np.savez(calibration, **{n: np.stack([s[n] for s in samples]) for n in net.inputs})
    model = api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs,
                              quantize=_options(calibration)).model
    assert litert_problems(model) == []


@pytest.mark.parametrize("name", list(GRAPHS))
def test_int8_graphs_prepare(name, tmp_path, monkeypatch):
    build, dropped, int8 = GRAPHS[name]
    drop_int8_kernels(monkeypatch, *dropped)
    calibration = tmp_path / "calibration.npy"
    np.save(calibration, np.random.default_rng(0).standard_normal((8,) + X_SHAPES[build][1:]).astype(np.float32))
    result = api.convert_bytes(build(), input_arrays=["x"], output_arrays=["y"],
                               quantize=_options(str(calibration), **int8))
    assert litert_problems(result.model) == []


@pytest.mark.parametrize("tf_op", sorted(MIDDLE_OPS))
def test_op_between_dense_layers_prepares(tf_op, tmp_path):
    calibration = tmp_path / "calibration.npy"
    np.save(calibration, np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32))
    result = api.convert_bytes(mlp_around(tf_op), input_arrays=["x"], output_arrays=["y"],
                               quantize=_options(str(calibration)))
    assert litert_problems(result.model, (False,) if tf_op in BUILTIN_ONLY else (False, True)) == []


def test_padv2_fill_value_takes_the_output_params(tmp_path):
    calibration = tmp_path / "calibration.npy"
    np.save(calibration, np.random.default_rng(0).standard_normal((8, 4, 4, 3)).astype(np.float32))
    g = api.convert_bytes(padded_constant(), input_arrays=["x"], output_arrays=["y"],
                          quantize=_options(str(calibration))).graph
    pad = next(op for op in g.ops if op.type == "PADV2")
    (x, value, y) = (g.tensors[n].quant for n in (pad.inputs[0], pad.inputs[2], pad.outputs[0]))
    assert (float(y.scale[0]), int(y.zero_point[0])) == (float(x.scale[0]), int(x.zero_point[0]))
    assert (float(value.scale[0]), int(value.zero_point[0])) == (float(y.scale[0]), int(y.zero_point[0]))
    assert int(g.tensors[pad.inputs[2]].data.ravel()[0]) == round(0.5 * 128)  # tanh's scale 1/128
