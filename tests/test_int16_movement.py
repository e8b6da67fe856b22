"""16x8 data-movement ops, pools, reductions and resizes against LiteRT's reference kernels,
element for element: the int8 tests' seeded random cases (tests/test_int8_movement.py) with
their data widened to int16, random pools, reductions and resizes, the params LiteRT insists on
for int16, the ops it has no int16 kernel for, and the op versions our writer gives."""
import numpy as np
import pytest

from tests.support.kernel_check import (
    compare_int8_with_litert,
    int8_graph,
    quant,
    run_int8_ours,
    run_one_op,
)
from tests.support.oracle import litert
from tests.test_int8_movement import EDGE_CASES, FREE_PARAMS, GENERATORS, i32
from tests.test_int8_pool_reduce import pool_attrs, random_pool_case, random_reduce_case
from toco_py.errors import ConversionError, TocoError
from toco_py.ops.int16.movement import SYMMETRIC
from toco_py.tflite.versions import op_version
from toco_py.tflite.writer import model_bytes

NOT_IN_16X8 = ("DEPTH_TO_SPACE", "SPACE_TO_DEPTH")


def widen(rng, x):
    """An int8 array spread over int16's whole range (-128 -> -32768 .. 127 -> 32767 + ...)."""
    x = np.asarray(x)
    if x.dtype != np.int8:
        return x
    return (x.astype(np.int32) * 256 + rng.integers(0, 256, x.shape)).astype(np.int16)


def random_scale(rng):
    return quant(np.float32(10 ** rng.uniform(-6, 0)))


def check(op_type, inputs, attrs, const, n_out, in_q, out_q=None):
    in_quant = [in_q if np.asarray(v).dtype == np.int16 else None for v in inputs]
    return compare_int8_with_litert(op_type, inputs, in_quant, [out_q or in_q] * n_out, attrs,
                                    const=set(const), output_dtype="int16")


@pytest.mark.parametrize("op_type", sorted(set(GENERATORS) - set(NOT_IN_16X8)))
def test_random_cases_match_litert(op_type):
    rng = np.random.default_rng(sum(map(ord, op_type)) + 16)
    for _ in range(12):
        inputs, attrs, const, n_out = GENERATORS[op_type](rng)
        inputs = [widen(rng, v) for v in inputs]
        in_q = random_scale(rng)
        # Ops that copy whatever the output params say get other params half the time.
        free = op_type in FREE_PARAMS + ("PAD",) and rng.integers(0, 2)
        check(op_type, inputs, attrs, const, n_out, in_q, random_scale(rng) if free else in_q)


def test_fill():
    check("FILL", [i32(2, 3), np.array(-31234, np.int16)], {}, {0}, 1, quant(2.0 ** -12))


@pytest.mark.parametrize("op_type", ["SELECT", "SELECT_V2"])
def test_selects(op_type):
    rng = np.random.default_rng(5)
    for shapes in [((2, 3, 4),) * 3, ((2, 1, 4), (3, 1), (1, 3, 4))][: 2 if op_type == "SELECT_V2" else 1]:
        cond = rng.random(shapes[0]) < 0.5
        a, b = (rng.integers(-32768, 32768, s).astype(np.int16) for s in shapes[1:])
        compare_int8_with_litert(op_type, [cond, a, b], [None, quant(1e-3), quant(1e-3)], [quant(1e-3)], {},
                                 output_dtype="int16")


def test_diagonals_and_updates():
    rng = np.random.default_rng(6)
    x = rng.integers(-32768, 32768, (2, 3, 4)).astype(np.int16)
    q = quant(3e-4)
    check("MATRIX_DIAG", [x], {}, (), 1, q)
    check("MATRIX_SET_DIAG", [x, x[:, :, 0].copy()], {}, (), 1, q)
    check("DYNAMIC_UPDATE_SLICE", [x, x[:1, 1:, :2].copy(), i32(1, 0, 2)], {}, {2}, 1, q)


def test_top_k_and_unique():
    rng = np.random.default_rng(7)
    x = rng.integers(-32768, 32768, (3, 9)).astype(np.int16)
    q = quant(3e-4)
    compare_int8_with_litert("TOPK_V2", [x, i32(4)], [q, None], [q, None], {}, const={1}, output_dtype="int16")
    y = rng.choice(np.array([-32768, -5, 0, 7, 32767], np.int16), 20)
    compare_int8_with_litert("UNIQUE", [y], [q], [q, None], {"idx_out_type": "int32"}, output_dtype="int16")


@pytest.mark.parametrize("op_type", ["MAX_POOL_2D", "AVERAGE_POOL_2D"])
def test_random_pools(op_type):
    rng = np.random.default_rng(161 + len(op_type))
    for _ in range(20):
        shape, _, attrs = random_pool_case(rng)
        q = random_scale(rng)
        x = rng.integers(-32768, 32768, shape).astype(np.int16)
        compare_int8_with_litert(op_type, [x], [q], [q], attrs, output_dtype="int16")


