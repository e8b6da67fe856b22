"""Sparse .tflite tensors (TFLite's SparsityParameters, the DENSIFY op): models written sparse
by our writer in every form of the format run in LiteRT as in our interpreter; TensorFlow's
converter's sparse models read, run, inspect and write back byte for byte; malformed
parameters are one-line errors."""
from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
import tflite as fb

from tests.support.cli import assert_one_line_error, toco
from tests.support.irgraph import types
from tests.support.kernel_check import int8_graph, one_op_graph, quant, window
from tests.support.oracle import litert
from tests.support.policy import end_to_end_failures, litert_by_name
from toco_py.interpreter import Interpreter
from toco_py.ir import Op, Tensor
from toco_py.passes.densify import absorb_densify, insert_densify
from toco_py.quantize.float16 import quantize_float16
from toco_py.tensor_io import random_inputs
from toco_py.tflite import sparsity as sp
from toco_py.tflite import writer
from toco_py.tflite.reader import InvalidModelError, read_model
from toco_py.tflite.sparsity import INDEX_TYPES, SparseFormat, tf_format
from toco_py.tflite.writer import model_bytes

FC = {"fused_activation_function": "NONE", "keep_num_dims": False}
# LiteRT's float kernels, as apps get them (XNNPACK) and without delegates, and the
# reference kernels: DENSIFY and FULLY_CONNECTED's sparse paths differ between them.
FLOAT_KINDS = ("builtin", "reference", "default")


def _pruned(rng, shape, fmt: SparseFormat, keep=0.4, dtype=np.float32) -> np.ndarray:
    """Random values with whole blocks of `fmt` zeroed (and single zeros among the rest)."""
    blocked = list(shape)
    for m, b in zip(fmt.block_map, fmt.block_size):
        blocked[m] //= b
    mask = rng.random(blocked) < keep
    for m, b in zip(fmt.block_map, fmt.block_size):
        mask = np.repeat(mask, b, axis=m)
    mask &= rng.random(shape) < 0.9
    if np.issubdtype(dtype, np.integer):
        values = rng.integers(-127, 128, shape)
    else:
        values = rng.standard_normal(shape)
    return (values * mask).astype(dtype)


def _densified(g, name: str) -> None:
    """Constant `name` stored sparse (its Tensor.sparsity set) behind a DENSIFY."""
    t = g.tensors[name]
    g.add_tensor(Tensor(f"{name}/sparse", t.shape, t.dtype, t.data, t.quant, sparsity=t.sparsity))
    t.data, t.sparsity = None, None
    g.add_op(Op("DENSIFY", [f"{name}/sparse"], [name], {}, "densify"), before=g.ops[0])


def _stored(model: bytes) -> dict[str, SparseFormat]:
    """The layouts of the sparse constants a file holds, by tensor name."""
    graph = read_model(model).main
    return {n: t.sparsity for n, t in graph.tensors.items() if t.sparsity is not None}


def _float_model(op_type, x_shape, w, attrs, fmt, rng, densify=True) -> bytes:
    g = one_op_graph(op_type, [np.zeros(x_shape, np.float32), w,
                               rng.standard_normal(w.shape[0 if op_type != "DEPTHWISE_CONV_2D" else 3])
                               .astype(np.float32)], attrs, const={1, 2})
    g.tensors["in1"].sparsity = fmt
    if densify:
        _densified(g, "in1")
    model = model_bytes(g)
    # The file holds the weights sparse, in the layout asked for.
    (stored,) = _stored(model).values()
    assert stored == sp.sparsify(w, fmt)[1].format
    return model


# ---- every form of the format, float32 -----------------------------------------------------

