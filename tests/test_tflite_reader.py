"""The TFLite reader. Models written by us and by TensorFlow's converter read back as LiteRT
sees them (and, for ours, as the IR that wrote them); hand-made faults and thousands of
(fuzzing: tests/test_tflite_reader_fuzz.py) end in a one-line InvalidModelError."""
from __future__ import annotations

import collections
import struct
import time

import flatbuffers
import numpy as np
import pytest
import tensorflow as tf
import tflite as fb
from tflite.BuiltinOperator import BuiltinOperator

from tests.support import tiny_tflite as tt
from tests.support.oracle import litert, run_litert
from tests.support.tflite_samples import ALL, sample_files
from toco_py.errors import TocoError
from toco_py.tflite.options import OPTIONS
from toco_py.tflite.reader import InvalidModelError, Signature, read_graph, read_model
from toco_py.tflite.versions import op_version

v1 = tf.compat.v1
OP_NAMES = {code: name for name, code in vars(BuiltinOperator).items() if isinstance(code, int)}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return sample_files(tmp_path_factory.mktemp("reader"))


# ---- valid models against LiteRT -----------------------------------------------------------

def _check_tensor(t, d, interp) -> None:
    assert t.name == d["name"]
    # LiteRT's shape is resolved for allocation; the signature keeps unknown sizes as -1.
    assert t.shape == tuple(d["shape_signature"].tolist()), t.name
    assert t.dtype == np.dtype(d["dtype"]).name, t.name
    q = d["quantization_parameters"]
    if t.quant is None:
        assert q["scales"].size == 0, t.name
    else:
        np.testing.assert_array_equal(t.quant.scale, q["scales"])
        np.testing.assert_array_equal(t.quant.zero_point, q["zero_points"])
        assert t.quant.axis == q["quantized_dimension"], t.name
    if t.is_const:
        value = interp.get_tensor(d["index"])
        assert t.data.dtype == value.dtype and t.data.shape == value.shape, t.name
        np.testing.assert_array_equal(t.data, value)
        assert not t.data.flags.writeable, "constants are views of the file"


@pytest.mark.parametrize("name", ALL)
def test_main_subgraph_matches_litert(files, name):
    data, _ = files[name]
    graph = read_model(data, name).main
    names = list(graph.tensors)
    interp = litert(data, delegates=False)
    # LiteRT appends kernel scratch tensors after the file's; the file's come first.
    details = {d["index"]: d for d in interp.get_tensor_details()}
    for i, tensor_name in enumerate(names):
        _check_tensor(graph.tensors[tensor_name], details[i], interp)
    ops = interp._get_ops_details()
    assert [op.type for op in graph.ops] == [o["op_name"] for o in ops]
    for op, o in zip(graph.ops, ops):
        assert op.inputs == [names[i] if i >= 0 else "" for i in o["inputs"].tolist()]
        assert op.outputs == [names[i] for i in o["outputs"].tolist()]
    assert graph.inputs == [names[d["index"]] for d in interp.get_input_details()]
    assert graph.outputs == [names[d["index"]] for d in interp.get_output_details()]
    # What is not a constant is computed: a graph input or some op's output.
    computed = set(graph.inputs) | {n for op in graph.ops for n in op.outputs}
    assert {n for n, t in graph.tensors.items() if not t.is_const} == computed
    graph.validate()


@pytest.mark.parametrize("name", ["ours_mlp", "ours_cnn"])
def test_signatures_match_litert(files, name):
    data, _ = files[name]
    model = read_model(data)
    interp = litert(data, delegates=False)
    names = list(model.main.tensors)
    assert set(model.signatures) == set(interp.get_signature_list())
    for key, sig in model.signatures.items():
        runner = interp.get_signature_runner(key)
        assert sig.subgraph == 0
        assert sig.inputs == {k: names[d["index"]] for k, d in runner.get_input_details().items()}
        assert sig.outputs == {k: names[d["index"]] for k, d in runner.get_output_details().items()}


