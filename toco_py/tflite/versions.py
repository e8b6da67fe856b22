"""Operator versions, from the features each op uses, as TFLite's op_version rules set them.

Mirrors GetBuiltinOperatorVersion of tensorflow/compiler/mlir/lite/tools/versioning/
op_version.cc (commit 7ea41b2, the copy TensorFlow 2.21's converter runs; it differs from
tensorflow/lite/tools/versioning/op_version.cc only in newer cases: EQUAL int16 -> 5,
NOT_EQUAL int16 -> 4, PAD/PADV2 bool -> 5, SQRT int8/int16 -> 2, FULLY_CONNECTED int16 with
int4 weights -> 13, TRANSPOSE int4 -> 7), together with the extra facts op_signature.cc
gathers (per-channel weights, grouped convolution, whether inputs carry quantization).

Each rule looks at the op as the runtime will see it in the file our writer makes: tensor
types, ranks (unknown rank is written as an empty shape, unknown sizes as 1), whether a
tensor has quantization parameters (the writer adds them exactly when `Tensor.quant` is
set), and the builtin options the writer stores. Options the writer never stores keep their
schema defaults, so those branches are left out: quantized_bias_type (CONV_2D 8,
FULLY_CONNECTED 11, TRANSPOSE_CONV 5) and shuffled weights (FULLY_CONNECTED 2). Sparse
weights (FULLY_CONNECTED 8) are a tensor's: Tensor.sparsity.

16x8 models are the exception: TensorFlow's converter quantizes them with its older quantizer
(tools/optimize), which raises each quantized op's version to the one its OperatorProperty
names, instead of applying op_version.cc's int16 branches. Measured with TF 2.21
(tests/test_int16_conv.py): CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV 3, FULLY_CONNECTED
4, BATCH_MATMUL 2, a feature that needs more (FULLY_CONNECTED's keep_num_dims: 5) still
winning; the _16x8 rules say so, placed below the rules that give more.

Rules are ladders of (condition, version) tried in op_version.cc's order; the first
condition that holds gives the version, and 1 when none does. The op types op_version.cc has
no case for are version 1 (VERSION_1); every builtin the registry defines has a rule or is
there (tests/test_op_tables.py).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..ir import Graph, Op, Tensor

FLOAT_INT8_FLOAT = ("float32", "int8", "float32")  # a hybrid op: float activations, int8 weights


def op_version(graph: Graph, op: Op) -> int:
    rule = RULES.get(op.type)
    if rule is None:
        return 1
    sig = _Sig(graph, op)
    return next((version for cond, version in rule if cond(sig)), 1)


class _Sig:
    """The op as tflite::GetOpSignature describes it; absent or missing tensors have type ""
    (kTfLiteNoType) and rank 0."""

    def __init__(self, graph: Graph, op: Op) -> None:
        self.graph, self.op = graph, op

    def tensor(self, k: int, output: bool = False) -> Tensor | None:
        names = self.op.outputs if output else self.op.inputs
        return self.graph.tensors[names[k]] if k < len(names) and names[k] else None

    def i(self, k: int) -> str:
        t = self.tensor(k)
        return t.dtype if t is not None else ""

    def o(self, k: int) -> str:
        t = self.tensor(k, output=True)
        return t.dtype if t is not None else ""

    def dims(self, k: int) -> tuple[int, ...]:
        t = self.tensor(k)
        return tuple(d if d >= 0 else 1 for d in t.shape) if t is not None and t.shape else ()

    def rank(self, k: int) -> int:
        return len(self.dims(k))

    def types(self) -> tuple[str, str, str]:
        """(input 0, input 1, output 0): the kernel family of a weighted op."""
        return self.i(0), self.i(1), self.o(0)

    def attr(self, name: str, default=0):
        value = self.op.attrs.get(name)
        return default if value is None else value

    def quantized(self, k: int) -> bool:
        t = self.tensor(k)
        return t is not None and t.quant is not None

    def scale0(self, t: Tensor | None) -> float:
        """The first scale of a tensor, 0 when it has none."""
        if t is None or t.quant is None or np.size(t.quant.scale) == 0:
            return 0.0
        return float(np.asarray(t.quant.scale).reshape(-1)[0])

    def per_channel(self, k: int, dim: int | None = None, output: bool = False, min_scales: int = 1) -> bool:
        """As op_signature.cc: one scale per slice along `dim` (the quantized axis when None)."""
        t = self.tensor(k, output)
        if t is None or t.quant is None or not t.shape:
            return False
        dim = t.quant.axis if dim is None else dim
        n = int(np.size(t.quant.scale))
        shape = tuple(d if d >= 0 else 1 for d in t.shape)
        return min_scales <= n and 0 <= dim < len(shape) and shape[dim] == n


Rule = tuple[tuple[Callable[[_Sig], bool], int], ...]


def _in(k: int, *dtypes: str) -> Callable[[_Sig], bool]:
    return lambda s: s.i(k) in dtypes


def _out(k: int, *dtypes: str) -> Callable[[_Sig], bool]:
    return lambda s: s.o(k) in dtypes


def _in_out(dtype: str) -> Callable[[_Sig], bool]:
    """Input 0 and output 0 both of this type."""
    return lambda s: s.i(0) == dtype and s.o(0) == dtype


def _rank_over(n: int, k: int = 0) -> Callable[[_Sig], bool]:
    return lambda s: s.rank(k) > n


def _attr(name: str, default=0) -> Callable[[_Sig], bool]:
    """A builtin option set to something other than its schema default."""
    return lambda s: s.attr(name, default) != default


def _family(*dtypes: str) -> Callable[[_Sig], bool]:
    return lambda s: s.types() == dtypes


def _hybrid_per_channel(dim: int) -> Callable[[_Sig], bool]:
    return lambda s: s.types() == FLOAT_INT8_FLOAT and s.per_channel(1, dim)


def _broadcast_over_4d(s: _Sig) -> bool:
    """NeedBroadcastForBinaryInputs and GetInputMaxDims > 4."""
    return (len(s.op.inputs) >= 2 and s.dims(0) != s.dims(1)
            and max(s.rank(k) for k in range(len(s.op.inputs))) > 4)


def _grouped(s: _Sig) -> bool:
    """CONV_2D whose input channels differ from its filter's input channels (grouped)."""
    x, w = s.dims(0), s.dims(1)
    return bool(x) and len(x) > 3 and len(w) > 3 and x[3] != w[3]


