"""Clustered weights (few distinct values per tensor or per output channel) stored packed:
the look-up-table encoding (toco_py/lut.py), the C bundle's kernels that decode the indices
as they read them (bit-exact with the interpreter, under ASan/UBSan, smaller in flash), and
--tflm_compression's TFLM look-up-table tensors (read back by the schema and decoded to the
weights, run by TensorFlow Lite Micro itself, refused by LiteRT)."""
from __future__ import annotations

import zlib

import numpy as np
import pytest
import tensorflow as tf
import tflite
from tflite_micro.python.tflite_micro import runtime as tflm_runtime

from tests.support.cli import toco
from tests.support.codegen_check import check_bundle, one_op, roundtrip
from tests.support.kernel_check import int8_graph, quant, window
from tests.support.networks import Network
from tests.support.oracle import litert
from tests.support.quant_models import calibration_file
from toco_py import api, lut
from toco_py.codegen.emitter import generate
from toco_py.interpreter import Interpreter
from toco_py.quantize.driver import QuantizeOptions
from toco_py.tensor_io import random_inputs
from toco_py.tflite import tflm_compression
from toco_py.tflite.reader import InvalidModelError, read_model
from toco_py.tflite.writer import model_view

SANITIZERS = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
v1 = tf.compat.v1


@pytest.fixture
def rng(request):
    """The data a test draws comes from its own seed, whatever ran before it (-k, -n)."""
    return np.random.default_rng(zlib.crc32(request.node.name.encode()))


def clustered(rng, shape, values: int, axis: int | None, dtype="int8") -> np.ndarray:
    """Random weights taking at most `values` distinct values per tensor (axis None) or per
    slice along axis; integers in [-127, 127] for int8, floats otherwise."""
    def centroids():
        if dtype == "int8":
            return rng.choice(np.arange(-127, 128), values, replace=False).astype(np.int8)
        return rng.normal(0, 0.3, values).astype(dtype)
    if axis is None:
        return rng.choice(centroids(), shape)
    moved = (shape[axis],) + tuple(d for i, d in enumerate(shape) if i != axis)
    slices = np.stack([rng.choice(centroids(), moved[1:]) for _ in range(moved[0])])
    return np.moveaxis(slices, 0, axis)


# ---- the encoding --------------------------------------------------------------------------

def test_bit_order_is_tflm_documented_example():
    # TFLM's compression.md: indices 7, 0, 3, 2 at 3 bits are the bit string 1110000110100000.
    packed = lut.pack_indices(np.array([7, 0, 3, 2]), 3)
    assert packed.tolist() == [0b11100001, 0b10100000]
    assert lut.unpack_indices(packed, 3, 4).tolist() == [7, 0, 3, 2]


@pytest.mark.parametrize("shape, values, axis, bits", [
    ((5, 3, 3, 2), 4, 0, 2), ((1, 3, 3, 6), 16, 3, 4), ((7, 9), 3, None, 2), ((4, 33), 200, 0, 8)])
