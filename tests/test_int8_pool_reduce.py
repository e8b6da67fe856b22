"""Quantized pools and reductions against LiteRT's reference kernels, element for element:
MAX_POOL_2D, AVERAGE_POOL_2D, MEAN, SUM, REDUCE_MAX, REDUCE_MIN; edge cases, then seeded
random cases.

One exception, measured: the installed LiteRT's reference SUM reads int8 data as uint8 (it
runs QuantizedMeanOrSum<uint8_t> on the int8 bytes, see test_reference_int8_sum_reads_uint8),
so int8 SUM is checked against LiteRT's optimized kernel (BUILTIN_WITHOUT_DEFAULT_DELEGATES),
which computes in float32 and may differ by one step where the exact result is a tie; the
reference arithmetic itself is checked bit for bit on uint8, where the kernel is right.
"""
import numpy as np
import pytest

import toco_py.ops.int8.reduce as reduce_int8
from tests.support.kernel_check import (
    compare_int8_with_litert,
    data,
    int8_disagreement,
    int8_graph,
    quant,
    run_int8_ours,
    run_one_op,
)
from toco_py.errors import TocoError
from toco_py.ops.fixed_point import scale_single_rounding

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
POOLS = ("MAX_POOL_2D", "AVERAGE_POOL_2D")


def pool_attrs(filt, stride, padding, act="NONE") -> dict:
    return {"filter_height": filt[0], "filter_width": filt[1], "stride_h": stride[0],
            "stride_w": stride[1], "padding": padding, "fused_activation_function": act}


def run_pool(op_type, x, q, attrs, dtype="int8") -> str:
    """What differs between our int8 pool and LiteRT's ("" when nothing)."""
    return int8_disagreement(op_type, [x], [q], [q], attrs, output_dtype=dtype)


# ---- pools --------------------------------------------------------------------------------

POOL_GEOMETRY = [
    ((1, 6, 6, 3), (2, 2), (2, 2), "VALID"),
    ((2, 7, 9, 2), (3, 3), (1, 1), "SAME"),
    ((1, 7, 8, 4), (3, 3), (2, 2), "SAME"),
    ((1, 9, 5, 2), (5, 3), (2, 1), "SAME"),
    ((1, 3, 3, 2), (4, 4), (1, 1), "SAME"),  # window larger than the image
    ((1, 5, 7, 3), (5, 7), (1, 1), "VALID"),  # global pool
    ((1, 7, 7, 1), (1, 1), (3, 2), "VALID"),  # stride larger than the window
    ((1, 8, 8, 2), (2, 3), (3, 3), "SAME"),
]


@pytest.mark.parametrize("op_type", POOLS)
@pytest.mark.parametrize("shape, filt, stride, padding", POOL_GEOMETRY)
def test_pool_geometry(op_type, shape, filt, stride, padding):
    rng = np.random.default_rng(sum(shape) + filt[0])
    assert not run_pool(op_type, data(rng, shape), quant(0.1, -5), pool_attrs(filt, stride, padding))


@pytest.mark.parametrize("op_type", POOLS)
@pytest.mark.parametrize("act", ACTIVATIONS + ("TANH",))
@pytest.mark.parametrize("q", [quant(0.05, -128), quant(0.05, 127), quant(0.02, 30), quant(2.0, -3)])
def test_pool_activations_and_params(op_type, act, q):
    rng = np.random.default_rng(7)
    assert not run_pool(op_type, data(rng, (1, 6, 5, 3)), q, pool_attrs((3, 2), (2, 1), "SAME", act))


@pytest.mark.parametrize("op_type", POOLS)
@pytest.mark.parametrize("dtype, q", [("uint8", quant(0.1, 128)), ("int16", quant(0.01, 0))])
def test_pool_other_integer_types(op_type, dtype, q):
    rng = np.random.default_rng(3)
    assert not run_pool(op_type, data(rng, (1, 7, 6, 2), dtype), q,
                        pool_attrs((3, 3), (2, 2), "SAME", "RELU"), dtype)


