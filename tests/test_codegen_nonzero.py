"""Pruned and clustered filters in C bundles without their zeros (codegen/nonzero_lut.py): a
bitmap of the nonzero weights, indices of those only, and a count per span; the encoding, the
choice of the smaller form, and bundles bit-exact with the interpreter under ASan/UBSan."""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.support.codegen_check import check_bundle, one_op
from tests.support.kernel_check import window
from tests.test_codegen_packed import (
    SANITIZERS,
    clustered,
    clustered_network,
    conv_graph,
    fc_graph,
    filter_forms,
    int8_model,
)
from toco_py import lut
from toco_py.codegen import nonzero_lut
from toco_py.codegen.constants import F32_LANES, S8_LANES, block_order
from toco_py.codegen.emitter import generate
from toco_py.codegen.lowering import smallest_lut
from toco_py.compress.cluster import ClusterOptions
from toco_py.compress.prune import PruneOptions
from toco_py.tflite.reader import read_model


@pytest.fixture
def rng(request):
    """The data a test draws comes from its own seed, whatever ran before it (-k, -n)."""
    return np.random.default_rng(zlib.crc32(request.node.name.encode()))


def pruned(rng, weights: np.ndarray, sparsity: float) -> np.ndarray:
    out = weights.copy()
    out[rng.random(weights.shape) < sparsity] = 0
    return out


def nonzero_decode(encoded: nonzero_lut.NonzeroLut, tables: np.ndarray, count: int) -> np.ndarray:
    """The elements back from the bitmap, indices and tables, as kernels/toco_kernels.h's
    tk_lut_rank finds them: each span's rank plus the bits before the element."""
    live = np.unpackbits(encoded.nonzero)[:count].astype(bool)
    out = np.zeros(count, encoded.values.dtype)
    for e in np.flatnonzero(live):
        span = e // nonzero_lut.RANK_SPAN
        rank = int(encoded.ranks[span]) + int(live[span * nonzero_lut.RANK_SPAN:e].sum())
        index = lut.unpack_indices(encoded.indices, encoded.bits, rank + 1)[rank]
        out[e] = encoded.values[tables[e], index]
    return out


def test_kernels_header_agrees_on_rank_span_and_lanes():
    header = (Path(generate.__code__.co_filename).parent / "kernels" / "toco_kernels.h").read_text()
    s8 = (Path(generate.__code__.co_filename).parent / "kernels" / "toco_kernels_s8a.h").read_text()
    assert f"#define TK_LUT_RANK_SPAN {nonzero_lut.RANK_SPAN}\n" in header
    assert f"#define TK_F32_LANES {F32_LANES}\n" in header and f"#define TK_S8_LANES {S8_LANES}\n" in s8


@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_nonzero_encoding_round_trip(rng, dtype):
    data = pruned(rng, clustered(rng, (21, 3, 3, 7), 15, 0, dtype), 0.6)
    order = block_order(data.shape, S8_LANES)
    channels = np.broadcast_to(np.arange(21)[:, None, None, None], data.shape).ravel()[order]
    encoded = nonzero_lut.smallest(data, (0,), (2, 4, 8), order)
    # The tables hold no zero: as wide as each channel's distinct nonzero values.
    assert encoded.bits == 4 and encoded.stride == max(np.unique(c[c != 0]).size for c in data)
    np.testing.assert_array_equal(nonzero_decode(encoded, channels, data.size), data.ravel()[order])
    # One table of at most 4 nonzero values: 2-bit indices.
    few = pruned(rng, clustered(rng, (40, 50), 4, None, dtype), 0.5)
    one = nonzero_lut.smallest(few, (None,), (2, 4, 8))
    assert one.bits == 2 and one.values.shape[0] == 1
    np.testing.assert_array_equal(nonzero_decode(one, np.zeros(few.size, int), few.size), few.ravel())


def test_nonzero_form_only_where_smaller(rng):
    # 50% zeros and 15 other values: 1 + 4/2 + 32/128 bits a weight, against 4 for indices of every one.
    half = pruned(rng, clustered(rng, (64, 256), 15, None), 0.5)
    encoded = smallest_lut(half, 0, None)
    assert isinstance(encoded, nonzero_lut.NonzeroLut)
    assert encoded.nbytes < 3.4 / 8 * half.size < lut.smallest(half, (None, 0), (2, 4, 8)).nbytes
    # Few zeros: the bitmap costs more than the indices it saves.
    assert isinstance(smallest_lut(pruned(rng, clustered(rng, (64, 256), 15, None), 0.1), 0, None), lut.LutTensor)


