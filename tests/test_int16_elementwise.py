"""16x8 binary ops against LiteRT's reference kernels, element for element.

Each parameter set sweeps a grid of int16 pairs at once (a column of ~512 values spread over
the whole range, with its extremes and the values around 0, against the same row); seeded
property tests then draw shapes, broadcasts, scales and inputs at random. int16 activations
are symmetric (zero point 0) unless a test says otherwise.
"""
import numpy as np
import pytest

from tests.support.kernel_check import int8_disagreement, int8_graph, quant, run_int8_ours
from toco_py.errors import ConversionError
from toco_py.ops.int16.elementwise import checked_log2, pot_shifts
from toco_py.tflite.versions import op_version

SPECIAL = [-32768, -32767, -16384, -2, -1, 0, 1, 2, 16384, 32766, 32767]
VALUES = np.unique(np.r_[np.round(np.linspace(-32768, 32767, 501)), SPECIAL]).astype(np.int16)
COLUMN, ROW = VALUES.reshape(-1, 1), VALUES.reshape(1, -1)
FULL = [np.ascontiguousarray(v) for v in np.broadcast_arrays(COLUMN, ROW)]  # no broadcasting
ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]
COMPARISONS = ["LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL"]

# (input 1, input 2, output) scales, none a power of two: the general path.
GENERAL = {
    "equal scales": (3e-4, 3e-4, 6e-4),
    "unequal scales": (1.5e-4, 4e-4, 5e-4),
    "tiny scales": (1e-9, 3e-10, 2e-9),
    "large scales": (40.0, 90.0, 150.0),
    "scales far apart": (1e-6, 10.0, 20.0),
    "saturating output": (0.5, 0.7, 0.01),
}
# All three powers of two, one input at the output's scale: ADD/SUB's power-of-two path.
POT = {
    "equal": (2.0 ** -10, 2.0 ** -10, 2.0 ** -10),
    "input 2 finer": (2.0 ** -10, 2.0 ** -13, 2.0 ** -10),
    "input 1 finer": (2.0 ** -16, 2.0 ** -8, 2.0 ** -8),
    "shifted out": (2.0 ** -30, 2.0 ** -5, 2.0 ** -5),  # a right shift past int16's 16 bits
}


def _q(scales, zeros=(0, 0, 0)):
    return [quant(s, z) for s, z in zip(scales, zeros)]


def _grid(op, scales, attrs=None, inputs=None, zeros=(0, 0, 0), output_dtype="int16") -> str:
    """Every grid pair through the op (None output scale: a comparison's bool output)."""
    q = _q(scales, zeros)
    out = [None] if scales[2] is None else [q[2]]
    return int8_disagreement(op, inputs or [COLUMN, ROW], q[:2], out, attrs or {},
                             output_dtype=output_dtype)


def _ours(op, inputs, scales, attrs=None, zeros=(0, 0, 0), output_dtype="int16"):
    q = _q(scales, zeros)
    g = int8_graph(op, inputs, q[:2], [q[2]], attrs or {}, output_dtype=output_dtype)
    return run_int8_ours(g, inputs)[0]


@pytest.mark.parametrize("scales", GENERAL.values(), ids=GENERAL.keys())
@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
def test_arithmetic_every_pair(op, scales):
    assert not _grid(op, scales, {"fused_activation_function": "NONE"})


@pytest.mark.parametrize("activation", ACTIVATIONS[1:])
@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
def test_fused_activations(op, activation):
    assert not _grid(op, GENERAL["unequal scales"], {"fused_activation_function": activation})


@pytest.mark.parametrize("scales", POT.values(), ids=POT.keys())
@pytest.mark.parametrize("op", ["ADD", "SUB"])
@pytest.mark.parametrize("pot_scale_int16", [True, False])
def test_power_of_two_scales(op, scales, pot_scale_int16):
    """pot_scale_int16 (the schema's default) sends power-of-two scales down the shift path;
    false keeps them on the general one. ADD's shift path cannot broadcast: full arrays."""
    attrs = {"fused_activation_function": "RELU_N1_TO_1" if "finer" in str(scales) else "NONE",
             "pot_scale_int16": pot_scale_int16}
    assert not _grid(op, scales, attrs, FULL)


@pytest.mark.parametrize("op", ["ADD", "SUB"])
def test_the_two_paths_differ(op):
    """Proof that LiteRT took the shift path above: the general arithmetic, on the same pairs
    and scales, gives other results (it rounds the rescaled sum, the shift path saturates
    an int16 sum); checked_log2 finds the powers of two."""
    scales = POT["input 2 finer"]
    assert [checked_log2(np.float32(s)) for s in scales] == [-10, -13, -10]
    assert checked_log2(np.float32(3e-4)) is None
    attrs = {"fused_activation_function": "NONE"}
    shifted = _ours(op, FULL, scales, attrs)
    general = _ours(op, FULL, scales, {**attrs, "pot_scale_int16": False})
    assert np.count_nonzero(shifted != general) > 1000