def test_average_pool_rounds_ties_away_from_zero():
    x = np.array([-3, 0, -1, 2, 1, 0, 3, 4, -32768, -32767, 32767, 32766], np.int16).reshape(1, 1, 12, 1)
    q = quant(1e-3)
    out = compare_int8_with_litert("AVERAGE_POOL_2D", [x], [q], [q], pool_attrs((1, 2), (1, 2), "VALID"),
                                   output_dtype="int16")
    np.testing.assert_array_equal(out[0].ravel(), [-2, 1, 1, 4, -32768, 32767])


def _reduce_case(rng, same_params):
    shape, axes, in_q, out_q = random_reduce_case(rng, same_params)
    in_q = quant(in_q.scale)
    x = rng.integers(-32768, 32768, shape).astype(np.int16)
    return x, axes, in_q, in_q if same_params else quant(out_q.scale)


@pytest.mark.parametrize("op_type", ["MEAN", "REDUCE_MAX", "REDUCE_MIN"])
def test_random_reductions(op_type):
    rng = np.random.default_rng(162 + len(op_type))
    for _ in range(20):
        x, axes, in_q, out_q = _reduce_case(rng, same_params=op_type != "MEAN")
        compare_int8_with_litert(op_type, [x, axes], [in_q, None], [out_q], {"keep_dims": bool(rng.integers(0, 2))},
                                 const={1}, output_dtype="int16")


def test_random_products():
    """QuantizedReduceProd rescales after every product: few terms, scales that keep the
    product in range."""
    rng = np.random.default_rng(163)
    for _ in range(20):
        shape = tuple(int(d) for d in rng.integers(1, 4, int(rng.integers(1, 4))))
        axes = np.array(sorted({int(a) for a in rng.integers(0, len(shape), 2)}), np.int32)
        count = int(np.prod([shape[a] for a in axes]))
        in_scale = float(10 ** rng.uniform(-5, -3))
        out_scale = (in_scale * 32767) ** count / 32767 * float(10 ** rng.uniform(-1, 0.3))
        x = rng.integers(-32768, 32768, shape).astype(np.int16)
        compare_int8_with_litert("REDUCE_PROD", [x, axes], [quant(in_scale), None], [quant(out_scale)],
                                 {"keep_dims": bool(rng.integers(0, 2))}, const={1}, output_dtype="int16")


def test_sum_against_the_optimized_kernel():
    """LiteRT's reference SUM reads quantized int16 data as uint8 bytes (reduce.cc passes
    GetTensorData<uint8_t> to reference_ops::QuantizedMeanOrSum whatever the type), so our
    kernel, the reference arithmetic of MEAN, is checked against the optimized kernel:
    round(float32(sum) * scale), whose float32 sum drops low bits once an int16 sum passes
    2^24, so it is measured equal or one step away (on about a tenth of the elements here)."""
    rng = np.random.default_rng(164)
    differing = total = 0
    for _ in range(30):
        x, axes, in_q, out_q = _reduce_case(rng, same_params=False)
        attrs = {"keep_dims": bool(rng.integers(0, 2))}
        g = int8_graph("SUM", [x, axes], [in_q, None], [out_q], attrs, {1}, "int16")
        ours = run_int8_ours(g, [x, axes])[0]
        theirs = run_one_op(g, [x, axes], 1, reference=False, delegates=False)[0]
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        diff = np.abs(ours.astype(np.int64) - theirs)
        assert diff.max(initial=0) <= 1
        differing, total = differing + int((diff > 0).sum()), total + diff.size
    assert differing < total // 5, f"{differing} of {total} elements differ by one step"


def test_reference_sum_reads_bytes():
    """Pins the defect above: the reference output's first bytes are what our uint8 kernel
    makes of the input's first bytes. If this fails, LiteRT has been fixed: check int16 SUM
    against the reference kernel again."""
    rng = np.random.default_rng(165)
    x = rng.integers(-32768, 32768, (4, 6)).astype(np.int16)
    axes, attrs = np.array([1], np.int32), {"keep_dims": False}
    q, out_q = quant(1e-3), quant(4e-3)
    reference = run_one_op(int8_graph("SUM", [x, axes], [q, None], [out_q], attrs, {1}, "int16"),
                           [x, axes], 1)[0]
    as_bytes = x.view(np.uint8).ravel()[:24].reshape(4, 6)  # the first 24 bytes as 4 x 6 uint8 values
    g8 = int8_graph("SUM", [as_bytes, axes], [q, None], [out_q], attrs, {1}, "uint8")
    np.testing.assert_array_equal(reference.view(np.uint8)[:4], run_int8_ours(g8, [as_bytes, axes])[0])


@pytest.mark.parametrize("flags", [{}, {"align_corners": True}, {"half_pixel_centers": True}], ids=str)
def test_random_resize_bilinear(flags):
    rng = np.random.default_rng(166 + len(flags))
    for _ in range(10):
        shape = (int(rng.integers(1, 3)), *(int(d) for d in rng.integers(1, 7, 2)), int(rng.integers(1, 4)))
        size = i32(*(int(d) for d in rng.integers(1, 13, 2)))
        x = rng.integers(-32768, 32768, shape).astype(np.int16)
        q = random_scale(rng)
        compare_int8_with_litert("RESIZE_BILINEAR", [x, size], [q, None], [q], flags, const={1},
                                 output_dtype="int16")