# A FULLY_CONNECTED weight [8 outputs, 32 inputs] in each form the schema allows (index types
# None: the smallest that fits, uint8 here).
FC_FORMATS = {
    "tf": tf_format(2),
    "tf_1x4": tf_format(2, (1, 4)),
    "tf_1x16": tf_format(2, (1, 16)),
    "columns_first_int32": SparseFormat((1, 0), (), (), (True, True), (("int32", "int32"),) * 2),
    "sparse_rows_uint16": SparseFormat((0, 1), (), (), (True, False), (("uint16", "uint16"), None)),
    "all_dense": SparseFormat((0, 1), (), (), (False, False)),
    "blocks_2x4_swapped": SparseFormat((0, 1, 3, 2), (0, 1), (2, 4), (False, True, False, False)),
    "blocks_2x4_sparse_rows": SparseFormat((1, 0, 2, 3), (0, 1), (2, 4), (True, True, False, False),
                                           (("uint16", "uint8"), ("int32", "uint16"), None, None)),
}


@pytest.mark.parametrize("name", list(FC_FORMATS))
def test_fully_connected_behind_densify(name):
    rng = np.random.default_rng(1)
    fmt = FC_FORMATS[name]
    w = _pruned(rng, (8, 32), fmt)
    model = _float_model("FULLY_CONNECTED", (2, 32), w, FC, fmt, rng)
    assert not end_to_end_failures(model, seeds=range(2), kinds=FLOAT_KINDS)


@pytest.mark.parametrize("name", ["tf", "tf_1x4"])
def test_fully_connected_reads_sparse_weights(name):
    """LiteRT's float FULLY_CONNECTED takes unblocked and 1x4 weights with no DENSIFY."""
    rng = np.random.default_rng(2)
    fmt = FC_FORMATS[name]
    w = _pruned(rng, (8, 32), fmt)
    model = _float_model("FULLY_CONNECTED", (3, 32), w, FC, fmt, rng, densify=False)
    graph = read_model(model).main
    assert types(graph) == ["FULLY_CONNECTED"]
    assert read_model(model).op_versions[0] == [8]  # op_version.cc: sparse weights
    assert not end_to_end_failures(model, seeds=range(2), kinds=FLOAT_KINDS)


CONV_FORMATS = {
    "tf": tf_format(4),
    "outputs_and_inputs_sparse": SparseFormat((3, 0, 1, 2, 4), (3,), (2,),
                                              (True, False, True, False, False),
                                              (("uint16", "int32"), None, None, None, None)),
}


@pytest.mark.parametrize("name", list(CONV_FORMATS))
def test_conv_behind_densify(name):
    rng = np.random.default_rng(3)
    fmt = CONV_FORMATS[name]
    w = _pruned(rng, (8, 3, 3, 4), fmt)
    model = _float_model("CONV_2D", (1, 6, 6, 4), w, window("SAME"), fmt, rng)
    assert not end_to_end_failures(model, seeds=range(2), kinds=FLOAT_KINDS)


def test_depthwise_behind_densify():
    rng = np.random.default_rng(4)
    fmt = tf_format(4, (1, 1, 1, 4))
    w = _pruned(rng, (1, 3, 3, 8), fmt)
    model = _float_model("DEPTHWISE_CONV_2D", (1, 5, 5, 8), w, window("SAME", depth_multiplier=1),
                         fmt, rng)
    assert not end_to_end_failures(model, seeds=range(2), kinds=FLOAT_KINDS)


def test_float16_weights_behind_densify():
    """float16 quantization of a sparse weight: DENSIFY (float16) then DEQUANTIZE, the layout
    TensorFlow's converter writes."""
    rng = np.random.default_rng(5)
    fmt = tf_format(4)
    w = _pruned(rng, (8, 3, 3, 4), fmt)
    g = one_op_graph("CONV_2D", [np.zeros((1, 6, 6, 4), np.float32), w, np.zeros(8, np.float32)],
                     window("SAME"), const={1, 2})
    g.tensors["in1"].sparsity = fmt
    quantize_float16(g)
    assert insert_densify(g) == 1
    model = model_bytes(g)
    assert types(read_model(model).main) == ["DENSIFY", "DEQUANTIZE", "DEQUANTIZE", "CONV_2D"]
    assert [t.dtype for t in read_model(model).main.tensors.values() if t.sparsity] == ["float16"]
    assert not end_to_end_failures(model, seeds=range(2), kinds=FLOAT_KINDS)