def test_average_pool_rounds_ties_away_from_zero():
    """Windows of two pixels whose sums are odd, of both signs, and a zero sum."""
    x = np.array([-3, 0, -1, 2, 1, 0, 3, 4, 5, -5, -7, 7], np.int8).reshape(1, 1, 12, 1)
    q = quant(0.1, 0)
    out = compare_int8_with_litert("AVERAGE_POOL_2D", [x], [q], [q], pool_attrs((1, 2), (1, 2), "VALID"))
    np.testing.assert_array_equal(out[0].ravel(), [-2, 1, 1, 4, 0, 0])


def random_pool_case(rng):
    filt = tuple(int(f) for f in rng.integers(1, 5, 2))
    stride = tuple(int(s) for s in rng.integers(1, 4, 2))
    padding = str(rng.choice(["SAME", "VALID"]))
    shape = (int(rng.integers(1, 3)), int(rng.integers(filt[0], 11)), int(rng.integers(filt[1], 11)),
             int(rng.integers(1, 6)))
    q = quant(np.float32(10 ** rng.uniform(-3, 1)), int(rng.integers(-128, 128)))
    return shape, q, pool_attrs(filt, stride, padding, str(rng.choice(ACTIVATIONS)))


@pytest.mark.parametrize("op_type", POOLS)
def test_random_pools_match_litert(op_type):
    rng = np.random.default_rng(555 + len(op_type))
    for _ in range(60):
        shape, q, attrs = random_pool_case(rng)
        assert not run_pool(op_type, data(rng, shape), q, attrs)


def run_ours(op_type, inputs, in_q, out_q, attrs, const=frozenset(), dtype="int8"):
    """Our kernel only (no LiteRT), through the interpreter's dispatch."""
    g = int8_graph(op_type, inputs, in_q, [out_q], attrs, set(const), output_dtype=dtype)
    return run_int8_ours(g, inputs)[0]


@pytest.mark.parametrize("op_type", POOLS)
@pytest.mark.parametrize("out_q", [quant(0.1, 4), quant(0.2, 3)])
def test_pool_refuses_other_output_params(op_type, out_q):
    x = np.zeros((1, 4, 4, 1), np.int8)
    with pytest.raises(TocoError, match=f"{op_type}.*keeps its input's params"):
        run_ours(op_type, [x], [quant(0.1, 3)], out_q, pool_attrs((2, 2), (2, 2), "VALID"))


# ---- MEAN ---------------------------------------------------------------------------------

REDUCE_SHAPES = [
    # (input shape, axes): the 4-D mean over H and W first (once a special path in LiteRT).
    ((1, 5, 6, 3), [1, 2]),
    ((2, 4, 3, 5), [2, 1]),
    ((2, 4, 3, 5), [0, 3]),
    ((2, 4, 3, 5), [-1]),
    ((2, 4, 3, 5), [0, 1, 2, 3]),
    ((7, 9), [1]),
    ((7, 9), [0, -1, 0]),  # duplicates
    ((11,), [0]),
    ((2, 3, 2, 2, 3), [1, 4]),
    ((1, 32, 32, 4), [1, 2]),  # 1024 elements a mean
]
MEAN_PARAMS = [
    (quant(0.05, -3), quant(0.05, -3)),  # equal params (once a shortcut in LiteRT)
    (quant(0.05, -3), quant(0.02, 7)),
    (quant(0.1, -128), quant(0.1, 127)),
    (quant(0.01, 127), quant(0.5, -128)),
    (quant(1e-6, 5), quant(1000.0, 0)),  # a tiny multiplier: the count shift is clamped
    (quant(3.0, 0), quant(0.01, 0)),  # a multiplier above one
]


@pytest.mark.parametrize("shape, axes", REDUCE_SHAPES)
@pytest.mark.parametrize("keep_dims", [True, False])
@pytest.mark.parametrize("in_q, out_q", MEAN_PARAMS)
def test_mean(shape, axes, keep_dims, in_q, out_q):
    rng = np.random.default_rng(len(shape) * 10 + len(axes))
    compare_int8_with_litert("MEAN", [data(rng, shape), np.array(axes, np.int32)], [in_q, None],
                             [out_q], {"keep_dims": keep_dims}, const={1})


