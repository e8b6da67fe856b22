"""QUANTIZE between integer types (LiteRT's Requantize: int8 / uint8 -> int8 / uint8 / int16,
int16 -> int8 / int16) against LiteRT's reference kernel, element for element, over every
input value; and the rounding it was measured to use."""
import numpy as np
import pytest

import toco_py.ops.quantize_ops as quantize_ops
from tests.support.kernel_check import compare_int8_with_litert, int8_graph, quant, run_int8_ours
from toco_py.errors import TocoError
from toco_py.ops.fixed_point import scale_single_rounding


def all_values(dtype):
    """Every value of the type (4096 spread over int16's range), 16 per row."""
    info = np.iinfo(dtype)
    values = np.arange(info.min, int(info.max) + 1)
    if values.size > 4096:
        values = np.linspace(info.min, info.max, 4096).round()
    return values.astype(dtype).reshape(-1, 16)


REQUANTIZE_CASES = [
    ("int8", quant(0.05, -3), "int8", quant(0.07, 10)),
    ("int8", quant(0.05, -3), "int8", quant(0.05, -3)),
    ("int8", quant(0.1, -128), "uint8", quant(0.1, 0)),  # XOR 0x80 fast path
    ("uint8", quant(0.1, 128), "int8", quant(0.1, 0)),  # XOR 0x80 fast path
    ("uint8", quant(0.02, 200), "uint8", quant(0.3, 7)),
    ("int8", quant(2.0, 127), "uint8", quant(0.01, 255)),  # multiplier above one
    ("uint8", quant(1e-4, 0), "int8", quant(50.0, -128)),  # a vanishing multiplier
    ("int16", quant(0.001, 0), "int16", quant(0.0003, 0)),
    ("int16", quant(0.001, 0), "int8", quant(0.2, -5)),
    ("int8", quant(0.05, -3), "int16", quant(0.001, 0)),
    ("uint8", quant(0.1, 128), "int16", quant(0.0007, 0)),
]


@pytest.mark.parametrize("src, in_q, dst, out_q", REQUANTIZE_CASES)
def test_requantize(src, in_q, dst, out_q):
    compare_int8_with_litert("QUANTIZE", [all_values(src)], [in_q], [out_q], {"output_type": dst},
                             output_dtype=dst)


def random_requantize(rng, src, dst):
    if rng.integers(0, 3) == 0:  # a simple ratio of scales: exact results often land on ties
        in_scale = np.float32(10 ** rng.uniform(-2, 0))
        out_scale = np.float32(in_scale * rng.choice([0.25, 0.5, 1.5, 2.0, 3.0, 6.0]))
    else:
        in_scale, out_scale = (np.float32(10 ** rng.uniform(-3, 1)) for _ in range(2))
    zeros = (int(rng.integers(np.iinfo(t).min, int(np.iinfo(t).max) + 1)) for t in (src, dst))
    return quant(in_scale, next(zeros)), quant(out_scale, next(zeros))


@pytest.mark.parametrize("src, dst", [("int8", "int8"), ("int8", "uint8"), ("uint8", "int8"),
                                      ("uint8", "uint8")])
def test_random_requantizations(src, dst):
    rng = np.random.default_rng(len(src) * 7 + len(dst))
    for _ in range(40):
        in_q, out_q = random_requantize(rng, src, dst)
        compare_int8_with_litert("QUANTIZE", [all_values(src)], [in_q], [out_q],
                                 {"output_type": dst}, output_dtype=dst)


def test_requantize_rounds_twice(monkeypatch):
    """Measured: LiteRT's Requantize uses gemmlowp's two roundings; one rounding differs."""
    in_q, out_q = quant(0.02, 3), quant(0.06, -1)  # ratio 1/3: ties at every third value
    compare_int8_with_litert("QUANTIZE", [all_values("int8")], [in_q], [out_q], {"output_type": "int8"})
    monkeypatch.setattr(quantize_ops, "scale_double_rounding", scale_single_rounding)
    with pytest.raises(AssertionError, match="elements differ"):
        compare_int8_with_litert("QUANTIZE", [all_values("int8")], [in_q], [out_q], {"output_type": "int8"})


def test_unsupported_requantization_is_refused():
    x = all_values("int16")
    g = int8_graph("QUANTIZE", [x], [quant(0.1)], [quant(0.1, 3)], {}, output_dtype="uint8")
    with pytest.raises(TocoError, match="cannot requantize int16 to uint8"):
        run_int8_ours(g, [x])