# ---- int8: bit-exact with LiteRT's reference kernels ----------------------------------------

def _int8_exact(g) -> None:
    model = model_bytes(g)
    graph = read_model(model).main
    for seed in range(2):
        feeds = random_inputs(graph, seed)
        ours = Interpreter(graph).run(feeds)
        theirs = litert_by_name(model, graph, feeds, "reference")
        for name in graph.outputs:
            np.testing.assert_array_equal(ours[name], theirs[name])


def test_int8_conv_and_depthwise_behind_densify():
    rng = np.random.default_rng(6)
    for op_type, w_shape, attrs, axis in (
            ("CONV_2D", (8, 3, 3, 4), window("SAME"), 0),
            ("DEPTHWISE_CONV_2D", (1, 3, 3, 4), window("SAME", depth_multiplier=1), 3)):
        fmt = tf_format(4)
        w = _pruned(rng, w_shape, fmt, dtype=np.int8)
        channels = w_shape[axis]
        g = int8_graph(op_type, [rng.integers(-128, 128, (1, 5, 5, 4)).astype(np.int8), w,
                                 rng.integers(-500, 500, channels).astype(np.int32)],
                       [quant(0.05, 3), quant(rng.uniform(0.01, 0.02, channels), [0] * channels, axis),
                        quant(0.05 * 0.015, 0)], [quant(0.2, -4)], attrs, const={1, 2})
        g.tensors["in1"].sparsity = fmt
        assert insert_densify(g) == 1
        _int8_exact(g)


def test_int8_fully_connected_sparse_1x16_and_behind_densify():
    """LiteRT's int8 FULLY_CONNECTED reads 1x16 blocks itself (its optimized sparse kernel,
    even among the reference kernels); any other layout goes through an int8 DENSIFY."""
    rng = np.random.default_rng(7)
    for fmt, direct in ((tf_format(2, (1, 16)), True), (tf_format(2, (1, 4)), False),
                        (FC_FORMATS["columns_first_int32"], False)):
        w = _pruned(rng, (8, 32), fmt, dtype=np.int8)
        g = int8_graph("FULLY_CONNECTED", [rng.integers(-128, 128, (2, 32)).astype(np.int8), w,
                                           rng.integers(-900, 900, 8).astype(np.int32)],
                       [quant(0.05, -2), quant(0.01, 0), quant(0.0005, 0)], [quant(0.3, 5)],
                       FC, const={1, 2})
        g.tensors["in1"].sparsity = fmt
        assert insert_densify(g) == (0 if direct else 1)
        _int8_exact(g)


@pytest.mark.parametrize("asymmetric", [False, True])
def test_hybrid_fully_connected_reads_sparse_1x16(asymmetric):
    """Float activations, int8 weights in 1x16 blocks: LiteRT's sparse hybrid kernel (its
    ledger of blocks), within the float policy."""
    rng = np.random.default_rng(16)
    fmt = tf_format(2, (1, 16))
    w = _pruned(rng, (8, 32), fmt, dtype=np.int8)
    g = one_op_graph("FULLY_CONNECTED", [np.zeros((2, 32), np.float32), w,
                                         rng.standard_normal(8).astype(np.float32)],
                     {**FC, "asymmetric_quantize_inputs": asymmetric}, const={1, 2})
    g.tensors["in1"].quant = quant(rng.uniform(0.01, 0.02, 8), [0] * 8, 0)
    g.tensors["in1"].sparsity = fmt
    assert insert_densify(g) == 0
    assert not end_to_end_failures(model_bytes(g), seeds=range(2), kinds=("builtin", "reference"))