def _attr_equal(kind_value, got) -> bool:
    if isinstance(kind_value, float):
        return np.float32(kind_value) == np.float32(got)  # options store float32
    return kind_value == got


@pytest.mark.parametrize("name", ["ours_mlp", "ours_cnn"])
def test_reads_back_the_ir_we_wrote(files, name):
    data, result = files[name]
    src = result.graph
    model = read_model(data)
    got = model.main
    assert (got.inputs, got.outputs) == (src.inputs, src.outputs)
    for tensor_name, t in got.tensors.items():
        s = src.tensors[tensor_name]
        assert (t.shape, t.dtype, t.is_const) == (s.shape, s.dtype, s.is_const), tensor_name
        if s.is_const:
            np.testing.assert_array_equal(t.data, s.data)
    assert [(o.type, o.inputs, o.outputs) for o in got.ops] == \
        [(o.type, o.inputs, o.outputs) for o in src.ops]
    for g_op, s_op in zip(got.ops, src.ops):
        fields = OPTIONS.get(s_op.type, ("", []))[1]
        assert set(g_op.attrs) <= {attr for _, attr, _ in fields}, g_op
        for _, attr, kind in fields:
            if s_op.attrs.get(attr) is not None:
                expected = kind.from_fb(kind.to_fb(s_op.attrs[attr]))
                assert _attr_equal(expected, g_op.attrs[attr]), (s_op, attr)
    assert model.op_versions == [[op_version(src, op) for op in src.ops]]
    assert model.signatures == {"serving_default": Signature(
        0, {n: n for n in src.inputs}, {n: n for n in src.outputs})}
    assert model.description == "toco-py" and model.subgraph_names == ["main"]


def test_int8_per_channel_quantization(files):
    data, _ = files["tf_cnn_int8"]
    graph = read_model(data).main
    details = {d["name"]: d["quantization_parameters"] for d in
               litert(data, delegates=False).get_tensor_details()}
    axes = collections.Counter()
    for op in graph.ops:
        if op.type not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            continue
        x, w, bias = (graph.tensors[n] for n in op.inputs)
        assert w.dtype == "int8" and w.quant.per_channel
        axis = w.quant.axis
        axes[op.type, axis] += 1
        assert w.quant.scale.size == w.shape[axis] == details[w.name]["scales"].size
        assert axis == details[w.name]["quantized_dimension"]
        assert not w.quant.zero_point.any() and np.abs(w.data.astype(int)).max() <= 127
        # The bias scale is input scale x weight scale, channel by channel.
        assert bias.dtype == "int32"
        np.testing.assert_allclose(bias.quant.scale, x.quant.scale[0] * w.quant.scale, rtol=1e-6)
    assert axes[("CONV_2D", 0)] == 2 and axes[("DEPTHWISE_CONV_2D", 3)] == 1


def test_dynamic_batch_keeps_minus_one(files):
    graph = read_model(files["tf_mlp_dynamic_batch"][0]).main
    assert graph.tensors["x"].shape == (-1, 16)
    assert graph.tensors[graph.outputs[0]].shape == (-1, 10)


def test_every_subgraph_is_read(files):
    data, _ = files["tf_while"]
    model = read_model(data)
    raw = fb.Model.GetRootAs(data, 0)
    assert len(model.graphs) == raw.SubgraphsLength() == 3
    assert [op.type for op in model.main.ops] == ["WHILE"]
    for s, graph in enumerate(model.graphs):
        sg = raw.Subgraphs(s)
        names = [sg.Tensors(i).Name().decode() for i in range(sg.TensorsLength())]
        assert list(graph.tensors) == names
        types = [OP_NAMES[raw.OperatorCodes(sg.Operators(j).OpcodeIndex()).BuiltinCode()]
                 for j in range(sg.OperatorsLength())]
        assert [op.type for op in graph.ops] == types
        assert graph.inputs == [names[i] for i in sg.InputsAsNumpy().tolist()]
        assert len(model.op_versions[s]) == len(graph.ops)
        graph.validate()
    assert model.subgraph_names == ["main", "while_cond", "while_body"]