def test_sub_power_of_two_path_broadcasts():
    scales = POT["input 2 finer"]
    assert not _grid("SUB", scales, {"fused_activation_function": "RELU6"})


def test_add_power_of_two_path_refuses_broadcasting():
    # The reference Add(pot) checks equal sizes with TFLITE_CHECK: LiteRT would abort.
    with pytest.raises(ConversionError, match="cannot broadcast"):
        _ours("ADD", [COLUMN, ROW], POT["equal"], {"fused_activation_function": "NONE"})


@pytest.mark.parametrize("op", ["ADD", "SUB"])
@pytest.mark.parametrize("scales", [(2.0 ** -12, 2.0 ** -12, 2.0 ** -10), (2.0 ** -8, 2.0 ** -10, 2.0 ** -10)],
                         ids=["both inputs finer", "an input coarser"])
def test_power_of_two_path_refuses_unsupported_shifts(op, scales):
    a = np.zeros((3,), np.int16)
    with pytest.raises(ConversionError, match="power-of-two"):
        _ours(op, [a, a], scales, {"fused_activation_function": "NONE"})
    with pytest.raises(RuntimeError):  # LiteRT's Prepare fails the same way
        _grid(op, scales, {"fused_activation_function": "NONE"}, [a, a])


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
def test_nonzero_zero_points_are_refused(op):
    a = np.zeros((3,), np.int16)
    scales, zeros = GENERAL["unequal scales"], (0, 5, 0)
    with pytest.raises(ConversionError, match="zero point 0"):
        _ours(op, [a, a], scales, {"fused_activation_function": "NONE"}, zeros)
    with pytest.raises(RuntimeError):
        _grid(op, scales, {"fused_activation_function": "NONE"}, [a, a], zeros)


def test_mul_int16_inputs_int8_output():
    """reference_integer_ops::Mul(int16 -> int8): a Q0.15 product, the scales unused. It
    cannot broadcast (LiteRT aborts): full arrays."""
    for zero, act in [(0, "NONE"), (-20, "RELU"), (100, "RELU6")]:
        assert not _grid("MUL", (2.0 ** -15, 2.0 ** -15, 1 / 128), {"fused_activation_function": act},
                         FULL, zeros=(0, 0, zero), output_dtype="int8")
    with pytest.raises(ConversionError, match="cannot broadcast"):
        _ours("MUL", [COLUMN, ROW], (2.0 ** -15, 2.0 ** -15, 1 / 128), output_dtype="int8")


DIV_ROW = ROW[ROW != 0].reshape(1, -1)


@pytest.mark.parametrize("scales", [GENERAL[k] for k in ("equal scales", "unequal scales", "large scales")]
                         + [(3e-4, 2e-4, 3.0)], ids=["equal", "unequal", "large", "wide output"])
def test_div_every_pair(scales):
    assert not _grid("DIV", scales, {"fused_activation_function": "NONE"}, [COLUMN, DIV_ROW])


def test_div_refuses_a_zero_divisor():
    with pytest.raises(ConversionError, match="divides by zero"):
        _ours("DIV", [COLUMN, ROW], GENERAL["equal scales"], {"fused_activation_function": "NONE"})


@pytest.mark.parametrize("op", ["MAXIMUM", "MINIMUM"])
@pytest.mark.parametrize("scales", [(3e-4, 3e-4, 3e-4), (3e-4, 5e-3, 1e-4)], ids=["shared", "mismatched"])
def test_maximum_minimum_compare_stored_integers(op, scales):
    assert not _grid(op, scales)


@pytest.mark.parametrize("op", COMPARISONS)
@pytest.mark.parametrize("scales", [(3e-4, 3e-4), (3e-4, 7e-4), (0.99, 0.3), (1e-9, 3e-9)],
                         ids=["equal", "unequal", "near one", "tiny"])
def test_comparisons_every_pair(op, scales):
    """EQUAL and NOT_EQUAL rescale (left shift 8); the ordering comparisons compare the raw
    integers whatever the scales, in LiteRT as here."""
    assert not _grid(op, (*scales, None))


@pytest.mark.parametrize("op", ["LESS", "GREATER_EQUAL"])
def test_ordering_comparisons_ignore_large_scales(op):
    assert not _grid(op, (300.0, 700.0, None))