# ---- the format itself --------------------------------------------------------------------

def test_index_types_smallest_that_fits_or_as_asked():
    rng = np.random.default_rng(8)
    wide = _pruned(rng, (2, 300), tf_format(2), keep=0.9)
    _, stored = sp.encode_like_tf(wide)
    # Indices up to 299 need uint16; 2 rows of up to 300 values: segments need uint16.
    assert (stored.levels[1].segments_type, stored.levels[1].indices_type) == ("uint16", "uint16")
    narrow = _pruned(rng, (2, 16), tf_format(2))
    _, stored = sp.encode_like_tf(narrow)
    assert (stored.levels[1].segments_type, stored.levels[1].indices_type) == ("uint8", "uint8")
    # Asked types are kept when wide enough, widened when not.
    asked = dataclasses.replace(tf_format(2), index_types=(None, ("int32", "uint8")))
    _, stored = sp.sparsify(wide, asked)
    assert (stored.levels[1].segments_type, stored.levels[1].indices_type) == ("int32", "uint16")
    assert sp.stored_bytes(wide, asked) == (np.count_nonzero(wide) * 4 + 3 * 4
                                            + np.count_nonzero(wide) * 2)


def test_every_layout_round_trips_through_densify():
    """sparsify then densify gives the tensor back, for every traversal order, level format
    and block of a 3-D tensor (numpy only; LiteRT checks a selection above)."""
    import itertools

    rng = np.random.default_rng(9)
    shape = (2, 4, 8)
    dense = rng.standard_normal(shape).astype(np.float32) * (rng.random(shape) < 0.3)
    count = 0
    for order in itertools.permutations(range(3)):
        for formats in itertools.product((False, True), repeat=3):
            for block_map, block_size in (((), ()), ((2,), (4,)), ((1, 2), (2, 4))):
                k = len(block_map)
                for block_order in itertools.permutations(range(3, 3 + k)):
                    fmt = SparseFormat(order + block_order, block_map, block_size,
                                       formats + (False,) * k)
                    values, stored = sp.sparsify(dense, fmt)
                    sp.check(stored, shape, values.size, "t")
                    np.testing.assert_array_equal(sp.densify(values, stored, shape), dense)
                    count += 1
    assert count == 6 * 8 * (1 + 1 + 2)


# ---- TensorFlow's converter ---------------------------------------------------------------

def _raw_sparse(model: bytes) -> dict[str, tuple[bytes, list]]:
    """Per sparse tensor of the file: its buffer and each level as the file stores it."""
    m = fb.Model.GetRootAs(model, 0)
    sg = m.Subgraphs(0)
    out = {}
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        s = t.Sparsity()
        if s is None:
            continue
        levels = []
        for j in range(s.DimMetadataLength()):
            d = s.DimMetadata(j)
            level = [d.Format(), d.DenseSize()]
            for kind, table in ((d.ArraySegmentsType(), d.ArraySegments()),
                                (d.ArrayIndicesType(), d.ArrayIndices())):
                if table is not None:
                    vector = [fb.Int32Vector, fb.Uint16Vector, fb.Uint8Vector][kind - 1]()
                    vector.Init(table.Bytes, table.Pos)
                    level += [kind, vector.ValuesAsNumpy().tolist()]
            levels.append(level)
        out[t.Name().decode()] = (m.Buffers(t.Buffer()).DataAsNumpy().tobytes(),
                                  s.TraversalOrderAsNumpy().tolist(), levels)
    return out