def test_read_graph_from_path_and_bytes(files, tmp_path):
    data, _ = files["ours_mlp"]
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    assert list(read_graph(path).tensors) == list(read_graph(data).tensors)
    with pytest.raises(TocoError, match="cannot read"):
        read_graph(tmp_path / "missing.tflite")
    path.write_bytes(data[:100])
    with pytest.raises(InvalidModelError, match=f"^{path}: "):
        read_graph(str(path))


# ---- hand-made models: valid corners ------------------------------------------------------

def test_names_made_unique_deterministically():
    model = tt.tiny_model(tensors=({"name": "x", "shape": [1, 4]}, {**tt.C, "name": None},
                                   {"name": "x", "shape": [1, 4]}))
    graph = read_model(model).main
    assert list(graph.tensors) == ["x", "#1", "x#2"]
    assert graph.ops[0].inputs == ["x", "#1"] and graph.ops[0].outputs == ["x#2"]
    assert graph.outputs == ["x#2"]


def test_options_absent_give_defaults_and_present_are_decoded():
    assert read_model(tt.tiny_model(options=None)).main.ops[0].attrs == \
        {"fused_activation_function": "NONE", "pot_scale_int16": True}
    relu = tt.tiny_model(options=("AddOptions", {"FusedActivationFunction": 1, "PotScaleInt16": False}))
    assert read_model(relu).main.ops[0].attrs == {"fused_activation_function": "RELU",
                                                  "pot_scale_int16": False}


def test_opcode_is_the_larger_of_both_code_fields():
    # MUL only in builtin_code: the generated BuiltinCode() would say ADD here.
    mul = tt.tiny_model(opcode={"deprecated": 0, "builtin": BuiltinOperator.MUL},
                        options=("MulOptions", {}))
    assert read_model(mul).main.ops[0].type == "MUL"
    gelu = tt.tiny_model(opcode={"deprecated": 127, "builtin": BuiltinOperator.GELU, "version": 2},
                         op_inputs=(0,), options=None)
    model = read_model(gelu)
    assert model.main.ops[0].type == "GELU" and model.main.ops[0].attrs == {"approximate": False}
    assert model.op_versions == [[2]]


def test_custom_op_and_absent_optional_input():
    model = tt.tiny_model(opcode={"deprecated": 32, "builtin": 32, "custom": "MyOp"},
                          op_inputs=(0, -1), options=None)
    op = read_model(model).main.ops[0]
    assert (op.type, op.attrs, op.inputs) == ("CUSTOM", {"custom_code": "MyOp"}, ["x", ""])


def test_external_buffer_matches_litert(files):
    data, _ = files["tiny_external"]
    value = read_model(data).main.tensors["c"].data
    np.testing.assert_array_equal(value, np.frombuffer(tt.FOUR_FLOATS, np.float32))
    np.testing.assert_array_equal(value, litert(data, delegates=False).get_tensor(1))


def test_string_constant_matches_litert():
    # TFLite's string layout: count, count + 1 offsets from the buffer start, the bytes.
    strings = struct.pack("<4i", 2, 16, 18, 21) + b"abcde"
    gather = {"deprecated": BuiltinOperator.GATHER, "builtin": BuiltinOperator.GATHER}
    model = tt.tiny_model(
        tensors=({"name": "i", "shape": [1], "type": 2}, {**tt.C, "shape": [2], "type": 5},
                 {"name": "y", "shape": [1], "type": 5}),
        buffers=(None, strings), opcode=gather, op_inputs=(1, 0), options=("GatherOptions", {}))
    value = read_model(model).main.tensors["c"].data
    assert value.tolist() == [b"ab", b"cde"]
    np.testing.assert_array_equal(value, litert(model, delegates=False).get_tensor(1))


