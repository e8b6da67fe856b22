"""Builtin options of each op: which schema table holds them and how IR attrs map to fields.

One table serves the writer (attrs -> FlatBuffer) and the reader (FlatBuffer -> attrs).
Field names are the schema's (Conv2DOptions.StrideW ...); attr names are the schema's
snake_case names, which is what the IR uses.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

PADDING = ("SAME", "VALID")
ACTIVATION = ("NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT")
MIRROR_MODE = ("REFLECT", "SYMMETRIC")
TENSOR_TYPES = ("float32", "float16", "int32", "uint8", "int64", "string", "bool", "int16",
                "complex64", "int8", "float64", "complex128", "uint64", "resource", "variant",
                "uint32", "uint16", "int4", "bfloat16")
# The most elements a tensor can have: TFLite's kernels count them in an int.
MAX_TENSOR_ELEMENTS = (1 << 31) - 1


@dataclass(frozen=True)
class Kind:
    """How one field is stored: the FlatBuffer value from an attr, and back."""
    to_fb: Callable[[Any], Any]
    from_fb: Callable[[Any], Any]
    vector: bool = False
    string: bool = False


def _enum(names: tuple[str, ...]) -> Kind:
    return Kind(lambda v: names.index(v), lambda i: names[i] if 0 <= i < len(names) else f"?{i}")


INT = Kind(int, int)
FLOAT = Kind(float, float)
BOOL = Kind(bool, bool)
PAD = _enum(PADDING)
ACT = _enum(ACTIVATION)
MODE = _enum(MIRROR_MODE)
DTYPE = _enum(TENSOR_TYPES)
INTS = Kind(lambda v: np.asarray(v, dtype=np.int32), lambda v: [int(x) for x in v], vector=True)
STR = Kind(str, lambda v: v.decode("utf-8", "replace") if v else "", string=True)
FLOATS = Kind(lambda v: np.asarray(v, dtype=np.float32), lambda v: [float(x) for x in v], vector=True)

_ACT = ("FusedActivationFunction", "fused_activation_function", ACT)
_WINDOW = [("Padding", "padding", PAD), ("StrideW", "stride_w", INT), ("StrideH", "stride_h", INT)]
_DILATION = [("DilationWFactor", "dilation_w_factor", INT), ("DilationHFactor", "dilation_h_factor", INT)]
_CONV_3D = [("Padding", "padding", PAD), ("StrideD", "stride_d", INT), ("StrideW", "stride_w", INT),
            ("StrideH", "stride_h", INT), _ACT, ("DilationDFactor", "dilation_d_factor", INT)] + _DILATION

# op type -> (options table, [(schema field, attr, kind)])
# Control flow: the attrs that name subgraphs by index (ir.Graph.subgraphs).
SUBGRAPH_ATTRS = {
    "IF": ("then_subgraph_index", "else_subgraph_index"),
    "WHILE": ("cond_subgraph_index", "body_subgraph_index"),
    "CALL_ONCE": ("init_subgraph_index",),
}

OPTIONS: dict[str, tuple[str, list[tuple[str, str, Kind]]]] = {
    "CONV_2D": ("Conv2DOptions", _WINDOW + [_ACT] + _DILATION),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2DOptions",
                          _WINDOW + [("DepthMultiplier", "depth_multiplier", INT), _ACT] + _DILATION),
    "TRANSPOSE_CONV": ("TransposeConvOptions", _WINDOW + [_ACT]),
    "FULLY_CONNECTED": ("FullyConnectedOptions", [
        _ACT, ("KeepNumDims", "keep_num_dims", BOOL),
        ("AsymmetricQuantizeInputs", "asymmetric_quantize_inputs", BOOL)]),
    "MAX_POOL_2D": ("Pool2DOptions", _WINDOW + [
        ("FilterWidth", "filter_width", INT), ("FilterHeight", "filter_height", INT), _ACT]),
    "AVERAGE_POOL_2D": ("Pool2DOptions", _WINDOW + [
        ("FilterWidth", "filter_width", INT), ("FilterHeight", "filter_height", INT), _ACT]),
    "L2_POOL_2D": ("Pool2DOptions", _WINDOW + [
        ("FilterWidth", "filter_width", INT), ("FilterHeight", "filter_height", INT), _ACT]),
    # pot_scale_int16 (schema default true) lets a 16-bit op take the power-of-two path
    # (ops/int16/elementwise.py).
    "ADD": ("AddOptions", [_ACT, ("PotScaleInt16", "pot_scale_int16", BOOL)]),
    "SUB": ("SubOptions", [_ACT, ("PotScaleInt16", "pot_scale_int16", BOOL)]),
    "MUL": ("MulOptions", [_ACT]),
    "DIV": ("DivOptions", [_ACT]),
    "L2_NORMALIZATION": ("L2NormOptions", [_ACT]),
    "CONCATENATION": ("ConcatenationOptions", [("Axis", "axis", INT), _ACT]),
    "SOFTMAX": ("SoftmaxOptions", [("Beta", "beta", FLOAT)]),
    "LOG_SOFTMAX": ("LogSoftmaxOptions", []),
    "LEAKY_RELU": ("LeakyReluOptions", [("Alpha", "alpha", FLOAT)]),
    "GELU": ("GeluOptions", [("Approximate", "approximate", BOOL)]),
    "MEAN": ("ReducerOptions", [("KeepDims", "keep_dims", BOOL)]),
    "SUM": ("ReducerOptions", [("KeepDims", "keep_dims", BOOL)]),
    "REDUCE_MAX": ("ReducerOptions", [("KeepDims", "keep_dims", BOOL)]),
    "REDUCE_MIN": ("ReducerOptions", [("KeepDims", "keep_dims", BOOL)]),
    "REDUCE_PROD": ("ReducerOptions", [("KeepDims", "keep_dims", BOOL)]),
    "REDUCE_ANY": ("ReducerOptions", [("KeepDims", "keep_dims", BOOL)]),
    "REDUCE_ALL": ("ReducerOptions", [("KeepDims", "keep_dims", BOOL)]),
    "RESHAPE": ("ReshapeOptions", [("NewShape", "new_shape", INTS)]),
    "SQUEEZE": ("SqueezeOptions", [("SqueezeDims", "squeeze_dims", INTS)]),
    "EXPAND_DIMS": ("ExpandDimsOptions", []),
    "TRANSPOSE": ("TransposeOptions", []),
    "PAD": ("PadOptions", []),
    "PADV2": ("PadV2Options", []),
    "MIRROR_PAD": ("MirrorPadOptions", [("Mode", "mode", MODE)]),
    "PACK": ("PackOptions", [("ValuesCount", "values_count", INT), ("Axis", "axis", INT)]),
    "UNPACK": ("UnpackOptions", [("Num", "num", INT), ("Axis", "axis", INT)]),
    "SPLIT": ("SplitOptions", [("NumSplits", "num_splits", INT)]),
    "SPLIT_V": ("SplitVOptions", [("NumSplits", "num_splits", INT)]),
    "SHAPE": ("ShapeOptions", [("OutType", "out_type", DTYPE)]),
    "CAST": ("CastOptions", [("InDataType", "in_data_type", DTYPE),
                             ("OutDataType", "out_data_type", DTYPE)]),
    "ARG_MAX": ("ArgMaxOptions", [("OutputType", "output_type", DTYPE)]),
    "ARG_MIN": ("ArgMinOptions", [("OutputType", "output_type", DTYPE)]),
    "BATCH_MATMUL": ("BatchMatMulOptions", [("AdjX", "adj_x", BOOL), ("AdjY", "adj_y", BOOL),
                                            ("AsymmetricQuantizeInputs", "asymmetric_quantize_inputs", BOOL)]),
    "MAXIMUM": ("MaximumMinimumOptions", []),
    "MINIMUM": ("MaximumMinimumOptions", []),
    "SQUARED_DIFFERENCE": ("SquaredDifferenceOptions", []),
    "EXP": ("ExpOptions", []),
    "GATHER": ("GatherOptions", [("Axis", "axis", INT), ("BatchDims", "batch_dims", INT)]),
    "STRIDED_SLICE": ("StridedSliceOptions", [
        ("BeginMask", "begin_mask", INT), ("EndMask", "end_mask", INT),
        ("EllipsisMask", "ellipsis_mask", INT), ("NewAxisMask", "new_axis_mask", INT),
        ("ShrinkAxisMask", "shrink_axis_mask", INT), ("Offset", "offset", BOOL)]),
    "SLICE": ("SliceOptions", []),
    "TILE": ("TileOptions", []),
    "FILL": ("FillOptions", []),
    "RANGE": ("RangeOptions", []),
    "RANK": ("RankOptions", []),
    "ZEROS_LIKE": ("ZerosLikeOptions", []),
    "SELECT": ("SelectOptions", []),
    "SELECT_V2": ("SelectV2Options", []),
    "LESS": ("LessOptions", []),
    "LESS_EQUAL": ("LessEqualOptions", []),
    "GREATER": ("GreaterOptions", []),
    "GREATER_EQUAL": ("GreaterEqualOptions", []),
    "EQUAL": ("EqualOptions", []),
    "NOT_EQUAL": ("NotEqualOptions", []),
    "LOGICAL_AND": ("LogicalAndOptions", []),
    "LOGICAL_OR": ("LogicalOrOptions", []),
    "LOGICAL_NOT": ("LogicalNotOptions", []),
    "NEG": ("NegOptions", []),
    "ABS": ("AbsOptions", []),
    "POW": ("PowOptions", []),
    "FLOOR_DIV": ("FloorDivOptions", []),
    "FLOOR_MOD": ("FloorModOptions", []),
    "SQUARE": ("SquareOptions", []),
    "HARD_SWISH": ("HardSwishOptions", []),
    "BROADCAST_TO": ("BroadcastToOptions", []),
    "DEPTH_TO_SPACE": ("DepthToSpaceOptions", [("BlockSize", "block_size", INT)]),
    "SPACE_TO_DEPTH": ("SpaceToDepthOptions", [("BlockSize", "block_size", INT)]),
    "RESIZE_BILINEAR": ("ResizeBilinearOptions", [
        ("AlignCorners", "align_corners", BOOL), ("HalfPixelCenters", "half_pixel_centers", BOOL)]),
    "RESIZE_NEAREST_NEIGHBOR": ("ResizeNearestNeighborOptions", [
        ("AlignCorners", "align_corners", BOOL), ("HalfPixelCenters", "half_pixel_centers", BOOL)]),
    "LOCAL_RESPONSE_NORMALIZATION": ("LocalResponseNormalizationOptions", [
        ("Radius", "radius", INT), ("Bias", "bias", FLOAT), ("Alpha", "alpha", FLOAT),
        ("Beta", "beta", FLOAT)]),
    # Structural and array ops (issue 13).
    "TOPK_V2": ("TopKV2Options", []),
    "ONE_HOT": ("OneHotOptions", [("Axis", "axis", INT)]),
    "CUMSUM": ("CumsumOptions", [("Exclusive", "exclusive", BOOL), ("Reverse", "reverse", BOOL)]),
    "REVERSE_V2": ("ReverseV2Options", []),
    "SPACE_TO_BATCH_ND": ("SpaceToBatchNDOptions", []),
    "BATCH_TO_SPACE_ND": ("BatchToSpaceNDOptions", []),
    "UNSORTED_SEGMENT_SUM": ("UnsortedSegmentSumOptions", []),
    "UNSORTED_SEGMENT_PROD": ("UnsortedSegmentProdOptions", []),
    "UNSORTED_SEGMENT_MAX": ("UnsortedSegmentMaxOptions", []),
    "UNSORTED_SEGMENT_MIN": ("UnsortedSegmentMinOptions", []),
    "SEGMENT_SUM": ("SegmentSumOptions", []),
    "REVERSE_SEQUENCE": ("ReverseSequenceOptions", [("SeqDim", "seq_dim", INT), ("BatchDim", "batch_dim", INT)]),
    "BITCAST": ("BitcastOptions", []),
    "CONV_3D": ("Conv3DOptions", _CONV_3D),
    "CONV_3D_TRANSPOSE": ("Conv3DOptions", _CONV_3D),
    "IF": ("IfOptions", [("ThenSubgraphIndex", "then_subgraph_index", INT),
                         ("ElseSubgraphIndex", "else_subgraph_index", INT)]),
    "WHILE": ("WhileOptions", [("CondSubgraphIndex", "cond_subgraph_index", INT),
                               ("BodySubgraphIndex", "body_subgraph_index", INT)]),
    "CALL_ONCE": ("CallOnceOptions", [("InitSubgraphIndex", "init_subgraph_index", INT)]),
    "VAR_HANDLE": ("VarHandleOptions", [("Container", "container", STR), ("SharedName", "shared_name", STR)]),
    "READ_VARIABLE": ("ReadVariableOptions", []),
    "ASSIGN_VARIABLE": ("AssignVariableOptions", []),
    "QUANTIZE": ("QuantizeOptions", []),
    "DEQUANTIZE": ("DequantizeOptions", []),
    "DENSIFY": ("DensifyOptions", []),
    "FAKE_QUANT": ("FakeQuantOptions", [("Min", "min", FLOAT), ("Max", "max", FLOAT),
                                        ("NumBits", "num_bits", INT), ("NarrowRange", "narrow_range", BOOL)]),
    "RANDOM_UNIFORM": ("RandomOptions", [("Seed", "seed", INT), ("Seed2", "seed2", INT)]),
    # Elementwise long tail (issue 13)
    "ADD_N": ("AddNOptions", []),
    "BITWISE_XOR": ("BitwiseXorOptions", []),
    "RIGHT_SHIFT": ("RightShiftOptions", []),
    "BUCKETIZE": ("BucketizeOptions", [("Boundaries", "boundaries", FLOATS)]),
    # Scatter, diagonal and sparse writes (ops/scatter.py).
    "MATRIX_DIAG": ("MatrixDiagOptions", []),
    "MATRIX_SET_DIAG": ("MatrixSetDiagOptions", []),
    "SCATTER_ND": ("ScatterNdOptions", []),
    "DYNAMIC_UPDATE_SLICE": ("DynamicUpdateSliceOptions", []),
    "SPARSE_TO_DENSE": ("SparseToDenseOptions", [("ValidateIndices", "validate_indices", BOOL)]),
    # Object detection (ops/detection.py): empty tables, written as TensorFlow's converter does.
    "NON_MAX_SUPPRESSION_V4": ("NonMaxSuppressionV4Options", []),
    "NON_MAX_SUPPRESSION_V5": ("NonMaxSuppressionV5Options", []),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": ("UnidirectionalSequenceLSTMOptions", [
        _ACT, ("CellClip", "cell_clip", FLOAT), ("ProjClip", "proj_clip", FLOAT),
        ("TimeMajor", "time_major", BOOL),
        ("AsymmetricQuantizeInputs", "asymmetric_quantize_inputs", BOOL),
        ("DiagonalRecurrentTensors", "diagonal_recurrent_tensors", BOOL)]),
    # Data-dependent shapes (ops/dynamic.py).
    "WHERE": ("WhereOptions", []),
    "UNIQUE": ("UniqueOptions", [("IdxOutType", "idx_out_type", DTYPE)]),
}
# Attrs the schema does not store, which the reader sets to the type of the op's first output.
OUTPUT_TYPE_ATTRS = {"BITCAST": "out_type"}
# Builtins written without an options table: the schema has none for them, or one with no
# fields. Every builtin the registry defines is here or in OPTIONS (tests/test_op_tables.py).
NO_OPTIONS = frozenset({
    "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "TANH", "LOGISTIC", "PRELU", "ELU", "LOG",
    "SQRT", "RSQRT", "SIN", "COS", "FLOOR", "CEIL", "ROUND", "SIGN", "GATHER_ND",
    # Elementwise long tail (issue 13)
    "ATAN2",
    # Data-dependent shapes (ops/dynamic.py): BroadcastArgs has no options table.
    "BROADCAST_ARGS",
    # FFT and complex (ops/fft.py): their schema tables have no fields, and TF writes none.
    "RFFT2D", "COMPLEX_ABS", "REAL", "IMAG",
})