def _general_int16(s: _Sig) -> bool:
    """An int16 ADD or SUB whose pot_scale_int16 option (default true) is false."""
    return s.i(0) == s.o(0) == "int16" and not s.attr("pot_scale_int16", True)


def _mul_rescale_at_least_1(s: _Sig) -> bool:
    a, b, out = s.scale0(s.tensor(0)), s.scale0(s.tensor(1)), s.scale0(s.tensor(0, output=True))
    return a != 0 and b != 0 and out != 0 and a * b / out >= 1.0


def _lstm_hybrid(s: _Sig) -> bool:
    return (s.i(0), s.i(2), s.o(0)) == FLOAT_INT8_FLOAT


def _by_input(k: int = 0, **versions: int) -> Rule:
    """A ladder on one input's type, in the order given: _by_input(int16=3, int8=2)."""
    return tuple((_in(k, dtype), v) for dtype, v in versions.items())


def _16x8(data: int = 0) -> Callable[[_Sig], bool]:
    """int16 activations (input `data` and output 0) with int8 weights (input 1)."""
    return lambda s: (s.i(data), s.i(1), s.o(0)) == ("int16", "int8", "int16")


_INT16_3_INT8_2 = _by_input(int16=3, int8=2)
_INT8_2 = _by_input(int8=2)
_INT8_INT16_2 = _by_input(int8=2, int16=2)
_POOL = ((_in_out("int16"), 3), (_in(0, "int8"), 2))
_ALWAYS = lambda s: True
_BLOCK_BATCH = ((_in(0, "int16"), 4), (lambda s: s.rank(0) != 4, 3), (_in(0, "int8"), 2))