# (conv_graph's arguments, sparsity, kernel): SAME padding skips taps at the edges, so the
# kernels find indices at arbitrary elements, not only in sequence.
PRUNED_CASES = {
    "conv_per_channel_partial_block": (("CONV_2D", (1, 7, 9, 5), (20, 3, 3, 5), window("SAME", (2, 1), act="RELU6"),
                                        16, 0), 0.5, "tk_conv2d_lut_s8"),
    "conv_one_table_dilated": (("CONV_2D", (2, 8, 7, 3), (35, 2, 3, 3), window("SAME", dilation=(2, 1)), 5, None),
                               0.75, "tk_conv2d_lut_s8"),
    "depthwise": (("DEPTHWISE_CONV_2D", (1, 6, 7, 40), (1, 3, 3, 40), window("SAME", (2, 2)), 4, None), 0.7,
                  "tk_depthwise_conv2d_lut_s8"),
}


@pytest.mark.parametrize("case", sorted(PRUNED_CASES))
def test_pruned_convolution_bundles_bit_exact_under_sanitizers(case, rng, tmp_path):
    args, sparsity, kernel = PRUNED_CASES[case]
    graph = conv_graph(rng, *args)
    w = graph.tensors[graph.ops[0].inputs[1]]
    w.data = pruned(rng, np.asarray(w.data), sparsity)
    check_bundle(graph, tmp_path, opt="-O1 -g", extra_cflags=SANITIZERS, more_seeds=(1,))
    assert f"{kernel}(" in (tmp_path / "model" / "model.c").read_text()
    assert "indices of the nonzero elements" in (tmp_path / "model" / "model_weights.c").read_text()


def test_pruned_fully_connected_bundle(rng, tmp_path):
    graph = fc_graph(rng, units=37, depth=300, values=16, axis=0)
    w = graph.tensors[graph.ops[0].inputs[1]]
    w.data = pruned(rng, np.asarray(w.data), 0.6)
    check_bundle(graph, tmp_path, opt="-O1 -g", extra_cflags=SANITIZERS, more_seeds=(1,))
    assert "tk_fully_connected_lut_s8(" in (tmp_path / "model" / "model.c").read_text()
    assert "indices of the nonzero elements" in (tmp_path / "model" / "model_weights.c").read_text()


@pytest.mark.parametrize("op_type, x_shape, w_shape, attrs", [
    ("CONV_2D", (1, 6, 7, 5), (10, 3, 3, 5), window("SAME", (2, 1), act="RELU")),
    ("FULLY_CONNECTED", (3, 200), (12, 200), {"fused_activation_function": "NONE"})])
def test_pruned_float_bundles(op_type, x_shape, w_shape, attrs, rng, tmp_path):
    x = rng.normal(0, 1, x_shape).astype(np.float32)
    w = pruned(rng, clustered(rng, w_shape, 16, 0, "float32"), 0.7)
    b = rng.normal(0, 0.1, w_shape[0]).astype(np.float32)
    check_bundle(one_op(op_type, [x, w, b], attrs, const={1, 2}), tmp_path, opt="-O1 -g", extra_cflags=SANITIZERS)
    assert "indices of the nonzero elements" in (tmp_path / "model" / "model_weights.c").read_text()


def test_pruned_clustered_int8_network(rng, tmp_path):
    """--prune 0.5 --cluster 16 --quantize int8 through the converter: the bundle stores the
    filters without their zeros, bit-exact, in less flash than indices of every weight."""
    net = clustered_network(rng)
    model = int8_model(net, tmp_path, prune=PruneOptions(0.5), cluster=ClusterOptions(16))
    graph = read_model(model).main
    check_bundle(graph, tmp_path, opt="-O1 -g", extra_cflags=SANITIZERS, more_seeds=(1,))
    assert "of the nonzero elements" in (tmp_path / "model" / "model_weights.c").read_text()
    bundle = generate(graph, "m")
    assert filter_forms(bundle.files) == (1, 1)
    packed, unpacked = bundle.lut_bytes
    weights = sum(np.asarray(graph.tensors[op.inputs[1]].data).size for op in graph.ops
                  if op.type in ("CONV_2D", "FULLY_CONNECTED"))
    assert packed < 0.45 * weights, (packed, weights)