def random_reduce_case(rng, same_params: bool):
    rank = int(rng.integers(1, 6))
    shape = tuple(int(d) for d in rng.integers(1, 8, rank))
    axes = rng.integers(-rank, rank, int(rng.integers(1, rank + 1))).astype(np.int32)
    in_q = quant(np.float32(10 ** rng.uniform(-3, 1)), int(rng.integers(-128, 128)))
    if same_params:
        return shape, axes, in_q, in_q
    # Half the time a simple ratio of scales, where exact results often land on ties.
    ratio = rng.choice([0.5, 2.0, 3.0, 4.0]) if rng.integers(0, 2) else 10 ** rng.uniform(-1.5, 1.5)
    return shape, axes, in_q, quant(np.float32(in_q.scale[0] * ratio), int(rng.integers(-128, 128)))


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_random_means_match_litert(dtype):
    rng = np.random.default_rng(77 + len(dtype))
    for i in range(60):
        shape, axes, in_q, out_q = random_reduce_case(rng, same_params=i % 4 == 0)
        if dtype == "uint8":
            in_q, out_q = (quant(q.scale, int(q.zero_point[0]) + 128) for q in (in_q, out_q))
        compare_int8_with_litert("MEAN", [data(rng, shape, dtype), axes], [in_q, None], [out_q],
                                 {"keep_dims": bool(rng.integers(0, 2))}, const={1}, output_dtype=dtype)


# ---- SUM ----------------------------------------------------------------------------------

def test_uint8_sum_matches_reference_kernel():
    """The reference arithmetic (int32 sum, fixed-point requantization), on the type whose
    reference kernel LiteRT gets right."""
    rng = np.random.default_rng(12)
    for _ in range(60):
        shape, axes, in_q, out_q = random_reduce_case(rng, same_params=False)
        in_q, out_q = (quant(q.scale, int(q.zero_point[0]) + 128) for q in (in_q, out_q))
        compare_int8_with_litert("SUM", [data(rng, shape, "uint8"), axes], [in_q, None], [out_q],
                                 {"keep_dims": bool(rng.integers(0, 2))}, const={1}, output_dtype="uint8")


def litert_without_delegates(op_type, inputs, in_q, out_q, attrs) -> np.ndarray:
    g = int8_graph(op_type, inputs, [in_q, None], [out_q], attrs, const={1})
    return run_one_op(g, inputs, 1, reference=False, delegates=False)[0]


def optimized_sum(x, axes, in_q, out_q, out_shape) -> np.ndarray:
    """optimized_ops::QuantizedMeanOrSum with compute_sum, in its float32 arithmetic:
    round(sum * scale + bias) + zero point, scale = in / out scale, bias = -zp * scale * count."""
    f32 = np.float32
    axes = tuple(sorted({int(a) % x.ndim for a in axes}))
    count = int(np.prod([x.shape[a] for a in axes]))
    sums = x.astype(np.int64).sum(axis=axes).reshape(out_shape).astype(f32)
    scale = f32(in_q.scale[0]) / f32(out_q.scale[0])
    bias = f32(f32(-int(in_q.zero_point[0])) * scale) * f32(count)
    value = sums * scale + bias
    rounded = np.trunc(value + np.copysign(f32(0.5), value)).astype(np.int64)
    return np.clip(rounded + int(out_q.zero_point[0]), -128, 127)