def _litert_refuses(g) -> bool:
    try:
        litert(model_bytes(g), reference=True)
    except (RuntimeError, ValueError):
        return True
    return False


@pytest.mark.parametrize("op_type", SYMMETRIC + ("CONCATENATION",))
def test_zero_points_must_be_zero(op_type):
    rng = np.random.default_rng(8)
    inputs, attrs, const, n_out = EDGE_CASES[op_type]
    inputs = [widen(rng, v) for v in inputs]
    q = quant(1e-3, 5)
    g = int8_graph(op_type, inputs, [q if np.asarray(v).dtype == np.int16 else None for v in inputs],
                   [q] * n_out, attrs, set(const), "int16")
    assert _litert_refuses(g)
    with pytest.raises(ConversionError, match="zero point 0"):
        run_int8_ours(g, inputs)


@pytest.mark.parametrize("op_type", ["MEAN", "SUM", "REDUCE_MAX", "REDUCE_PROD"])
def test_reductions_need_zero_points_of_zero(op_type):
    x, axes = np.zeros((2, 3), np.int16), np.array([1], np.int32)
    g = int8_graph(op_type, [x, axes], [quant(1e-3, 3), None], [quant(1e-3, 3)], {"keep_dims": False},
                   {1}, "int16")
    assert _litert_refuses(g)
    with pytest.raises(ConversionError, match="zero point 0"):
        run_int8_ours(g, [x, axes])


@pytest.mark.parametrize("op_type", NOT_IN_16X8 + ("ARG_MAX",))
def test_ops_litert_has_no_int16_kernel_for(op_type):
    rng = np.random.default_rng(9)
    if op_type == "ARG_MAX":
        inputs, attrs, const, outs = [np.zeros((2, 3), np.int16), i32(1)], {"output_type": "int32"}, {1}, [None]
    else:
        inputs, attrs, const, n_out = EDGE_CASES[op_type]
        inputs, outs = [widen(rng, v) for v in inputs], [quant(1e-3)] * n_out
    g = int8_graph(op_type, inputs, [quant(1e-3) if np.asarray(inputs[0]).dtype == np.int16 else None]
                   + [None] * (len(inputs) - 1), outs, attrs, set(const), "int16")
    assert _litert_refuses(g)
    with pytest.raises(TocoError, match=r"no kernel for: #0 \w+ \(16x8\)"):
        run_int8_ours(g, inputs)


# tflite/converter/tools/versioning/op_version.cc (google-ai-edge/LiteRT at f674577) for
# quantized int16 inputs and outputs of the EDGE_CASES shapes (rank 4 at most).
VERSIONS = {"RESHAPE": 1, "SQUEEZE": 1, "EXPAND_DIMS": 1, "TRANSPOSE": 5, "GATHER": 4, "GATHER_ND": 3,
            "STRIDED_SLICE": 1, "SLICE": 4, "SPLIT": 4, "SPLIT_V": 1, "UNPACK": 4, "TILE": 1,
            "BROADCAST_TO": 3, "PAD": 3, "MIRROR_PAD": 3, "CONCATENATION": 3, "PACK": 3, "REVERSE_V2": 1,
            "SPACE_TO_BATCH_ND": 4, "BATCH_TO_SPACE_ND": 4, "FILL": 3, "RESIZE_NEAREST_NEIGHBOR": 4}


@pytest.mark.parametrize("op_type", sorted(VERSIONS))
def test_op_versions(op_type):
    rng = np.random.default_rng(10)
    inputs, attrs, const, n_out = EDGE_CASES[op_type]
    inputs = [widen(rng, v) for v in inputs]
    q = quant(1e-3)
    g = int8_graph(op_type, inputs, [q if np.asarray(v).dtype == np.int16 else None for v in inputs],
                   [q] * n_out, attrs, set(const), "int16")
    assert op_version(g, g.ops[0]) == VERSIONS[op_type]


@pytest.mark.parametrize("op_type, version", [("MEAN", 3), ("SUM", 1), ("REDUCE_MAX", 3), ("REDUCE_MIN", 3),
                                              ("REDUCE_PROD", 2), ("MAX_POOL_2D", 3), ("AVERAGE_POOL_2D", 3),
                                              ("RESIZE_BILINEAR", 4)])
def test_op_versions_of_arithmetic(op_type, version):
    x, q = np.zeros((1, 4, 4, 2), np.int16), quant(1e-3)
    second = {"RESIZE_BILINEAR": i32(3, 5)}.get(op_type, None if "POOL" in op_type else i32(1))
    inputs = [x] if second is None else [x, second]
    attrs = pool_attrs((2, 2), (1, 1), "VALID") if "POOL" in op_type else {}
    g = int8_graph(op_type, inputs, [q, None][: len(inputs)], [q], attrs, {1} if second is not None else set(),
                   "int16")
    assert op_version(g, g.ops[0]) == version
