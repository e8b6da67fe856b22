"""Quantized ops that only move data against LiteRT's reference kernels, element for element:
edge cases, seeded random cases per op, and the params rules measured on LiteRT (which ops
refuse different input and output params, which copy raw integers whatever the output's
params say). QUANTIZE's requantizations are in test_int8_requantize.py."""
import numpy as np
import pytest

from tests.support.kernel_check import (
    compare_int8_with_litert,
    data,
    int8_graph,
    quant,
    run_int8_ours,
)
from tests.support.oracle import litert
from toco_py.errors import TocoError
from toco_py.ops.int8.movement import EQUAL_PARAMS, FREE_PARAMS
from toco_py.tflite.writer import model_bytes

Q = quant(0.07, -9)
OTHER_Q = quant(0.11, 21)


def i32(*values):
    return np.array(values, np.int32)


def random_q(rng):
    return quant(np.float32(10 ** rng.uniform(-3, 1)), int(rng.integers(-128, 128)))


def _in_quant(inputs, in_q, dtype):
    return [in_q if v is not None and np.asarray(v).dtype == np.dtype(dtype) else None for v in inputs]


def quantized_graph(op_type, inputs, attrs, const, n_out, in_q, out_q, dtype="int8"):
    """One op whose `dtype` inputs carry in_q (int32 inputs none) and outputs out_q."""
    return int8_graph(op_type, inputs, _in_quant(inputs, in_q, dtype), [out_q] * n_out, attrs,
                      set(const), dtype)


def check(op_type, inputs, attrs=None, const=(), in_q=Q, out_q=None, n_out=1, dtype="int8"):
    """Our kernel against LiteRT's reference kernel, exactly; dtype arrays carry in_q. (TILE
    and DEPTH_TO_SPACE on int8 are versions the reference resolver lacks: oracle.litert runs
    them on the optimized kernels, both of which copy.)"""
    in_quant = _in_quant(inputs, in_q, dtype)
    return compare_int8_with_litert(op_type, inputs, in_quant, [out_q or in_q] * n_out, attrs or {},
                                    const=set(const), output_dtype=dtype)


# ---- one hand-picked case per op ------------------------------------------------------------

X = np.arange(-60, 60, dtype=np.int8).reshape(1, 2, 6, 10)