def test_int8_sum_against_optimized_kernel():
    """The optimized kernel is the float32 formula above, exactly; ours (the reference's
    fixed-point arithmetic) is equal or one step away where float32 rounds otherwise
    (92 of 1452 elements here, these cases being rich in ties)."""
    rng = np.random.default_rng(13)
    differing = total = 0
    for _ in range(60):
        shape, axes, in_q, out_q = random_reduce_case(rng, same_params=False)
        x = data(rng, shape)
        attrs = {"keep_dims": bool(rng.integers(0, 2))}
        ours = run_ours("SUM", [x, axes], [in_q, None], out_q, attrs, const={1})
        theirs = litert_without_delegates("SUM", [x, axes], in_q, out_q, attrs)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_array_equal(theirs, optimized_sum(x, axes, in_q, out_q, ours.shape))
        diff = np.abs(ours.astype(np.int64) - theirs)
        assert diff.max(initial=0) <= 1, (shape, axes, in_q, out_q)
        differing += int((diff > 0).sum())
        total += diff.size
    assert differing < total // 10, f"{differing} of {total} elements differ by one step"


def test_reference_int8_sum_reads_uint8():
    """Pins the LiteRT defect that keeps int8 SUM off the reference kernel: its output is
    what our uint8 kernel makes of the same bytes and the same params. If this fails, LiteRT
    has been fixed: check int8 SUM against the reference kernel again."""
    rng = np.random.default_rng(14)
    x = data(rng, (3, 5, 4))
    axes = np.array([1], np.int32)
    in_q, out_q = quant(0.05, -3), quant(0.2, 9)
    g = int8_graph("SUM", [x, axes], [in_q, None], [out_q], {"keep_dims": False}, const={1})
    reference = run_one_op(g, [x, axes], 1, reference=True)[0]
    as_uint8 = run_ours("SUM", [x.view(np.uint8), axes], [in_q, None], out_q, {"keep_dims": False},
                        const={1}, dtype="uint8")
    np.testing.assert_array_equal(reference, as_uint8.view(np.int8))
    assert not np.array_equal(reference, run_ours("SUM", [x, axes], [in_q, None], out_q,
                                                  {"keep_dims": False}, const={1}))


def test_mean_and_sum_round_twice(monkeypatch):
    """Measured: QuantizedMeanOrSum requantizes with gemmlowp's two roundings; with one
    rounding the random cases above, rich in ties, would differ."""
    monkeypatch.setattr(reduce_int8, "SCALE", scale_single_rounding)
    with pytest.raises(AssertionError, match="MEAN: .* elements differ"):
        test_random_means_match_litert("uint8")
    with pytest.raises(AssertionError, match="SUM: .* elements differ"):
        test_uint8_sum_matches_reference_kernel()


# ---- REDUCE_MAX / REDUCE_MIN --------------------------------------------------------------

@pytest.mark.parametrize("op_type", ["REDUCE_MAX", "REDUCE_MIN"])
@pytest.mark.parametrize("shape, axes", REDUCE_SHAPES)
@pytest.mark.parametrize("keep_dims", [True, False])
def test_reduce_extremes(op_type, shape, axes, keep_dims):
    rng = np.random.default_rng(sum(shape))
    q = quant(0.07, -12)
    compare_int8_with_litert(op_type, [data(rng, shape), np.array(axes, np.int32)], [q, None], [q],
                             {"keep_dims": keep_dims}, const={1})


@pytest.mark.parametrize("op_type", ["REDUCE_MAX", "REDUCE_MIN"])
def test_random_reduce_extremes_match_litert(op_type):
    rng = np.random.default_rng(99 + len(op_type))
    for _ in range(40):
        shape, axes, q, _ = random_reduce_case(rng, same_params=True)
        compare_int8_with_litert(op_type, [data(rng, shape), axes], [q, None], [q],
                                 {"keep_dims": bool(rng.integers(0, 2))}, const={1})


@pytest.mark.parametrize("op_type", ["REDUCE_MAX", "REDUCE_MIN"])
def test_reduce_extremes_refuse_other_output_params(op_type):
    x = np.zeros((2, 3), np.int8)
    with pytest.raises(TocoError, match=f"quantized {op_type} needs its input and output"):
        run_ours(op_type, [x, np.array([1], np.int32)], [quant(0.1, 3), None], quant(0.1, 4),
                 {"keep_dims": False}, const={1})