@pytest.fixture(scope="module")
def tf_sparse_model():
    """A Keras CNN pruned in numpy (conv weights 60% random zeros, the first dense layer's in
    1x4 blocks, 70% of them), converted with EXPERIMENTAL_SPARSITY."""
    import tensorflow as tf

    rng = np.random.default_rng(10)
    inp = tf.keras.Input((6, 6, 3), batch_size=1)
    x = tf.keras.layers.Conv2D(8, 3, activation="relu")(inp)
    x = tf.keras.layers.Reshape((128,))(x)
    x = tf.keras.layers.Dense(16, activation="relu")(x)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(4)(x))
    conv, dense, _ = [layer for layer in model.layers if layer.get_weights()]
    k, b = conv.get_weights()
    conv.set_weights([k * (rng.random(k.shape) > 0.6), b])
    k, b = dense.get_weights()  # Keras (in, out); TFLite's weights are (out, in)
    blocks = np.repeat(rng.random((16, 32)) > 0.7, 4, axis=1).T
    dense.set_weights([k * blocks, b])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    return converter.convert()


def test_tf_converter_sparse_model(tf_sparse_model, tmp_path):
    model = tf_sparse_model
    graph = read_model(model).main
    stored = _stored(model)
    raw = _raw_sparse(model)
    assert len(stored) == 2 and set(stored) == set(raw)
    assert types(graph).count("DENSIFY") == 1  # the conv's; the 1x4 FC reads its own
    blocks = {}
    for name, fmt in stored.items():
        block = (1, 4) if fmt.block_map else None
        blocks[name] = block
        # encode_like_tf writes exactly what TensorFlow's converter wrote.
        values, ours = sp.encode_like_tf(graph.tensors[name].data, block)
        buffer, order, levels = raw[name]
        assert values.tobytes() == buffer and list(ours.traversal_order) == order
        for level, (fmt_code, dense_size, *arrays) in zip(ours.levels, levels):
            assert level.sparse == (fmt_code == 1) and level.dense_size == dense_size
            if level.sparse:
                assert arrays == [INDEX_TYPES.index(level.segments_type) + 1, level.segments.tolist(),
                                  INDEX_TYPES.index(level.indices_type) + 1, level.indices.tolist()]
    assert sorted(blocks.values(), key=str) == [(1, 4), None]
    assert not end_to_end_failures(model, seeds=range(2), kinds=FLOAT_KINDS)
    # Written back: every sparse tensor byte for byte, and LiteRT runs it alike.
    back = model_bytes(graph)
    assert _raw_sparse(back) == raw
    assert not end_to_end_failures(back, seeds=range(2), kinds=("builtin",))
    # inspect reports each one and the totals, from the file's own sizes.
    path = tmp_path / "sparse.tflite"
    path.write_bytes(model)
    result = toco("inspect", str(path), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["sparsity"]
    assert summary["sparse_tensors"] == 2
    for entry in summary["tensors"]:
        buffer, _, levels = raw[entry["name"]]
        index_bytes = sum(len(values) * {1: 4, 2: 2, 3: 1}[kind]
                          for level in levels for kind, values in zip(level[2::2], level[3::2]))
        assert entry["stored_bytes"] == len(buffer) + index_bytes
        assert entry["dense_bytes"] == graph.tensors[entry["name"]].data.nbytes
    assert summary["saved_bytes"] == summary["dense_bytes"] - summary["stored_bytes"] > 0
    text = toco("inspect", str(path))
    assert "sparse constants: 2" in text.stdout and "blocks of 4 on dimension 1" in text.stdout


def test_quantize_keeps_sparse_storage(tf_sparse_model, tmp_path):
    """toco-py quantize on a sparse float model: the quantizers see the weights as constants
    (DENSIFY absorbed), and the result stores them sparse again, behind an int8 DENSIFY where
    LiteRT's kernel does not read the layout; bit-exact with LiteRT's reference kernels."""
    src = tmp_path / "sparse.tflite"
    src.write_bytes(tf_sparse_model)
    calibration = tmp_path / "x.npy"
    np.save(calibration, np.random.default_rng(11).standard_normal((4, 1, 6, 6, 3)).astype(np.float32))
    out = tmp_path / "int8.tflite"
    result = toco("quantize", str(src), str(out), "--quantize", "int8", "--calibration-data",
                  str(calibration))
    assert result.returncode == 0, result.stderr
    model = out.read_bytes()
    graph = read_model(model).main
    stored = _stored(model)
    assert len(stored) == 2 and {graph.tensors[n].dtype for n in stored} == {"int8"}
    # int8 FULLY_CONNECTED reads only 1x16 blocks: both weights go through a DENSIFY now.
    assert types(graph).count("DENSIFY") == 2
    _int8_exact_file(model)


def _int8_exact_file(model: bytes) -> None:
    graph = read_model(model).main
    feeds = random_inputs(graph, 0)
    ours = Interpreter(graph).run(feeds)
    theirs = litert_by_name(model, graph, feeds, "reference")
    for name in graph.outputs:
        np.testing.assert_array_equal(ours[name], theirs[name])


# ---- passes and codegen --------------------------------------------------------------------

def test_densify_is_never_folded_and_absorbs_back():
    from toco_py.passes.fold_constants import fold_constants

    rng = np.random.default_rng(12)
    w = _pruned(rng, (4, 8), tf_format(2))
    g = one_op_graph("FULLY_CONNECTED", [np.zeros((1, 8), np.float32), w, None], FC, const={1})
    g.tensors["in1"].sparsity = FC_FORMATS["columns_first_int32"]
    _densified(g, "in1")
    assert not any(fold_constants(g, op) for op in list(g.ops))
    assert types(g) == ["DENSIFY", "FULLY_CONNECTED"]
    assert absorb_densify(g) == 1 and types(g) == ["FULLY_CONNECTED"]
    assert g.tensors["in1"].sparsity == FC_FORMATS["columns_first_int32"]
    assert insert_densify(g) == 1 and types(g) == ["DENSIFY", "FULLY_CONNECTED"]


def test_codegen_stores_densified_weights_dense(tmp_path):
    """No C kernel reads the sparse format: the bundle holds the weights dense, and computes
    what the interpreter does (--verify builds and runs it)."""
    rng = np.random.default_rng(13)
    fmt = tf_format(4)
    w = _pruned(rng, (4, 3, 3, 2), fmt)
    model = _float_model("CONV_2D", (1, 5, 5, 2), w, window("SAME"), fmt, rng)
    path = tmp_path / "sparse.tflite"
    path.write_bytes(model)
    assert toco("check", str(path), "--target", "codegen").returncode == 0
    result = toco("codegen", str(path), "-o", str(tmp_path / "bundle"), "--verify")
    assert result.returncode == 0, result.stderr  # built, run, and within the float policy
    assert "DENSIFY" not in (tmp_path / "bundle" / "sparse.c").read_text()


def test_writer_refuses_sparse_weights_an_op_cannot_read():
    rng = np.random.default_rng(14)
    w = _pruned(rng, (4, 3, 3, 2), tf_format(4))
    g = one_op_graph("CONV_2D", [np.zeros((1, 5, 5, 2), np.float32), w, None], window("SAME"),
                     const={1})
    g.tensors["in1"].sparsity = tf_format(4)
    from toco_py.errors import InternalError

    with pytest.raises(InternalError, match="stored sparse"):
        model_bytes(g)


# ---- malformed parameters ------------------------------------------------------------------

def _level(stored, k, **changes):
    levels = list(stored.levels)
    levels[k] = dataclasses.replace(levels[k], **changes)
    return dataclasses.replace(stored, levels=tuple(levels))


def _arr(*values):
    return np.array(values, np.int64)


# Each: (how the parameters of a [4, 8] weight in tf_format(2, (1, 4)) are broken, what the
# message says). The weight: rows 0 and 2 hold blocks 0 and 1, row 3 block 1.
MALFORMED = {
    "order_not_a_permutation": (lambda s: dataclasses.replace(s, traversal_order=(0, 0, 2)),
                                "not a permutation"),
    "block_first": (lambda s: dataclasses.replace(s, traversal_order=(2, 0, 1)),
                    "not a permutation"),
    "block_map_out_of_range": (lambda s: dataclasses.replace(s, block_map=(5,)),
                               "block map [5]"),
    "levels_count": (lambda s: dataclasses.replace(s, levels=s.levels[:2]),
                     "2 dim_metadata entries"),
    "dense_size": (lambda s: _level(s, 0, dense_size=5), "dense_size 5"),
    "block_not_dividing": (lambda s: _level(s, 2, dense_size=3), "block size 3 does not divide"),
    "sparse_block": (lambda s: _level(s, 2, sparse=True, segments=_arr(0), indices=_arr()),
                     "block dimension 2 is SPARSE_CSR"),
    "segments_count": (lambda s: _level(s, 1, segments=_arr(0, 2, 2, 4)), "4 segments for 4"),
    "segments_decrease": (lambda s: _level(s, 1, segments=_arr(0, 2, 1, 4, 5)),
                          "never decrease"),
    "segments_end": (lambda s: _level(s, 1, segments=_arr(0, 2, 2, 4, 4)), "ends at 4"),
    "index_out_of_range": (lambda s: _level(s, 1, indices=_arr(0, 1, 0, 2, 1)), "outside 0..1"),
    "index_repeated": (lambda s: _level(s, 1, indices=_arr(0, 0, 0, 1, 1)), "strictly increase"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_sparsity_is_one_line_error(case, monkeypatch, tmp_path):
    break_it, message = MALFORMED[case]
    w = np.zeros((4, 8), np.float32)
    w[0, :] = w[2, :] = w[3, 4:] = 1.5
    g = one_op_graph("DENSIFY", [w], {}, const={0})
    g.tensors["in0"].sparsity = tf_format(2, (1, 4))
    encode = sp.sparsify
    monkeypatch.setattr(writer, "sparsify", lambda data, fmt: (lambda v, s: (v, break_it(s)))(
        *encode(data, fmt)))
    model = model_bytes(g)
    with pytest.raises(InvalidModelError, match=re.escape(message)) as err:
        read_model(model, "m.tflite")
    assert "\n" not in str(err.value) and "tensor 0 ('in0')" in str(err.value)
    if case == "index_out_of_range":  # and on the command line, one of them
        path = tmp_path / "bad.tflite"
        path.write_bytes(model)
        assert_one_line_error(toco("run", str(path), "--random"), message)


def test_values_count_must_match():
    g = one_op_graph("DENSIFY", [np.eye(4, dtype=np.float32)], {}, const={0})
    g.tensors["in0"].sparsity = tf_format(2)
    model = bytearray(model_bytes(g))
    # The 4 stored values are the only 1.0s in the file: shrink the buffer's length field by
    # one value (the vector length sits just before the first of them).
    start = bytes(model).index(np.ones(4, np.float32).tobytes())
    length = int.from_bytes(model[start - 4:start], "little")
    assert length == 16
    model[start - 4:start] = (12).to_bytes(4, "little")
    with pytest.raises(InvalidModelError, match="holds 3 values, the sparsity parameters describe 4"):
        read_model(bytes(model))


def test_litert_runs_what_the_reader_accepts():
    """The DENSIFY alone, in LiteRT, gives the dense tensor the reader holds."""
    rng = np.random.default_rng(15)
    for fmt in FC_FORMATS.values():
        w = _pruned(rng, (8, 32), fmt)
        g = one_op_graph("DENSIFY", [w], {}, const={0})
        g.tensors["in0"].sparsity = fmt
        interp = litert(model_bytes(g), reference=True)
        interp.invoke()
        np.testing.assert_array_equal(interp.get_tensor(interp.get_output_details()[0]["index"]), w)