def test_encode_decode_round_trip(rng, shape, values, axis, bits):
    data = clustered(rng, shape, values, axis)
    encoded = lut.encode(data, axis, bits)
    assert encoded.indices.nbytes == -(-data.size * bits // 8)
    np.testing.assert_array_equal(lut.decode(encoded, shape), data)


def test_smallest_packs_only_what_saves_bytes(rng):
    # 16 values per output channel but about 64 per tensor: per-channel 4-bit tables.
    data = clustered(rng, (6, 40), 16, 0)
    best = lut.smallest(data, (None, 0), (2, 4, 8))
    assert (best.bits, best.axis) == (4, 0) and best.nbytes < data.nbytes
    # int8 weights of more than 16 values: 8-bit indices plus tables never save anything.
    assert lut.smallest(clustered(rng, (6, 40), 40, None), (None, 0), (2, 4, 8)) is None
    # float32 weights of 200 values: 8-bit indices save about three quarters.
    floats = clustered(rng, (64, 64), 200, None, "float32")
    best = lut.smallest(floats, (None, 0), (2, 4, 8))
    assert best.bits == 8 and best.nbytes < floats.nbytes / 3


# ---- one-op bundles ------------------------------------------------------------------------

def conv_graph(rng, op_type, x_shape, w_shape, attrs, values, axis):
    depthwise = op_type == "DEPTHWISE_CONV_2D"
    channels = w_shape[3] if depthwise else w_shape[0]
    scales = (10.0 ** rng.uniform(-2.5, -1.5, channels)).astype(np.float32)
    in_q = quant(0.03, -7)
    taps = int(np.prod(w_shape)) // channels
    out_q = quant(0.03 * float(np.median(scales)) * 90 * np.sqrt(taps), 5)
    w_q = quant(scales, np.zeros(channels, np.int64), 3 if depthwise else 0)
    bias_q = quant(0.03 * scales, np.zeros(channels, np.int64))
    x = rng.integers(-128, 128, x_shape).astype(np.int8)
    w = clustered(rng, w_shape, values, axis)
    b = rng.integers(-20000, 20000, channels).astype(np.int32)
    if depthwise:
        attrs = dict(attrs, depth_multiplier=channels // x_shape[3])
    return roundtrip(int8_graph(op_type, [x, w, b], [in_q, w_q, bias_q], [out_q], attrs, const={1, 2}))


def fc_graph(rng, units, depth, values, axis, batches=3):
    scales = (10.0 ** rng.uniform(-2.5, -1.5, units)).astype(np.float32)
    in_q, out_q = quant(0.03, 3), quant(0.03 * float(np.median(scales)) * 90 * np.sqrt(depth), -4)
    x = rng.integers(-128, 128, (batches, depth)).astype(np.int8)
    w = clustered(rng, (units, depth), values, axis)
    b = rng.integers(-20000, 20000, units).astype(np.int32)
    return roundtrip(int8_graph("FULLY_CONNECTED", [x, w, b],
                                [in_q, quant(scales, np.zeros(units, np.int64)),
                                 quant(0.03 * scales, np.zeros(units, np.int64))], [out_q],
                                {"fused_activation_function": "RELU"}, const={1, 2}))


# (conv_graph's arguments, the kernel, the index bits)
CASES = {
    # Two blocks of 16 output channels, the last holding 4: per-channel tables of each.
    "conv_4_values_per_channel": (("CONV_2D", (1, 7, 9, 5), (20, 3, 3, 5),
                                   window("SAME", (2, 1), act="RELU6"), 4, 0), "tk_conv2d_lut_s8", 2),
    "conv_3_values_per_tensor_dilated": (("CONV_2D", (2, 8, 7, 3), (18, 2, 3, 3),
                                          window("VALID", dilation=(2, 1)), 3, None), "tk_conv2d_lut_s8", 2),
    "depthwise_16_values_per_tensor": (("DEPTHWISE_CONV_2D", (1, 6, 7, 20), (1, 3, 3, 20),
                                        window("SAME", (2, 2), act="RELU"), 16, None),
                                       "tk_depthwise_conv2d_lut_s8", 4),
    "depthwise_multiplier3_4_values": (("DEPTHWISE_CONV_2D", (1, 5, 4, 2), (1, 3, 2, 6), window("VALID"),
                                        4, 3), "tk_depthwise_conv2d_lut_s8", 2),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_convolution_bundles(case, rng, tmp_path):
    args, kernel, bits = CASES[case]
    graph = conv_graph(rng, *args)
    check_bundle(graph, tmp_path, more_seeds=(1,))
    assert f"{kernel}(" in (tmp_path / "model" / "model.c").read_text()
    assert f"{bits}-bit indices" in (tmp_path / "model" / "model_weights.c").read_text()
    assert filter_forms({"toco_kernels.h": (tmp_path / "model" / "toco_kernels.h").read_text()}) == (1, 0)


def filter_forms(files: dict[str, str]) -> tuple[int, int]:
    """toco_kernels.h's switches: (packed filters, filters without their zeros)."""
    header = files["toco_kernels.h"]
    return tuple(int(header.split(f"#define {m} ")[1][0]) for m in ("TK_LUT_FILTERS", "TK_NONZERO_FILTERS"))


UNPACKED = {
    # 40 values: 8-bit indices, which save nothing on int8 weights.
    "conv_40_values": ("CONV_2D", (1, 5, 5, 4), (4, 3, 3, 4), window("SAME"), 40, None, "tk_conv2d_s8"),
    # 16 values per channel would take 16 table bytes per 9 weights.
    "depthwise_16_values_per_channel": ("DEPTHWISE_CONV_2D", (1, 6, 7, 20), (1, 3, 3, 20),
                                        window("SAME", (2, 2), act="RELU"), 16, 3, "tk_depthwise_conv2d_s8"),
}


@pytest.mark.parametrize("case", sorted(UNPACKED))
def test_left_unpacked_when_packing_saves_nothing(case, rng):
    *args, kernel = UNPACKED[case]
    bundle = generate(conv_graph(rng, *args), "m")
    assert f"{kernel}(" in bundle.files["m.c"] and bundle.lut_bytes == (0, 0)
    # No filter is packed: the kernels' decoding of packed filters compiles away.
    assert filter_forms(bundle.files) == (0, 0)


@pytest.mark.parametrize("values, axis, bits", [(4, None, 2), (16, 0, 4)])
def test_fully_connected_bundles(values, axis, bits, rng, tmp_path):
    graph = fc_graph(rng, units=19, depth=37, values=values, axis=axis)
    check_bundle(graph, tmp_path, more_seeds=(1,))
    assert "tk_fully_connected_lut_s8(" in (tmp_path / "model" / "model.c").read_text()
    assert f"{bits}-bit indices" in (tmp_path / "model" / "model_weights.c").read_text()


def test_flash_bytes_and_summary(rng):
    """The packed form's bytes, against the kernel's unpacked copy (blocks of 16 channels)."""
    graph = fc_graph(rng, units=32, depth=64, values=4, axis=0)
    bundle = generate(graph, "m")
    packed, unpacked = bundle.lut_bytes
    # 2048 weights: 2 bits each (512 bytes) + 32 tables of 4 values (128 bytes).
    assert (packed, unpacked) == (512 + 128, 32 * 64)
    plain = generate(fc_graph(rng, units=32, depth=64, values=100, axis=None), "m")
    assert plain.lut_bytes == (0, 0)
    assert bundle.weight_bytes == plain.weight_bytes - unpacked + packed
    assert f"clustered filters stored as packed indices and value tables: {packed} bytes, " \
           f"{unpacked} unpacked" in bundle.files["README.md"]


# ---- float32 --------------------------------------------------------------------------------

FLOAT_CASES = {
    # (op, input shape, filter shape, attrs, values, table axis, kernel, index bits)
    "conv_4_values_per_channel": ("CONV_2D", (1, 6, 7, 5), (6, 3, 3, 5), window("SAME", (2, 1), act="RELU"),
                                  4, 0, "tk_conv2d_lut_f32", 2),
    "conv_200_values_per_tensor": ("CONV_2D", (1, 5, 5, 16), (24, 3, 3, 16), window("VALID"), 200, None,
                                   "tk_conv2d_lut_f32", 8),
    "depthwise_16_values_multiplier2": ("DEPTHWISE_CONV_2D", (1, 6, 5, 3), (1, 3, 3, 6),
                                        window("SAME", depth_multiplier=2), 16, None,
                                        "tk_depthwise_conv2d_lut_f32", 4),
    "fully_connected_16_values_per_unit": ("FULLY_CONNECTED", (3, 40), (12, 40),
                                           {"fused_activation_function": "NONE"}, 16, 0,
                                           "tk_fully_connected_lut_f32", 4),
}


@pytest.mark.parametrize("case", sorted(FLOAT_CASES))
def test_float_bundles(case, rng, tmp_path):
    """Float kernels sum in the dense kernels' order: checked by --verify's float policy."""
    op_type, x_shape, w_shape, attrs, values, axis, kernel, bits = FLOAT_CASES[case]
    x = rng.normal(0, 1, x_shape).astype(np.float32)
    w = clustered(rng, w_shape, values, axis, "float32")
    b = rng.normal(0, 0.1, w_shape[3] if op_type == "DEPTHWISE_CONV_2D" else w_shape[0]).astype(np.float32)
    graph = one_op(op_type, [x, w, b], attrs, const={1, 2})
    check_bundle(graph, tmp_path)
    assert f"{kernel}(" in (tmp_path / "model" / "model.c").read_text()
    assert f"{bits}-bit indices" in (tmp_path / "model" / "model_weights.c").read_text()


# ---- a network converted by toco-py ----------------------------------------------------------

def clustered_network(rng) -> Network:
    """conv -> depthwise conv -> conv 1x1 -> FC, each filter clustered to a few values."""
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [1, 12, 12, 3], name="image")
        h = tf.nn.relu6(tf.nn.conv2d(x, clustered(rng, (3, 3, 3, 8), 4, 3, "float32"), 1, "SAME")
                        + rng.normal(0, 0.1, 8).astype(np.float32))
        h = tf.nn.relu(tf.nn.depthwise_conv2d(h, clustered(rng, (3, 3, 8, 1), 4, 2, "float32"),
                                              [1, 2, 2, 1], "SAME"))
        h = tf.nn.relu(tf.nn.conv2d(h, clustered(rng, (1, 1, 8, 24), 4, None, "float32"), 1, "VALID"))
        h = tf.reshape(h, [1, 6 * 6 * 24])
        logits = tf.matmul(h, clustered(rng, (6 * 6 * 24, 10), 16, 1, "float32"))
        tf.nn.softmax(logits, name="probs")
    return Network("clustered", graph.as_graph_def().SerializeToString(),
                   {"image": ((1, 12, 12, 3), "float32")}, ["probs"])


def test_int8_network_packed_bit_exact_under_sanitizers(rng, tmp_path):
    model = int8_model(clustered_network(rng), tmp_path)
    graph = read_model(model).main
    # The interpreter is LiteRT's reference kernels' twin on this model too.
    feeds = random_inputs(graph, 0)
    names = list(graph.tensors)
    lite = litert(model, reference=True)
    for name, value in feeds.items():
        lite.set_tensor(names.index(name), value)
    lite.invoke()
    ours = Interpreter(graph).run(feeds)
    for name in graph.outputs:
        np.testing.assert_array_equal(ours[name], lite.get_tensor(names.index(name)))

    check_bundle(graph, tmp_path, opt="-O1 -g", extra_cflags=SANITIZERS, feeds=feeds, more_seeds=(1,))
    code = (tmp_path / "model" / "model.c").read_text()
    assert code.count("tk_conv2d_lut_s8(") == 2
    assert code.count("tk_depthwise_conv2d_lut_s8(") == 1
    assert code.count("tk_fully_connected_lut_s8(") == 1
    bundle = generate(graph, "m")
    packed, unpacked = bundle.lut_bytes
    # Per-channel int8 quantization keeps at most K values per channel: 2- and 4-bit
    # indices, under a third of the unpacked bytes with the tables.
    assert packed < unpacked / 3, (packed, unpacked)


def test_float_network_packed(rng, tmp_path):
    net = clustered_network(rng)
    graph = read_model(api.convert_bytes(net.pb, input_arrays=list(net.inputs),
                                         output_arrays=net.outputs).model).main
    check_bundle(graph, tmp_path, opt="-O1 -g", extra_cflags=SANITIZERS, more_seeds=(1,))
    code = (tmp_path / "model" / "model.c").read_text()
    assert code.count("_lut_f32(") == 4
    packed, unpacked = generate(graph, "m").lut_bytes
    assert packed < unpacked / 6, (packed, unpacked)


# ---- TFLM's compression metadata (--tflm_compression) ------------------------------------------

def int8_model(net: Network, tmp_path, **kwargs) -> bytes:
    options = QuantizeOptions("int8", calibration_data=calibration_file(net, tmp_path, count=8))
    return api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs,
                             quantize=options, **kwargs).model


def tflm_luts(model: bytes) -> tuple[tflite.Model, list]:
    """The file's LutTensors, found through the schema's own reader (package tflite)."""
    m = tflite.Model.GetRootAsModel(model, 0)
    entries = [m.Metadata(i) for i in range(m.MetadataLength())]
    assert [e.Name() for e in entries] == [b"COMPRESSION_METADATA"]
    version, subgraphs = tflm_compression.read_metadata(m.Buffers(entries[0].Buffer()).DataAsNumpy().tobytes())
    assert version == 1 and len(subgraphs) == 1
    return m, subgraphs[0]


def test_tflm_metadata_decodes_to_the_weights(rng, tmp_path):
    net = clustered_network(rng)
    dense, compressed = int8_model(net, tmp_path), int8_model(net, tmp_path, tflm_compression=True)
    m, luts = tflm_luts(compressed)
    weights = read_model(dense).main
    names = list(weights.tensors)
    sub = m.Subgraphs(0)
    assert sorted(names[e.tensor] for e in luts) == sorted(
        op.inputs[1] for op in weights.ops if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"))
    for e in luts:
        t = sub.Tensors(e.tensor)
        want = np.asarray(weights.tensors[names[e.tensor]].data)
        scales = t.Quantization().ScaleAsNumpy()
        axis = t.Quantization().QuantizedDimension()
        assert scales.size == want.shape[axis] > 1  # per channel: one table per channel
        # Decoded here as docs/compression.md describes, independently of toco_py/lut.py.
        bits = np.unpackbits(m.Buffers(t.Buffer()).DataAsNumpy())[:want.size * e.index_bitwidth]
        indices = bits.reshape(-1, e.index_bitwidth) @ (1 << np.arange(e.index_bitwidth)[::-1])
        tables = m.Buffers(e.value_buffer).DataAsNumpy()
        tables = tables.view(np.int8).reshape(scales.size, -1)
        channel = np.indices(want.shape)[axis].ravel()
        np.testing.assert_array_equal(tables[channel, indices].reshape(want.shape), want)
        # The fewest bits that index the largest table.
        assert e.index_bitwidth == max(1, int(np.max([np.unique(s).size for s in np.moveaxis(want, axis, 0)]) - 1)
                                       .bit_length())
    assert len(compressed) < len(dense) - 2000, (len(compressed), len(dense))
    # Our reader decodes the tables: the same weights, the same outputs.
    again = read_model(compressed).main
    for name in names:
        if weights.tensors[name].data is not None:
            np.testing.assert_array_equal(again.tensors[name].data, weights.tensors[name].data)
    # LiteRT does not read TFLM's metadata: it refuses the short buffers of the compressed
    # tensors rather than run on them.
    with pytest.raises(ValueError, match="required_bytes <= bytes"):
        litert(compressed, reference=True)


def tflm_outputs(model: bytes, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """TensorFlow Lite Micro's output (its Python runtime, built with USE_TFLM_COMPRESSION)."""
    interpreter = tflm_runtime.Interpreter.from_bytes(model)
    for i, value in enumerate(feeds.values()):
        interpreter.set_input(value, i)
    interpreter.invoke()
    return interpreter.get_output(0)


def test_tflm_runs_compressed_models(rng, tmp_path):
    """TFLM itself decompresses our files: its outputs on the compressed model are its
    outputs on the dense one, bit for bit, and our interpreter's; a changed value table
    changes them (so it does read the tables)."""
    net = clustered_network(rng)
    float_model = api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs)
    cases = {"int8": (int8_model(net, tmp_path), int8_model(net, tmp_path, tflm_compression=True)),
             "float32": (float_model.model, bytes(model_view(float_model.graph, tflm_compression=True)))}
    for kind, (dense, compressed) in cases.items():
        graph = read_model(dense).main
        feeds = random_inputs(graph, 0)
        want = tflm_outputs(dense, feeds)
        np.testing.assert_array_equal(tflm_outputs(compressed, feeds), want)
        if kind == "int8":  # integer kernels: TFLM's and ours agree exactly (float ones need not)
            np.testing.assert_array_equal(Interpreter(graph).run(feeds)[graph.outputs[0]], want)
    m, luts = tflm_luts(compressed)  # the float model's: change one value of its first table
    data = m.Buffers(luts[0].value_buffer)._tab
    start = data.Vector(data.Offset(4))
    changed = bytearray(compressed)
    changed[start:start + 4] = np.float32([9.0]).tobytes()
    assert not np.array_equal(tflm_outputs(bytes(changed), feeds), want)


def test_tflm_float_model_tables_per_tensor(rng, tmp_path):
    net = clustered_network(rng)
    model = api.convert_bytes(net.pb, input_arrays=list(net.inputs), output_arrays=net.outputs,
                              tflm_compression=True)
    m, luts = tflm_luts(model.model)
    graph = model.graph
    names = list(read_model(model.model).main.tensors)
    # Float filters have no channels for TFLM: one table each; the FC's 10 units of 16
    # values need more than 7 bits and stay dense.
    compressed = {names[e.tensor]: e for e in luts}
    fc = next(op.inputs[1] for op in graph.ops if op.type == "FULLY_CONNECTED")
    assert fc not in compressed and len(compressed) == 3
    for name, e in compressed.items():
        want = np.asarray(graph.tensors[name].data)
        values = np.unique(want)
        assert m.Buffers(e.value_buffer).DataAsNumpy().view(np.float32).tolist() == values.tolist()
        assert e.index_bitwidth == max(1, (values.size - 1).bit_length())
    assert "3 filters as TFLM look-up-table tensors" in model.notes[-1]
    # `quantize` takes it too: the int8 filters keep K values per channel, all four packed.
    float_file, out = tmp_path / "float.tflite", tmp_path / "int8.tflite"
    float_file.write_bytes(bytes(model_view(graph)))  # the dense float model
    options = QuantizeOptions("int8", calibration_data=calibration_file(net, tmp_path, count=8))
    result = api.quantize_tflite(str(float_file), str(out), options, tflm_compression=True)
    assert "4 filters as TFLM look-up-table tensors" in result.notes[-1]
    assert len(tflm_luts(out.read_bytes())[1]) == 4


def test_malformed_tflm_metadata_is_one_line_error(rng, tmp_path):
    model = int8_model(clustered_network(rng), tmp_path, tflm_compression=True)
    m, luts = tflm_luts(model)
    meta = m.Buffers(m.Metadata(0).Buffer()).DataAsNumpy().tobytes()
    assert model.count(meta) == 1
    bad = [tflm_compression.LutEntry(e.tensor, e.value_buffer, 9 if i == 0 else e.index_bitwidth)
           for i, e in enumerate(luts)]
    with pytest.raises(InvalidModelError, match="index_bitwidth 9, not 1 to 7"):
        read_model(model.replace(meta, tflm_compression.metadata_bytes([bad])))
    # A value buffer of the wrong size: another tensor's table.
    swapped = [tflm_compression.LutEntry(e.tensor, luts[-1 - i].value_buffer, e.index_bitwidth)
               for i, e in enumerate(luts)]
    with pytest.raises(InvalidModelError, match="value table"):
        read_model(model.replace(meta, tflm_compression.metadata_bytes([swapped])))
    # Random corruption of the metadata: an InvalidModelError or a model, nothing else.
    start = model.index(meta)
    for _ in range(300):
        corrupt = bytearray(model)
        at = start + int(rng.integers(len(meta)))
        corrupt[at] = int(rng.integers(256))
        try:
            read_model(bytes(corrupt))
        except InvalidModelError as err:
            assert "\n" not in str(err)


def test_cli_tflm_compression(rng, tmp_path):
    net = clustered_network(rng)
    pb, out = tmp_path / "m.pb", tmp_path / "m.tflite"
    pb.write_bytes(net.pb)
    proc = toco("convert", "--graph_def_file", str(pb), "--output_file", str(out), "--tflm_compression")
    assert proc.returncode == 0, proc.stderr
    assert "3 filters as TFLM look-up-table tensors" in proc.stderr
    assert tflm_luts(out.read_bytes())[1]