def test_min_max_and_rank():
    model = tt.tiny_model(
        tensors=({**tt.X, "has_rank": True, "quant": {"min": [-1.0], "max": [2.0]}},
                 {**tt.C, "shape": [], "has_rank": True}, {"name": "y", "shape": []}),
        buffers=(None, tt.FOUR_FLOATS[:4]))
    graph = read_model(model).main
    assert graph.tensors["x"].min_max == (-1.0, 2.0) and graph.tensors["x"].quant is None
    assert graph.tensors["c"].shape == () and graph.tensors["c"].data.tolist() == 1.5
    # This writer marks ranked tensors, so an unmarked empty shape is an unknown rank...
    assert graph.tensors["y"].shape is None
    # ...while a writer that never marks rank means a scalar by an empty shape.
    plain = tt.tiny_model(tensors=(tt.X, tt.C, {"name": "y", "shape": []}))
    assert read_model(plain).main.tensors["y"].shape == ()


def test_file_without_identifier_is_accepted_if_it_reads():
    assert list(read_model(tt.tiny_model(identifier=None)).main.tensors) == ["x", "c", "y"]


# ---- hand-made models: faults -----------------------------------------------------------

def _patched(data: bytes, pos: int, fmt: str, value) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, pos, value)
    return bytes(out)


