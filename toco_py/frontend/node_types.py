"""Types of a TensorFlow node's outputs and inputs, read off its attrs: what an interior
input array (a tensor cut out of the middle of a graph) is typed as."""
from __future__ import annotations

from .tensors import dtype_name, shape_of

# Output dtypes that the usual attrs (T, dtype, out_type) do not give.
_BOOL_OUTPUTS = {
    "Less", "LessEqual", "Greater", "GreaterEqual", "Equal", "NotEqual", "ApproximateEqual",
    "LogicalAnd", "LogicalOr", "LogicalNot", "IsNan", "IsInf", "IsFinite", "InTopK", "InTopKV2",
    "IsVariableInitialized", "VarIsInitializedOp",
}
_OUTPUT_ATTRS = ("out_type", "output_type", "DstT", "Tout", "dtype", "T", "Tidx")
# Ops whose every output has type T, and per-output exceptions ("=dtype" is a literal).
_SAME_TYPE_OUTPUTS = {"Split", "SplitV", "Unpack", "Switch", "RefSwitch", "FusedBatchNorm",
                      "BroadcastGradientArgs"}
_OUTPUT_DTYPES = {
    "Merge": {1: "=int32"}, "RefMerge": {1: "=int32"}, "TopK": {1: "=int32"},
    "TopKV2": {1: "=int32"}, "Unique": {1: "out_idx"}, "UniqueV2": {1: "out_idx"},
    "FusedBatchNormV2": dict.fromkeys(range(1, 6), "U"),
    "FusedBatchNormV3": dict.fromkeys(range(1, 6), "U"),
    "MaxPoolWithArgmax": {1: "Targmax"}, "Rank": {0: "=int32"}, "Where": {0: "=int64"},
    "NonMaxSuppressionV3": {0: "=int32"}, "NonMaxSuppressionV4": {0: "=int32", 1: "=int32"},
}
# The type attr of each input of ops whose inputs differ in type (None: the last entry
# repeats; "=dtype" is a literal). Other ops: T, when it is their only type attr.
_INPUT_ATTRS = {
    "GatherV2": ["Tparams", "Tindices", "Taxis"], "Gather": ["Tparams", "Tindices"],
    "ResourceGather": ["=resource", "Tindices"], "Reshape": ["T", "Tshape"],
    "Transpose": ["T", "Tperm"], "Pad": ["T", "Tpaddings"], "PadV2": ["T", "Tpaddings", "T"],
    "MirrorPad": ["T", "Tpaddings"], "Tile": ["T", "Tmultiples"], "ExpandDims": ["T", "Tdim"],
    "Slice": ["T", "Index", "Index"], "StridedSlice": ["T", "Index", "Index", "Index"],
    "Sum": ["T", "Tidx"], "Mean": ["T", "Tidx"], "Max": ["T", "Tidx"], "Min": ["T", "Tidx"],
    "Prod": ["T", "Tidx"], "All": ["=bool", "Tidx"], "Any": ["=bool", "Tidx"],
    "ArgMax": ["T", "Tidx"], "ArgMin": ["T", "Tidx"], "Fill": ["index_type", "T"],
    "Select": ["=bool", "T", "T"], "SelectV2": ["=bool", "T", "T"], "Cast": ["SrcT"],
    "Split": ["=int32", "T"], "SplitV": ["T", "Tlen", "=int32"], "Range": ["Tidx"],
    "OneHot": ["TI", "=int32", "T", "T"], "Switch": ["T", "=bool"],
    "SparseSoftmaxCrossEntropyWithLogits": ["T", "Tlabels"],
    "SpaceToBatchND": ["T", "Tblock_shape", "Tpaddings"],
    "BatchToSpaceND": ["T", "Tblock_shape", "Tcrops"], "ResizeBilinear": ["T", "=int32"],
    "ResizeNearestNeighbor": ["T", "=int32"], "Concat": ["=int32", "T"],
    "LogicalAnd": ["=bool"], "LogicalOr": ["=bool"], "LogicalNot": ["=bool"],
}


def type_attr(node, key: str) -> str | None:
    if key.startswith("="):
        return key[1:]
    if key in node.attr and node.attr[key].WhichOneof("value") == "type":
        return dtype_name(node.attr[key].type)
    return None


def shape_attr(node, key: str) -> tuple | None:
    if key in node.attr and node.attr[key].WhichOneof("value") == "shape":
        return shape_of(node.attr[key].shape)
    return None


def output_dtype(node, index: int) -> str | None:
    """The dtype of output `index` of a node, from its attrs, when they tell."""
    if node.op in _BOOL_OUTPUTS:
        return "bool"
    special = _OUTPUT_DTYPES.get(node.op, {}).get(index)
    if special:
        return type_attr(node, special)
    if node.op == "IdentityN" and "T" in node.attr:
        types = node.attr["T"].list.type
        return dtype_name(types[index]) if index < len(types) else None
    if index == 0 or node.op in _SAME_TYPE_OUTPUTS:
        for key in _OUTPUT_ATTRS:
            found = type_attr(node, key)
            if found:
                return found
    return None


def input_dtype(node, position: int, count: int) -> str | None:
    """The dtype a node expects at its data input `position` (of `count`)."""
    if node.op == "ConcatV2":
        return type_attr(node, "Tidx" if position == count - 1 else "T")
    keys = _INPUT_ATTRS.get(node.op)
    if keys is not None:
        return type_attr(node, keys[min(position, len(keys) - 1)])
    types = [k for k, v in node.attr.items() if v.WhichOneof("value") == "type"]
    return type_attr(node, "T") if types == ["T"] else None