@pytest.mark.parametrize("op", ["EQUAL", "NOT_EQUAL"])
def test_equality_refuses_input_scales_from_one(op):
    """From scale 1 on, comparisons.cc rescales with a negative RoundingDivideByPOT exponent:
    on int16 values LiteRT's x86 result then depends on which input the value is (measured:
    -32768 at scale 700 maps to -2 as input 1 and to -1 as input 2), so it is refused."""
    q = [quant(700.0), quant(1 / 256)]
    with pytest.raises(ConversionError, match="undefined negative shift"):
        run_int8_ours(int8_graph(op, [COLUMN, ROW], q, [None], {}, output_dtype="int16"), [COLUMN, ROW])


BROADCAST_SHAPES = [
    ((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((4,), (2, 3, 4)), ((2, 1, 4), (3, 1)),
    ((1,), (2, 2, 2, 2, 3)), ((2, 1, 3, 1, 2, 2), (1, 2, 1, 2, 1, 2)), ((), (3, 2)), ((5, 1, 1), (1, 1, 7)),
]


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL", "DIV", "MAXIMUM", "EQUAL", "LESS"])
def test_random_shapes_and_scales(op):
    rng = np.random.default_rng(sum(map(ord, op)))
    for shapes in BROADCAST_SHAPES:
        a, b = (rng.integers(-32768, 32768, s).astype(np.int16) for s in shapes)
        if op == "DIV":
            b[b == 0] = 1
        top = -0.01 if op == "EQUAL" else 1  # EQUAL refuses input scales from 1 on
        s1, s2 = (float(10 ** rng.uniform(-6, top)) for _ in range(2))
        out = None if op in ("EQUAL", "LESS") else float(max(s1, s2) * 10 ** rng.uniform(-0.5, 1))
        if op == "MUL":
            out = s1 * s2 * float(10 ** rng.uniform(2, 5))
        if op == "DIV":
            out = s1 / s2 * float(10 ** rng.uniform(-4, -2))
        fused = op in ("ADD", "SUB", "MUL", "DIV")
        attrs = {"fused_activation_function": str(rng.choice(ACTIVATIONS))} if fused else {}
        problem = _grid(op, (s1, s2, out), attrs, [a, b])
        assert not problem, (shapes, s1, s2, out, attrs, problem)


def test_random_power_of_two_sub_broadcasts():
    rng = np.random.default_rng(7)
    for shapes in BROADCAST_SHAPES:
        a, b = (rng.integers(-32768, 32768, s).astype(np.int16) for s in shapes)
        out = -int(rng.integers(3, 15))
        finer = out - int(rng.integers(0, 20))
        scales = [2.0 ** out, 2.0 ** finer, 2.0 ** out][::1 if rng.integers(0, 2) else -1]
        assert not _grid("SUB", scales, {"fused_activation_function": "NONE"}, [a, b]), (shapes, scales)


# tflite/converter/tools/versioning/op_version.cc (google-ai-edge/LiteRT at f674577) on
# int16 inputs and outputs with quantization: ADD 3 and SUB 5 only with pot_scale_int16
# false (1 by default), MUL 4, MAXIMUM/MINIMUM 4, EQUAL 5, NOT_EQUAL 4, LESS/GREATER_EQUAL 3,
# GREATER/LESS_EQUAL 1, DIV 1.
VERSIONS = {("ADD", True): 1, ("ADD", False): 3, ("SUB", True): 1, ("SUB", False): 5, "MUL": 4,
            "DIV": 1, "MAXIMUM": 4, "MINIMUM": 4, "EQUAL": 5, "NOT_EQUAL": 4, "LESS": 3,
            "GREATER_EQUAL": 3, "GREATER": 1, "LESS_EQUAL": 1}


@pytest.mark.parametrize("key", VERSIONS, ids=str)
def test_op_versions(key):
    op, pot = key if isinstance(key, tuple) else (key, None)
    attrs = {} if pot is None else {"pot_scale_int16": pot}
    out = [None] if op in COMPARISONS else [quant(1e-3)]
    g = int8_graph(op, [COLUMN, ROW], [quant(1e-3), quant(1e-3)], out, attrs, output_dtype="int16")
    assert op_version(g, g.ops[0]) == VERSIONS[key]


def test_pot_shifts_read_the_option():
    g = int8_graph("ADD", [COLUMN, ROW], _q(POT["input 2 finer"])[:2], _q(POT["input 2 finer"])[2:],
                   {"pot_scale_int16": False}, output_dtype="int16")
    assert pot_shifts(g.ops[0], g) is None
    g.ops[0].attrs["pot_scale_int16"] = True
    assert pot_shifts(g.ops[0], g) == (0, -3)