def _aliased_names() -> bytes:
    """5000 tensor entries that all point at one tensor with a 50 kB name."""
    b = flatbuffers.Builder(1 << 17)
    name = b.CreateString("n" * 50_000)
    shape = b.CreateNumpyVector(np.array([1], np.int32))
    fb.TensorStart(b)
    fb.TensorAddShape(b, shape)
    fb.TensorAddName(b, name)
    tensor = fb.TensorEnd(b)
    fb.SubGraphStartTensorsVector(b, 5000)
    for _ in range(5000):
        b.PrependUOffsetTRelative(tensor)
    tensors = b.EndVector()
    fb.SubGraphStart(b)
    fb.SubGraphAddTensors(b, tensors)
    subgraph = fb.SubGraphEnd(b)
    fb.ModelStartSubgraphsVector(b, 1)
    b.PrependUOffsetTRelative(subgraph)
    subgraphs = b.EndVector()
    fb.ModelStart(b)
    fb.ModelAddVersion(b, 3)
    fb.ModelAddSubgraphs(b, subgraphs)
    b.Finish(fb.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


VALID = tt.tiny_model()
FAULTS = [
    ("too_small", b"\x08\x00\x00\x00TFL", "too small"),
    ("not_tflite", b"\x0a\x05hello" * 10, "not a TFLite model"),
    ("schema_version", tt.tiny_model(version=2), "schema version 2 is not supported"),
    ("truncated", VALID[:-60], "outside the"),
    ("root_offset", _patched(VALID, 0, "<I", 1 << 20), "outside the"),
    ("vtable_is_table", _patched(VALID, struct.unpack_from("<I", VALID)[0], "<i", 0), "vtable"),
    ("buffer_index", tt.tiny_model(tensors=(tt.X, {**tt.C, "buffer": 5}, tt.Y)),
     "refers to buffer 5, but there are only 2"),
    ("op_input", tt.tiny_model(op_inputs=(0, 7)), "operator 0 inputs refers to tensor 7"),
    ("op_input_negative", tt.tiny_model(op_inputs=(0, -2)), "refers to tensor -2"),
    ("op_output_absent", tt.tiny_model(op_outputs=(-1,)), "outputs refers to tensor -1"),
    ("subgraph_input", tt.tiny_model(sg_inputs=(3,)), "subgraph 0 inputs refers to tensor 3"),
    ("opcode_index", tt.tiny_model(opcode_index=1), "refers to operator code 1"),
    ("buffer_size", tt.tiny_model(buffers=(None, tt.FOUR_FLOATS[:12])),
     "buffer holds 12 bytes, shape [4] of float32 needs 16"),
    ("negative_dim", tt.tiny_model(tensors=(tt.X, tt.C, {**tt.Y, "shape": [1, -4]})),
     "negative dimension"),
    ("const_overflow", tt.tiny_model(tensors=(tt.X, {**tt.C, "shape": [2**31 - 1] * 3}, tt.Y)),
     "over 16 elements"),
    ("activation_limit", tt.tiny_model(tensors=(tt.X, tt.C, {**tt.Y, "shape": [1 << 20] * 3})),
     "over 17179869184 elements"),
    ("activation_bytes", tt.tiny_model(tensors=(tt.X, tt.C, {**tt.Y, "shape": [1 << 30, 9]})),
     "tensors need over 16 GiB"),
    ("external_range", tt.tiny_model(buffers=(None, (1 << 20, 16))), "buffer 1's external data"),
    ("tensor_type", tt.tiny_model(tensors=(tt.X, {**tt.C, "type": 99}, tt.Y)), "tensor type 99"),
    ("builtin_code", tt.tiny_model(opcode={"deprecated": 0, "builtin": 250}), "builtin code 250"),
    ("custom_without_code", tt.tiny_model(opcode={"deprecated": 32, "builtin": 32}),
     "CUSTOM without a custom_code"),
    ("options_type", tt.tiny_model(options=("Conv2DOptions", {})),
     "ADD carries Conv2DOptions options, not AddOptions"),
    ("scale_count", tt.tiny_model(tensors=(tt.X, {**tt.C, "quant": {
        "scale": [1.0, 2.0, 3.0], "zero_point": [0, 0, 0]}}, tt.Y)),
     "3 per-channel scales along dimension 0 do not fit shape [4]"),
    ("zero_point_count", tt.tiny_model(tensors=(tt.X, {**tt.C, "quant": {
        "scale": [1.0], "zero_point": [0, 0]}}, tt.Y)), "1 scales but 2 zero points"),
    ("signature_rank", tt.tiny_model(tensors=({**tt.X, "signature": [-1]}, tt.C, tt.Y)),
     "shape_signature [-1] does not fit shape [1, 4]"),
    ("unknown_const_dim", tt.tiny_model(tensors=(tt.X, {**tt.C, "signature": [-1]}, tt.Y)),
     "constant tensor must have a fully known shape"),
    ("aliasing", _aliased_names(), "aliasing"),
]


@pytest.mark.parametrize("data,fragment", [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_fault_is_one_line_error(data, fragment):
    start = time.perf_counter()
    with pytest.raises(InvalidModelError) as info:
        read_model(data, "model.tflite")
    message = str(info.value)
    assert message.startswith("model.tflite: ") and "\n" not in message
    assert fragment in message
    assert info.value.__cause__ is None, "a named check, not the catch-all"
    assert time.perf_counter() - start < 1.0


def test_a_zero_element_constant_reads_back_as_a_constant():
    """An empty constant (a reduction over no axes) is stored as a buffer with no bytes, as an
    activation is: read back, it is a constant again, and LiteRT and our interpreter agree."""
    from tests.support.irgraph import build
    from toco_py.interpreter import Interpreter
    from toco_py.tflite.writer import model_view

    g = build({"x": (2, 3)}, {"axes": np.zeros(0, np.int32)},
              [("SUM", ["x", "axes"], ["y"], {"keep_dims": False})], ["y"])
    model = bytes(model_view(g))
    back = read_model(model).main
    assert back.tensors["axes"].data is not None and back.tensors["axes"].data.shape == (0,)
    assert back.tensors["y"].data is None and back.tensors["x"].data is None
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(Interpreter(back).run({"x": x})["y"], run_litert(model, {"x": x})["y"])