RULES: dict[str, Rule] = {
    "CONV_2D": (
        (_grouped, 6),
        (lambda s: s.i(0) == s.i(1) == s.o(1) == "int16", 4),  # TF reads output 1 here
        (_16x8(), 3),
        (_family("int8", "int8", "int8"), 3),
        (_family("int8", "int4", "int8"), 7),
        (_hybrid_per_channel(0), 5),
        (_family(*FLOAT_INT8_FLOAT), 2)),
    "DEPTHWISE_CONV_2D": (
        (lambda s: s.i(0) == s.i(1) == s.o(1) == "int16", 5),  # output 1, as in TF
        (_16x8(), 3),
        (_hybrid_per_channel(3), 6),
        (_family(*FLOAT_INT8_FLOAT), 4),
        (_family("int8", "int8", "int8"), 3),
        (_family("int8", "int4", "int8"), 7),
        (_attr("dilation_w_factor", 1), 2),
        (_attr("dilation_h_factor", 1), 2)),
    "FULLY_CONNECTED": (
        (_family("int16", "int4", "int16"), 13),
        (_hybrid_per_channel(0), 12),
        # op_signature.cc's sparse_weight: the writer stores the weights sparse.
        (lambda s: s.tensor(1) is not None and s.tensor(1).sparsity is not None, 8),
        (_family("int16", "int16", "int16"), 7),
        # An absent bias still counts as an input (TFLite's -1): 6 needs exactly two.
        (lambda s: len(s.op.inputs) == 2, 6),
        (_attr("keep_num_dims", False), 5),
        (_16x8(), 4),
        (_family("int8", "int8", "int8"), 4),
        (_family("int8", "int4", "int8"), 10),
        (lambda s: s.types() == FLOAT_INT8_FLOAT and s.attr("asymmetric_quantize_inputs", False), 9),
        (_family(*FLOAT_INT8_FLOAT), 3)),
    "TRANSPOSE_CONV": (
        (_attr("fused_activation_function", "NONE"), 4),
        (_16x8(data=2), 3),
        (lambda s: len(s.op.inputs) == 4 and s.i(3) != "", 3),
        (_in(1, "int8"), 2)),
    "BATCH_MATMUL": (
        (_in(0, "int16"), 2),  # 16x8 (op_version.cc: 3)
        (_in(0, "int8"), 2),
        (lambda s: s.types() == FLOAT_INT8_FLOAT and s.attr("asymmetric_quantize_inputs", False), 4)),
    "ADD": (
        (lambda s: s.i(0) == "int16" and not s.quantized(0), 5),
        (_in(0, "int64"), 4),
        (_general_int16, 3),
        (_in(0, "int8"), 2)),
    "SUB": (
        (_general_int16, 5),
        (_in(0, "int64"), 4),
        (_broadcast_over_4d, 3),
        (_in(0, "int8"), 2)),
    "MUL": (
        (lambda s: (s.i(0) == "int16" and not (s.quantized(0) or s.quantized(1))) or s.i(0) == "uint32", 7),
        (_in(0, "complex64"), 6),
        (_in(0, "int64"), 5),
        (_in(0, "int16"), 4),
        (_mul_rescale_at_least_1, 3),
        (_in(0, "int8"), 2)),
    "DIV": ((_broadcast_over_4d, 2),),
    "MAXIMUM": ((_in_out("int16"), 4), (_broadcast_over_4d, 3), (_in(0, "int8"), 2)),
    "MINIMUM": ((_in_out("int16"), 4), (_broadcast_over_4d, 3), (_in(0, "int8"), 2)),
    "FLOOR_DIV": _by_input(int16=3, int8=3, float32=2),
    "FLOOR_MOD": _by_input(int16=2, int8=2),
    "SQUARED_DIFFERENCE": _INT8_2,
    "MAX_POOL_2D": _POOL,
    "AVERAGE_POOL_2D": _POOL,
    "TANH": _POOL,
    "LOGISTIC": _POOL,
    "SOFTMAX": _INT16_3_INT8_2,
    "MEAN": _INT16_3_INT8_2,
    "REDUCE_MAX": _INT16_3_INT8_2,
    "REDUCE_MIN": _INT16_3_INT8_2,
    "MIRROR_PAD": _INT16_3_INT8_2,
    "RELU6": _INT16_3_INT8_2,
    "RSQRT": _INT16_3_INT8_2,
    "SUM": _INT8_2,
    "LOG_SOFTMAX": _INT8_2,
    "EXP": _INT8_INT16_2,
    "LOG": _INT8_INT16_2,
    "SQRT": _INT8_INT16_2,
    "REDUCE_PROD": _INT8_INT16_2,
    "RELU": _by_input(int16=3, int8=2, uint8=2),
    "LEAKY_RELU": _by_input(int16=2),
    "GELU": _by_input(int8=2, uint8=2),
    "ABS": ((_in(0, "int32"), 5),
            (lambda s: s.i(0) == "int16" and s.quantized(0), 3),
            (_in(0, "int16"), 4),
            (_in(0, "int8", "uint8"), 2)),
    "SIGN": _by_input(int32=2),
    "L2_NORMALIZATION": ((_out(0, "int8"), 2),),
    "CONCATENATION": _by_input(uint32=4, int16=3, int8=2),
    "PACK": ((_in(0, "int8"), 2), (_in_out("int16"), 3), (_in(0, "uint32"), 4)),
    "UNPACK": ((_in(0, "int8", "uint8"), 2), (_in(0, "bool"), 3), (_in_out("int16"), 4)),
    "SPLIT": _by_input(1, int16=4, int32=3, int8=2),  # input 0 is the axis
    "SPLIT_V": _INT8_2,
    "SQUEEZE": _by_input(string=2),
    "TILE": _by_input(int8=3, string=2),
    "TRANSPOSE": ((_in(0, "int4"), 7), (_rank_over(5), 6), (_in(0, "int16"), 5),
                  (_rank_over(4), 4), (_in(0, "bool"), 3), (_in(0, "int8"), 2)),
    "PAD": ((_in(0, "bool"), 5), (_rank_over(4), 4), (_in(0, "int16"), 3), (_in(0, "int8"), 2)),
    "PADV2": ((_in(0, "bool"), 5), (_rank_over(4), 4), (_in(0, "int16"), 3), (_in(0, "int8"), 2)),
    "SLICE": ((_in(0, "uint32"), 6), (_rank_over(4), 5), (_in(0, "int16"), 4),
              (_in(0, "string"), 3), (_in(0, "int8"), 2)),
    "STRIDED_SLICE": (
        (_attr("offset", False), 8),
        (_in(0, "uint32"), 7),
        (_attr("ellipsis_mask"), 6),
        (_attr("new_axis_mask"), 6),
        (_in(0, "string"), 5),
        (_rank_over(4), 4),
        (_in(0, "bool"), 3),
        (_in(0, "int8"), 2)),
    "GATHER": ((_in(0, "int4"), 7), (_in(1, "int16"), 6), (_attr("batch_dims"), 5),
               (_in(0, "int16"), 4), (_in(0, "bool"), 3), (_in(0, "int8"), 2)),
    "GATHER_ND": ((_in(0, "bool"), 5), (_in(1, "int16"), 4), (_in(0, "int16"), 3), (_in(0, "string"), 2)),
    "DEPTH_TO_SPACE": _INT8_2,
    "SPACE_TO_DEPTH": _INT8_2,
    "RESIZE_BILINEAR": ((_in(0, "int16"), 4), (_attr("half_pixel_centers", False), 3), (_in(0, "int8"), 2)),
    "RESIZE_NEAREST_NEIGHBOR": ((_in(0, "int16"), 4), (_attr("half_pixel_centers", False), 3),
                                (_attr("align_corners", False), 3), (_in(0, "int8"), 2)),
    "ARG_MAX": _by_input(bool=3, int8=2),
    "ARG_MIN": _by_input(bool=3, int8=2),
    "EQUAL": _by_input(int16=5, string=3, int8=2),
    "NOT_EQUAL": _by_input(int16=4, string=3, int8=2),
    "LESS": _INT16_3_INT8_2,
    "GREATER_EQUAL": _INT16_3_INT8_2,
    "GREATER": _INT8_2,
    "LESS_EQUAL": _INT8_2,
    "SELECT": ((_in(0, "uint32"), 4), (lambda s: 5 in (s.rank(0), s.rank(1), s.rank(2)), 3), (_in(0, "int8"), 2)),
    "SELECT_V2": _by_input(uint32=2),
    "FILL": _by_input(1, float16=4, int8=3, int16=3, bool=2, string=2),  # input 1 is the value
    "RANGE": _by_input(int64=2),
    # LiteRT registers BROADCAST_TO from version 2 only (version 1 was withdrawn).
    "BROADCAST_TO": ((_in(0, "int8", "int16"), 3), (_ALWAYS, 2)),
    # Structural and array ops (issue 13).
    "TOPK_V2": ((lambda s: "int16" in (s.i(0), s.i(1), s.o(1)), 3), (_in(0, "int8"), 2)),
    "REVERSE_V2": _by_input(int8=3, bool=2),
    "SPACE_TO_BATCH_ND": _BLOCK_BATCH,
    "BATCH_TO_SPACE_ND": _BLOCK_BATCH,
    "SPARSE_TO_DENSE": _by_input(2, int8=3, uint8=3, int64=2),  # input 2 is the values
    "CAST": (
        (lambda s: "bfloat16" in (s.i(0), s.o(0)), 7),
        (lambda s: s.i(0) == "int4" and s.o(0) == "float32", 6),
        (lambda s: {s.i(0), s.o(0)} & {"float64", "float16"}, 5),
        (lambda s: "uint16" in (s.i(0), s.o(0)), 4),
        (lambda s: "int8" in (s.i(0), s.o(0)), 3),
        (lambda s: "uint32" in (s.i(0), s.o(0)), 2)),
    "DEQUANTIZE": (
        (_in(0, "int4"), 6),
        (_in(0, "int16", "float16"), 3),
        (lambda s: s.i(0) == "int8" and s.per_channel(0, min_scales=2), 5),
        (_in(0, "int8"), 2)),
    "FAKE_QUANT": ((_attr("narrow_range", False), 2),),
    "QUANTIZE": (
        (lambda s: "int4" in (s.i(0), s.o(0)), 4),
        (lambda s: s.per_channel(0, output=True, min_scales=2), 3),
        (_out(0, "int16"), 2)),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": (
        (lambda s: s.i(0) == "int16" and s.i(2) == "int8" and s.o(0) == "int16", 5),
        (_attr("diagonal_recurrent_tensors", False), 4),
        # Input 2 (input_to_forget_weights): input 1 is absent in a CIFG LSTM.
        (lambda s: _lstm_hybrid(s) and s.attr("asymmetric_quantize_inputs", False), 3),
        (_lstm_hybrid, 2)),
    # Data-dependent shapes (ops/dynamic.py).
    "WHERE": ((lambda s: s.i(0) != "bool", 2),),
    "DYNAMIC_UPDATE_SLICE": ((_in(2, "int64"), 2),),
}