EDGE_CASES = {
    "RESHAPE": ([X, i32(4, -1)], {}, {1}, 1),
    "SQUEEZE": ([X.reshape(1, 12, 1, 10)], {"squeeze_dims": [0, 2]}, (), 1),
    "EXPAND_DIMS": ([X, i32(-1)], {}, {1}, 1),
    "TRANSPOSE": ([X, i32(3, 1, 0, 2)], {}, {1}, 1),
    "GATHER": ([X, i32(5, 0, 5, 2).reshape(2, 2)], {"axis": 2, "batch_dims": 0}, {1}, 1),
    "GATHER_ND": ([X, i32(0, 1, 3, 0, 0, 5).reshape(2, 3)], {}, {1}, 1),
    "STRIDED_SLICE": ([X, i32(0, 1, -1, 0), i32(1, 2, 0, 10), i32(1, 1, -2, 3)],
                      {"end_mask": 1, "shrink_axis_mask": 2}, {1, 2, 3}, 1),
    "SLICE": ([X, i32(0, 1, 2, 3), i32(-1, 1, 3, -1)], {}, {1, 2}, 1),
    "SPLIT": ([i32(3), X], {"num_splits": 5}, {0}, 5),
    "SPLIT_V": ([X, i32(1, -1, 3), i32(2)], {"num_splits": 3}, {1, 2}, 3),
    "UNPACK": ([X, ], {"axis": -2, "num": 6}, (), 6),
    "DEPTH_TO_SPACE": ([X.reshape(1, 2, 3, 20)], {"block_size": 2}, (), 1),
    "SPACE_TO_DEPTH": ([X.reshape(1, 4, 6, 5)], {"block_size": 2}, (), 1),
    "RESIZE_NEAREST_NEIGHBOR": ([X, i32(5, 13)], {"half_pixel_centers": True}, {1}, 1),
    "TILE": ([X, i32(2, 1, 2, 1)], {}, {1}, 1),
    "BROADCAST_TO": ([X[:, :1], i32(3, 2, 2, 6, 10)], {}, {1}, 1),
    "PAD": ([X, i32(0, 0, 1, 2, 3, 0, 0, 1).reshape(4, 2)], {}, {1}, 1),
    "MIRROR_PAD": ([X, i32(0, 0, 1, 1, 2, 3, 0, 1).reshape(4, 2)], {"mode": "SYMMETRIC"}, {1}, 1),
    "CONCATENATION": ([X, X[:, :, :2] // 2, X[:, :, :1]], {"axis": 2}, (), 1),
    "PACK": ([X[0], X[0] // 3], {"axis": -1, "values_count": 2}, (), 1),
    "REVERSE_V2": ([X, i32(-1, 2)], {}, {1}, 1),
    "SPACE_TO_BATCH_ND": ([X, i32(2, 3), i32(0, 2, 1, 2).reshape(2, 2)], {}, {1, 2}, 1),
    "BATCH_TO_SPACE_ND": ([X.reshape(4, 1, 3, 10), i32(2, 2), i32(0, 1, 1, 2).reshape(2, 2)], {}, {1, 2}, 1),
    "FILL": ([i32(2, 3, 1), np.array(-77, np.int8)], {}, {0}, 1),
}


@pytest.mark.parametrize("op_type", sorted(EDGE_CASES))
@pytest.mark.parametrize("q", [Q, quant(0.5, -128), quant(1e-4, 127)])
def test_edge_case(op_type, q):
    inputs, attrs, const, n_out = EDGE_CASES[op_type]
    check(op_type, inputs, attrs, const, q, n_out=n_out)


@pytest.mark.parametrize("op_type", FREE_PARAMS + ("PAD",))
def test_raw_integers_are_copied_whatever_the_output_params(op_type):
    """LiteRT does not check these; it copies the integers, and so do we (PAD fills with
    the output's zero point)."""
    inputs, attrs, const, n_out = EDGE_CASES[op_type]
    check(op_type, inputs, attrs, const, Q, OTHER_Q, n_out)


def test_int16_fill():
    """The int16 FILL that zeroes an int8 LSTM's cell state (quantize/lstm.py)."""
    check("FILL", [i32(2, 5), np.array(-1234, np.int16)], {}, {0}, quant(2.0 ** -12, 0), dtype="int16")


def test_padv2_fills_with_its_constant():
    check("PADV2", [X, i32(1, 0, 0, 1, 2, 2, 0, 0).reshape(4, 2), np.array([-77], np.int8)], {}, {1, 2})


def test_uint8_data():
    rng = np.random.default_rng(2)
    x = data(rng, (2, 3, 4), "uint8")
    q = quant(0.2, 128)
    check("TRANSPOSE", [x, i32(2, 0, 1)], {}, {1}, q, dtype="uint8")
    check("PAD", [x, i32(1, 0, 0, 2, 1, 1).reshape(3, 2)], {}, {1}, q, quant(0.3, 100), dtype="uint8")
    check("CONCATENATION", [x, x[:1]], {"axis": 0}, (), q, dtype="uint8")


def test_uint8_concatenation_rescales_its_inputs():
    """uint8 CONCATENATION takes inputs of other params and requantizes them in float32."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        xs = [data(rng, (2, int(rng.integers(1, 4)), 3), "uint8") for _ in range(3)]
        qs = [quant(np.float32(10 ** rng.uniform(-2, 0)), int(rng.integers(0, 256))) for _ in range(4)]
        compare_int8_with_litert("CONCATENATION", xs, qs[:3], [qs[3]], {"axis": 1},
                                 output_dtype="uint8")


# ---- seeded random cases per op -------------------------------------------------------------

def shape_of(rng, rank, hi=5):
    return tuple(int(d) for d in rng.integers(1, hi + 1, rank))


def rank_of(rng, lo=1, hi=4):
    return int(rng.integers(lo, hi + 1))


def gen_reshape(rng):
    shape = shape_of(rng, rank_of(rng))
    target = [int(d) for d in rng.permutation(shape)]
    if rng.integers(0, 2):
        target[int(rng.integers(0, len(target)))] = -1
    return [data(rng, shape), i32(*target)], {}, {1}, 1


def gen_squeeze(rng):
    shape = tuple(d if rng.integers(0, 2) else 1 for d in shape_of(rng, rank_of(rng)))
    ones = [i for i, d in enumerate(shape) if d == 1 and rng.integers(0, 2)]
    dims = [i - len(shape) if rng.integers(0, 2) else i for i in ones]
    return [data(rng, shape)], {"squeeze_dims": dims}, (), 1


def gen_expand_dims(rng):
    rank = rank_of(rng)
    return [data(rng, shape_of(rng, rank)), i32(int(rng.integers(-rank - 1, rank + 1)))], {}, {1}, 1


def gen_transpose(rng):
    rank = rank_of(rng, 1, 5)
    return [data(rng, shape_of(rng, rank)), i32(*rng.permutation(rank))], {}, {1}, 1


def gen_gather(rng):
    shape = shape_of(rng, rank_of(rng))
    axis = int(rng.integers(-len(shape), len(shape)))
    indices = rng.integers(0, shape[axis], shape_of(rng, int(rng.integers(0, 3)), 3)).astype(np.int32)
    return [data(rng, shape), indices], {"axis": axis, "batch_dims": 0}, {1}, 1


def gen_gather_nd(rng):
    shape = shape_of(rng, rank_of(rng))
    depth = int(rng.integers(1, len(shape) + 1))
    batch = shape_of(rng, int(rng.integers(1, 3)), 3)
    indices = np.stack([rng.integers(0, d, batch) for d in shape[:depth]], -1).astype(np.int32)
    return [data(rng, shape), indices], {}, {1}, 1


def gen_strided_slice(rng):
    shape = shape_of(rng, rank_of(rng), 6)
    begin, end, strides, masks = [], [], [], {"begin_mask": 0, "end_mask": 0, "shrink_axis_mask": 0}
    for i, d in enumerate(shape):
        b = int(rng.integers(0, d))
        kind = int(rng.integers(0, 4))
        if kind == 0:  # backwards to the start
            strides.append(-int(rng.integers(1, 3)))
            end.append(0)
            masks["end_mask"] |= 1 << i
        elif kind == 1:  # one index, axis dropped
            strides.append(1)
            end.append(b + 1)
            masks["shrink_axis_mask"] |= 1 << i
        else:
            strides.append(int(rng.integers(1, 4)))
            end.append(int(rng.integers(b + 1, d + 1)) - (d if rng.integers(0, 2) else 0))
            masks["begin_mask"] |= int(rng.integers(0, 2)) << i
        begin.append(b - d if rng.integers(0, 2) else b)
    return [data(rng, shape), i32(*begin), i32(*end), i32(*strides)], masks, {1, 2, 3}, 1


def gen_slice(rng):
    shape = shape_of(rng, rank_of(rng), 6)
    begin = [int(rng.integers(0, d)) for d in shape]
    size = [int(rng.integers(1, d - b + 1)) if rng.integers(0, 3) else -1 for d, b in zip(shape, begin)]
    return [data(rng, shape), i32(*begin), i32(*size)], {}, {1, 2}, 1


def gen_split(rng):
    shape = list(shape_of(rng, rank_of(rng)))
    axis, num = int(rng.integers(0, len(shape))), int(rng.integers(1, 4))
    shape[axis] *= num
    return [i32(axis - len(shape) if rng.integers(0, 2) else axis), data(rng, tuple(shape))], \
        {"num_splits": num}, {0}, num


def gen_split_v(rng):
    shape = shape_of(rng, rank_of(rng), 7)
    axis = int(rng.integers(0, len(shape)))
    cuts = sorted(int(c) for c in rng.integers(0, shape[axis] + 1, int(rng.integers(0, 3))))
    sizes = [b - a for a, b in zip([0] + cuts, cuts + [shape[axis]])]
    if rng.integers(0, 2):
        sizes[int(rng.integers(0, len(sizes)))] = -1
    return [data(rng, shape), i32(*sizes), i32(axis)], {"num_splits": len(sizes)}, {1, 2}, len(sizes)


def gen_unpack(rng):
    shape = shape_of(rng, rank_of(rng))
    axis = int(rng.integers(-len(shape), len(shape)))
    return [data(rng, shape)], {"axis": axis, "num": shape[axis]}, (), shape[axis]


def gen_depth_to_space(rng):
    b = int(rng.integers(2, 4))
    n, h, w, c = shape_of(rng, 4, 3)
    return [data(rng, (n, h, w, b * b * c))], {"block_size": b}, (), 1


def gen_space_to_depth(rng):
    b = int(rng.integers(2, 4))
    n, h, w, c = shape_of(rng, 4, 3)
    return [data(rng, (n, h * b, w * b, c))], {"block_size": b}, (), 1


def gen_resize_nearest(rng):
    flags = [{}, {"align_corners": True}, {"half_pixel_centers": True}][int(rng.integers(0, 3))]
    size = i32(*(int(d) for d in rng.integers(1, 13, 2)))
    return [data(rng, shape_of(rng, 4, 6)), size], flags, {1}, 1


def gen_tile(rng):
    rank = rank_of(rng)
    return [data(rng, shape_of(rng, rank)), i32(*rng.integers(1, 4, rank))], {}, {1}, 1


def gen_broadcast_to(rng):
    shape = tuple(d if rng.integers(0, 2) else 1 for d in shape_of(rng, rank_of(rng)))
    target = tuple(int(rng.integers(1, 4)) if d == 1 else d for d in shape)
    target = shape_of(rng, int(rng.integers(0, 2)), 3) + target
    return [data(rng, shape), i32(*target)], {}, {1}, 1


def gen_pad(rng, limit=None):
    shape = shape_of(rng, rank_of(rng))
    cap = limit or (lambda d: 3)
    pads = [int(rng.integers(0, cap(d) + 1)) for d in shape for _ in range(2)]
    return [data(rng, shape), i32(*pads).reshape(len(shape), 2)], {}, {1}, 1


def gen_padv2(rng):
    inputs, _, _, _ = gen_pad(rng)
    return inputs + [data(rng, (1,))], {}, {1, 2}, 1


def gen_mirror_pad(rng):
    mode = str(rng.choice(["REFLECT", "SYMMETRIC"]))
    inputs, _, _, _ = gen_pad(rng, lambda d: d - 1 if mode == "REFLECT" else d)
    return inputs, {"mode": mode}, {1}, 1


def gen_concatenation(rng):
    shape = list(shape_of(rng, rank_of(rng)))
    axis = int(rng.integers(0, len(shape)))
    parts = []
    for _ in range(int(rng.integers(1, 5))):
        shape[axis] = int(rng.integers(1, 4))
        parts.append(data(rng, tuple(shape)))
    return parts, {"axis": axis - len(shape) if rng.integers(0, 2) else axis}, (), 1


def gen_pack(rng):
    shape = shape_of(rng, rank_of(rng, 0, 3))
    n = int(rng.integers(1, 5))
    axis = int(rng.integers(-len(shape) - 1, len(shape) + 1))
    return [data(rng, shape) for _ in range(n)], {"axis": axis, "values_count": n}, (), 1


def gen_reverse(rng):
    """One contiguous run of axes, in any order and sign (LiteRT refuses others)."""
    rank = rank_of(rng)
    first = int(rng.integers(0, rank))
    run = list(range(first, int(rng.integers(first + 1, rank + 1))))
    axes = [a - rank * int(rng.integers(0, 2)) for a in rng.permutation(run)]
    return [data(rng, shape_of(rng, rank)), i32(*axes)], {}, {1}, 1


def gen_space_to_batch(rng):
    m = int(rng.integers(1, 3))
    block = [int(b) for b in rng.integers(1, 4, m)]
    pads, spatial = [], []
    for b in block:
        lo, hi = (int(p) for p in rng.integers(0, 3, 2))
        blocks = -(-(lo + hi + 1) // b) + int(rng.integers(0, 2))  # at least one input row
        size = blocks * b - lo - hi
        pads += [lo, hi]
        spatial.append(size)
    shape = (int(rng.integers(1, 3)), *spatial, int(rng.integers(1, 4)))
    return [data(rng, shape), i32(*block), i32(*pads).reshape(m, 2)], {}, {1, 2}, 1


def gen_batch_to_space(rng):
    m = int(rng.integers(1, 3))
    block = [int(b) for b in rng.integers(1, 4, m)]
    spatial = [int(s) for s in rng.integers(1, 4, m)]
    crops = [c for b, s in zip(block, spatial) for c in (int(rng.integers(0, b * s)), 0)]
    shape = (int(rng.integers(1, 3)) * int(np.prod(block)), *spatial, int(rng.integers(1, 4)))
    return [data(rng, shape), i32(*block), i32(*crops).reshape(m, 2)], {}, {1, 2}, 1


GENERATORS = {
    "RESHAPE": gen_reshape, "SQUEEZE": gen_squeeze, "EXPAND_DIMS": gen_expand_dims,
    "TRANSPOSE": gen_transpose, "GATHER": gen_gather, "GATHER_ND": gen_gather_nd,
    "STRIDED_SLICE": gen_strided_slice, "SLICE": gen_slice, "SPLIT": gen_split,
    "SPLIT_V": gen_split_v, "UNPACK": gen_unpack, "DEPTH_TO_SPACE": gen_depth_to_space,
    "SPACE_TO_DEPTH": gen_space_to_depth, "RESIZE_NEAREST_NEIGHBOR": gen_resize_nearest,
    "TILE": gen_tile, "BROADCAST_TO": gen_broadcast_to, "PAD": gen_pad, "PADV2": gen_padv2,
    "MIRROR_PAD": gen_mirror_pad, "CONCATENATION": gen_concatenation, "PACK": gen_pack,
    "REVERSE_V2": gen_reverse, "SPACE_TO_BATCH_ND": gen_space_to_batch,
    "BATCH_TO_SPACE_ND": gen_batch_to_space,
}



@pytest.mark.parametrize("op_type", sorted(GENERATORS))
def test_random_cases_match_litert(op_type):
    rng = np.random.default_rng(sum(map(ord, op_type)))
    for _ in range(30):
        inputs, attrs, const, n_out = GENERATORS[op_type](rng)
        in_q = random_q(rng)
        # Ops that copy whatever the output params say get other params half the time.
        free = op_type in FREE_PARAMS + ("PAD",) and rng.integers(0, 2)
        check(op_type, inputs, attrs, const, in_q, random_q(rng) if free else in_q, n_out)


# ---- params LiteRT insists on ---------------------------------------------------------------

def litert_refuses(g) -> bool:
    try:
        litert(model_bytes(g), reference=True)
    except (RuntimeError, ValueError):
        return True
    return False


@pytest.mark.parametrize("op_type", EQUAL_PARAMS + ("CONCATENATION", "SPACE_TO_BATCH_ND"))
@pytest.mark.parametrize("out_q", [quant(0.07, -8), quant(0.0701, -9)], ids=["zero_point", "scale"])
def test_different_params_are_refused_like_litert(op_type, out_q):
    inputs, attrs, const, n_out = EDGE_CASES[op_type]
    g = quantized_graph(op_type, inputs, attrs, const, n_out, Q, out_q)
    assert litert_refuses(g)
    with pytest.raises(TocoError, match=f"quantized {op_type} needs its inputs and outputs?"):
        run_int8_ours(g, inputs)


def test_concatenation_inputs_must_agree():
    inputs, attrs, _, _ = EDGE_CASES["CONCATENATION"]
    g = quantized_graph("CONCATENATION", inputs, attrs, (), 1, Q, Q)
    g.tensors["in1"].quant = quant(0.07, 0)
    assert litert_refuses(g)
    with pytest.raises(TocoError, match="CONCATENATION.*'in1' has"):
        run_int8_ours(g, inputs)


def test_padv2_constant_must_share_the_output_params():
    inputs = [X, i32(1, 0, 0, 1, 2, 2, 0, 0).reshape(4, 2), np.array([5], np.int8)]
    g = quantized_graph("PADV2", inputs, {}, {1, 2}, 1, Q, Q)
    g.tensors["in2"].quant = OTHER_Q
    with pytest.raises(TocoError, match="PADV2.*constant value and output"):
        run_int8_ours(g, inputs)


@pytest.mark.parametrize("op_type", ["SELECT", "SELECT_V2"])
def test_select_copies_raw_values(op_type):
    """Measured: LiteRT's quantized SELECT/SELECT_V2 copy the chosen raw integers whatever the
    params (the quantizer gives both branches and the output one set)."""
    rng = np.random.default_rng(11)
    cond = rng.random((2, 3, 4)) < 0.5
    a, b = (rng.integers(-128, 128, (2, 3, 4)).astype(np.int8) for _ in range(2))
    for qa, qb, qo in ((quant(0.1, 1), quant(0.1, 1), quant(0.1, 1)),
                       (quant(0.1, 1), quant(0.2, 3), quant(0.05, -2))):
        compare_int8_with_litert(op_type, [cond, a, b], [None, qa, qb], [qo], {})