# The registry's builtins that op_version.cc has no case for: always version 1.
VERSION_1 = frozenset({
    "RELU_N1_TO_1", "RELU_0_TO_1", "HARD_SWISH", "PRELU", "ELU", "RESHAPE", "EXPAND_DIMS", "POW",
    "LOGICAL_AND", "LOGICAL_OR", "NEG", "SQUARE", "SIN", "COS", "FLOOR", "CEIL", "ROUND",
    "LOGICAL_NOT", "SHAPE", "RANK", "ZEROS_LIKE", "RANDOM_UNIFORM", "REDUCE_ANY", "REDUCE_ALL",
    # Elementwise long tail (issue 13)
    "ADD_N", "ATAN2", "BITWISE_XOR", "RIGHT_SHIFT", "BUCKETIZE",
    # Structural and array ops (issue 13).
    "ONE_HOT", "CUMSUM", "LOCAL_RESPONSE_NORMALIZATION", "UNSORTED_SEGMENT_SUM",
    "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_MIN", "SEGMENT_SUM",
    "REVERSE_SEQUENCE", "BITCAST", "DENSIFY",
    "CONV_3D", "CONV_3D_TRANSPOSE",
    # Object detection (ops/detection.py).
    "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5",
    # Scatter and diagonal writes (ops/scatter.py).
    "MATRIX_DIAG", "MATRIX_SET_DIAG", "SCATTER_ND",
    # Data-dependent shapes (ops/dynamic.py).
    "UNIQUE", "BROADCAST_ARGS",
    # FFT and complex (ops/fft.py).
    "RFFT2D", "COMPLEX_ABS", "REAL", "IMAG",
    # Subgraphs and resource variables (ops/control_flow.py, ops/variables.py).
    "IF", "WHILE", "CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE",
})
