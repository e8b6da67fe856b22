"""The graphs of the op coverage benchmark (benchmarks/op_coverage.py): the op list read from
TF's converter (benchmarks/tf_converter_ops.txt), a one-op frozen-graph builder per op, the
patterns TF's converter rewrites as a whole, and why the rest get no graph."""
from __future__ import annotations

import inspect
from pathlib import Path

OPS_FILE = Path(__file__).resolve().parent / "tf_converter_ops.txt"

# Ops of the list no one-op inference graph is built for, and why.
NO_GRAPH = {
    **dict.fromkeys(("BiasAddGrad", "RsqrtGrad", "SeluGrad", "SigmoidGrad", "SqrtGrad", "TanhGrad",
                     "SoftmaxCrossEntropyWithLogits", "SparseSoftmaxCrossEntropyWithLogits"),
                    "training op (gradient or loss), not in inference graphs"),
    **dict.fromkeys(("Multinomial", "RandomStandardNormal", "RandomUniform", "Empty"),
                    "output is random or uninitialised: nothing to compare"),
    **dict.fromkeys(("XlaConvV2", "XlaDynamicUpdateSlice", "XlaGather", "XlaSharding"),
                    "XLA op: written by tf2xla bridges, not by graph-mode TF"),
    "VariableV2": "freezing turns variables into Const",
    "Const": "in every graph here",
    "Assert": "no data output: a side effect on a control edge",
    "Dequantize": "needs a quint8 input, which no float graph feeds",
}


def listed_ops() -> list[str]:
    return [ln.split("\t")[0] for ln in OPS_FILE.read_text().splitlines() if ln and not ln.startswith("#")]


def cases() -> dict[str, tuple]:
    """op -> (build, positive): build() makes the op on placeholders and returns its output
    tensors; positive: float inputs drawn from [0.5, 2] (the op's domain), else N(0, 1)."""
    import numpy as np
    import tensorflow as tf

    v1, raw = tf.compat.v1, tf.raw_ops

    def f(*shape, name="x"):
        return v1.placeholder(tf.float32, shape, name=name)

    def i(*shape, name="i"):
        return v1.placeholder(tf.int32, shape, name=name)

    def b(*shape, name="b"):
        return v1.placeholder(tf.bool, shape, name=name)

    def c(value, dtype=None):
        return tf.constant(value, dtype)

    def call(op, *inputs, **attrs):
        """tf.raw_ops.<op> with its inputs given in order (raw_ops takes keywords only)."""
        names = list(inspect.signature(getattr(raw, op)).parameters)
        return getattr(raw, op)(**dict(zip(names, inputs)), **attrs)

    rng = np.random.default_rng(0)

    def w(*shape):
        return c(rng.standard_normal(shape).astype(np.float32))

    table: dict[str, tuple] = {}
    unary = {"Abs": 0, "Ceil": 0, "Cos": 0, "Elu": 0, "Erf": 0, "Erfc": 0, "Exp": 0, "Expm1": 0, "Floor": 0,
             "Inv": 1, "IsFinite": 0, "IsInf": 0, "IsNan": 0, "L2Loss": 0, "Lgamma": 1, "Log": 1,
             "Log1p": 1, "LogSoftmax": 0, "Neg": 0, "OnesLike": 0, "Reciprocal": 1, "Relu": 0,
             "Relu6": 0, "Rint": 0, "Round": 0, "Rsqrt": 1, "Selu": 0, "Sigmoid": 0, "Sign": 0,
             "Sin": 0, "Softmax": 0, "Softplus": 0, "Softsign": 0, "Sqrt": 1, "Square": 0, "Tanh": 0,
             "ZerosLike": 0, "Identity": 0, "Snapshot": 0, "StopGradient": 0, "PreventGradient": 0,
             "Shape": 0, "Size": 0, "Rank": 0}
    for op, positive in unary.items():
        table[op] = (lambda op=op: [call(op, f(2, 3, 4) * 3)]
                     if op in ("Sin", "Cos", "Round", "Rint", "Floor", "Ceil") else [call(op, f(2, 3, 4))],
                     bool(positive))
    binary = {"Add": 0, "AddV2": 0, "Sub": 0, "Mul": 0, "Div": 0, "RealDiv": 0, "DivNoNan": 0,
              "MulNoNan": 0, "Maximum": 0, "Minimum": 0, "Pow": 1, "FloorDiv": 1, "FloorMod": 1,
              "SquaredDifference": 0, "Less": 0, "Greater": 0, "LessEqual": 0, "GreaterEqual": 0,
              "Equal": 0, "NotEqual": 0, "Xdivy": 1, "Xlogy": 1, "Xlog1py": 1}
    for op, positive in binary.items():
        table[op] = (lambda op=op: [call(op, f(2, 3, 4), f(3, 4, name="y"))], bool(positive))
    # TF's converter refuses a broadcasting ATAN2 ('tfl.atan2' op requires the same type for
    # all operands and results), so its graph does not broadcast.
    table["Atan2"] = (lambda: [raw.Atan2(y=f(3, 4), x=f(3, 4, name="y"))], False)
    for op in ("LogicalAnd", "LogicalOr"):
        table[op] = (lambda op=op: [call(op, b(3, 4), b(3, 4, name="b2"))], False)
    table["LogicalNot"] = (lambda: [call("LogicalNot", b(3, 4))], False)
    for op in ("BitwiseXor", "RightShift"):
        table[op] = (lambda op=op: [call(op, i(3, 4), c(np.full((3, 4), 1, np.int32)))], False)
    table["TruncateDiv"] = (lambda: [call("TruncateDiv", i(3, 4) - 2, c(3))], False)
    for op in ("Sum", "Mean", "Max", "Min", "Prod"):
        table[op] = (lambda op=op: [call(op, f(2, 3, 4), c([1]), keep_dims=False)], False)
    for op in ("All", "Any"):
        table[op] = (lambda op=op: [call(op, b(2, 3, 4), c([1]), keep_dims=True)], False)

    nhwc = {"strides": [1, 1, 1, 1], "padding": "SAME"}
    pool = {"ksize": [1, 2, 2, 1], "strides": [1, 2, 2, 1], "padding": "VALID"}
    table.update({
        "AddN": (lambda: [raw.AddN(inputs=[f(3, 4), f(3, 4, name="y"), f(3, 4, name="z")])], False),
        "ApproxTopK": (lambda: list(raw.ApproxTopK(input=f(2, 16), k=4))[:1], False),
        "ArgMax": (lambda: [raw.ArgMax(input=f(3, 5), dimension=c(1))], False),
        "ArgMin": (lambda: [raw.ArgMin(input=f(3, 5), dimension=c(1))], False),
        "AvgPool": (lambda: [raw.AvgPool(value=f(1, 8, 8, 3), **pool)], False),
        "MaxPool": (lambda: [raw.MaxPool(input=f(1, 8, 8, 3), **pool)], False),
        "BatchMatMul": (lambda: [raw.BatchMatMul(x=f(2, 3, 4), y=f(2, 4, 5, name="y"))], False),
        "BatchMatMulV2": (lambda: [raw.BatchMatMulV2(x=f(2, 3, 4), y=w(4, 5))], False),
        "BatchMatMulV3": (lambda: [raw.BatchMatMulV3(x=f(2, 3, 4), y=f(2, 4, 5, name="y"),
                                                     Tout=tf.float32)], False),
        "MatMul": (lambda: [raw.MatMul(a=f(3, 4), b=w(4, 5))], False),
        "SparseMatMul": (lambda: [raw.SparseMatMul(a=f(3, 4), b=w(4, 5))], False),
        "BatchNormWithGlobalNormalization": (lambda: [raw.BatchNormWithGlobalNormalization(
            t=f(1, 4, 4, 3), m=w(3), v=c([0.5, 1.0, 2.0]), beta=w(3), gamma=w(3),
            variance_epsilon=1e-3, scale_after_normalization=True)], False),
        "FusedBatchNormV3": (lambda: [raw.FusedBatchNormV3(
            x=f(1, 4, 4, 3), scale=w(3), offset=w(3), mean=w(3), variance=c([0.5, 1.0, 2.0]),
            is_training=False)[0]], False),
        "BatchToSpaceND": (lambda: [raw.BatchToSpaceND(input=f(4, 2, 2, 1), block_shape=c([2, 2]),
                                                       crops=c([[0, 0], [0, 0]]))], False),
        "SpaceToBatchND": (lambda: [raw.SpaceToBatchND(input=f(1, 4, 4, 1), block_shape=c([2, 2]),
                                                       paddings=c([[0, 0], [0, 0]]))], False),
        "BiasAdd": (lambda: [raw.BiasAdd(value=f(2, 4, 4, 3), bias=w(3))], False),
        "Bitcast": (lambda: [raw.Bitcast(input=f(3, 4), type=tf.int32)], False),
        "BroadcastArgs": (lambda: [raw.BroadcastArgs(s0=raw.Shape(input=f(1, 4)),
                                                     s1=raw.Shape(input=f(3, 1, name="y")))], False),
        "BroadcastTo": (lambda: [raw.BroadcastTo(input=f(1, 4), shape=c([3, 4]))], False),
        "Bucketize": (lambda: [raw.Bucketize(input=f(3, 4), boundaries=[-1.0, 0.0, 0.5])], False),
        "Cast": (lambda: [raw.Cast(x=f(3, 4) * 4, DstT=tf.int32)], False),
        "CheckNumerics": (lambda: [raw.CheckNumerics(tensor=f(3, 4), message="bad")], False),
        "RFFT": (lambda: [raw.ComplexAbs(x=raw.RFFT(input=f(2, 8), fft_length=c([8])))], False),
        "RFFT2D": (lambda: [raw.ComplexAbs(x=raw.RFFT2D(input=f(2, 4, 8), fft_length=c([4, 8])))], False),
        "ComplexAbs": (lambda: [raw.ComplexAbs(x=raw.RFFT(input=f(2, 8), fft_length=c([8])))], False),
        "Real": (lambda: [raw.Real(input=raw.RFFT(input=f(2, 8), fft_length=c([8])))], False),
        "Imag": (lambda: [raw.Imag(input=raw.RFFT(input=f(2, 8), fft_length=c([8])))], False),
        "ConcatV2": (lambda: [raw.ConcatV2(values=[f(2, 3), f(2, 4, name="y")], axis=c(1))], False),
        "Conv2D": (lambda: [raw.Conv2D(input=f(1, 8, 8, 3), filter=w(3, 3, 3, 4), **nhwc)], False),
        "Conv2DBackpropInput": (lambda: [raw.Conv2DBackpropInput(
            input_sizes=c([1, 8, 8, 3]), filter=w(3, 3, 3, 4), out_backprop=f(1, 4, 4, 4),
            strides=[1, 2, 2, 1], padding="SAME")], False),
        "Conv3D": (lambda: [raw.Conv3D(input=f(1, 4, 6, 6, 2), filter=w(2, 3, 3, 2, 4),
                                       strides=[1] * 5, padding="VALID")], False),
        "Conv3DBackpropInputV2": (lambda: [raw.Conv3DBackpropInputV2(
            input_sizes=c([1, 4, 6, 6, 2]), filter=w(2, 2, 2, 2, 4), out_backprop=f(1, 2, 3, 3, 4),
            strides=[1, 2, 2, 2, 1], padding="SAME")], False),
        "Cumsum": (lambda: [raw.Cumsum(x=f(3, 5), axis=c(1))], False),
        "DepthToSpace": (lambda: [raw.DepthToSpace(input=f(1, 2, 2, 8), block_size=2)], False),
        "SpaceToDepth": (lambda: [raw.SpaceToDepth(input=f(1, 4, 4, 2), block_size=2)], False),
        "DepthwiseConv2dNative": (lambda: [raw.DepthwiseConv2dNative(
            input=f(1, 8, 8, 3), filter=w(3, 3, 3, 2), **nhwc)], False),
        "DynamicStitch": (lambda: [raw.DynamicStitch(indices=[c([0, 2]), c([1, 3])],
                                                     data=[f(2, 3), f(2, 3, name="y")])], False),
        "ParallelDynamicStitch": (lambda: [raw.ParallelDynamicStitch(
            indices=[c([0, 2]), c([1, 3])], data=[f(2, 3), f(2, 3, name="y")])], False),
        "Einsum": (lambda: [raw.Einsum(inputs=[f(2, 3, 4), f(2, 4, 5, name="y")],
                                       equation="bij,bjk->bik")], False),
        "ExpandDims": (lambda: [raw.ExpandDims(input=f(3, 4), axis=c(1))], False),
        "Fill": (lambda: [raw.Fill(dims=c([2, 3]), value=f())], False),
        "FakeQuantWithMinMaxArgs": (lambda: [raw.FakeQuantWithMinMaxArgs(inputs=f(3, 4), min=-1.0,
                                                                         max=1.0)], False),
        "FakeQuantWithMinMaxVars": (lambda: [raw.FakeQuantWithMinMaxVars(inputs=f(3, 4), min=c(-1.0),
                                                                         max=c(1.0))], False),
        "Gather": (lambda: [raw.Gather(params=f(5, 3), indices=c([4, 0, 2]))], False),
        "GatherV2": (lambda: [raw.GatherV2(params=f(5, 3), indices=c([2, 0]), axis=c(1))], False),
        "GatherNd": (lambda: [raw.GatherNd(params=f(4, 3), indices=c([[1], [3]]))], False),
        "IdentityN": (lambda: raw.IdentityN(input=[f(3, 4), f(2, name="y")]), False),
        "InvertPermutation": (lambda: [raw.InvertPermutation(
            x=raw.TopKV2(input=f(6), k=c(6)).indices)], False),
        "LRN": (lambda: [raw.LRN(input=f(1, 4, 4, 8), depth_radius=2, bias=1.0, alpha=0.5,
                                 beta=0.75)], False),
        "LeakyRelu": (lambda: [raw.LeakyRelu(features=f(2, 3, 4), alpha=0.2)], False),
        "MatrixBandPart": (lambda: [raw.MatrixBandPart(input=f(4, 5), num_lower=c(1),
                                                       num_upper=c(2))], False),
        "MatrixDiag": (lambda: [raw.MatrixDiag(diagonal=f(2, 4))], False),
        "MatrixDiagV2": (lambda: [raw.MatrixDiagV2(diagonal=f(2, 4), k=c(0), num_rows=c(-1),
                                                   num_cols=c(-1), padding_value=c(0.0))], False),
        "MatrixDiagV3": (lambda: [raw.MatrixDiagV3(diagonal=f(2, 4), k=c(0), num_rows=c(-1),
                                                   num_cols=c(-1), padding_value=c(0.0))], False),
        "MatrixSetDiag": (lambda: [raw.MatrixSetDiag(input=f(2, 4, 4), diagonal=f(2, 4, name="y"))], False),
        "MatrixSetDiagV2": (lambda: [raw.MatrixSetDiagV2(input=f(2, 4, 4), diagonal=f(2, 4, name="y"),
                                                         k=c(0))], False),
        "MatrixSetDiagV3": (lambda: [raw.MatrixSetDiagV3(input=f(2, 4, 4), diagonal=f(2, 4, name="y"),
                                                         k=c(0))], False),
        "MirrorPad": (lambda: [raw.MirrorPad(input=f(1, 4, 4, 2), paddings=c([[0, 0], [1, 1], [1, 1], [0, 0]]),
                                             mode="REFLECT")], False),
        "NonMaxSuppressionV4": (lambda: list(raw.NonMaxSuppressionV4(
            boxes=f(10, 4), scores=f(10, name="s"), max_output_size=c(5), iou_threshold=c(0.5),
            score_threshold=c(-10.0), pad_to_max_output_size=True)), False),
        "NonMaxSuppressionV5": (lambda: list(raw.NonMaxSuppressionV5(
            boxes=f(10, 4), scores=f(10, name="s"), max_output_size=c(5), iou_threshold=c(0.5),
            score_threshold=c(-10.0), soft_nms_sigma=c(0.0), pad_to_max_output_size=True))[::2], False),
        "OneHot": (lambda: [raw.OneHot(indices=i(4), depth=c(5), on_value=c(1.0), off_value=c(0.0))], False),
        "Pack": (lambda: [raw.Pack(values=[f(3, 4), f(3, 4, name="y")], axis=1)], False),
        "Unpack": (lambda: raw.Unpack(value=f(3, 4), num=3, axis=0), False),
        "Pad": (lambda: [raw.Pad(input=f(1, 4, 4, 2), paddings=c([[0, 0], [1, 2], [1, 0], [0, 0]]))], False),
        "PadV2": (lambda: [raw.PadV2(input=f(1, 4, 4, 2), paddings=c([[0, 0], [1, 2], [1, 0], [0, 0]]),
                                     constant_values=c(0.5))], False),
        "PlaceholderWithDefault": (lambda: [raw.PlaceholderWithDefault(input=f(2, 3), shape=[2, 3]) * 2.0],
                                   False),
        "QuantizeAndDequantizeV4": (lambda: [raw.QuantizeAndDequantizeV4(
            input=f(3, 4), input_min=c(-1.0), input_max=c(1.0), range_given=True)], False),
        "Range": (lambda: [raw.Range(start=i(), limit=c(10), delta=c(1))], False),
        "Reshape": (lambda: [raw.Reshape(tensor=f(2, 6), shape=c([3, 4]))], False),
        "ResizeBilinear": (lambda: [raw.ResizeBilinear(images=f(1, 4, 4, 2), size=c([8, 8]))], False),
        "ResizeNearestNeighbor": (lambda: [raw.ResizeNearestNeighbor(images=f(1, 4, 4, 2),
                                                                     size=c([8, 8]))], False),
        "ReverseSequence": (lambda: [raw.ReverseSequence(input=f(3, 5), seq_lengths=c([1, 3, 5]),
                                                         seq_dim=1, batch_dim=0)], False),
        "ReverseV2": (lambda: [raw.ReverseV2(tensor=f(3, 5), axis=c([1]))], False),
        "Roll": (lambda: [raw.Roll(input=f(4, 5), shift=c([2]), axis=c([1]))], False),
        "ScatterNd": (lambda: [raw.ScatterNd(indices=c([[1], [3]]), updates=f(2, 3), shape=c([5, 3]))], False),
        "SegmentSum": (lambda: [raw.SegmentSum(data=f(4, 3), segment_ids=c([0, 0, 1, 2]))], False),
        "Select": (lambda: [raw.Select(condition=b(4, 3), x=f(4, 3), y=f(4, 3, name="y"))], False),
        "SelectV2": (lambda: [raw.SelectV2(condition=b(4, 1), t=f(4, 3), e=f(4, 3, name="y"))], False),
        "Slice": (lambda: [raw.Slice(input=f(4, 5), begin=c([1, 0]), size=c([2, 3]))], False),
        "Split": (lambda: raw.Split(axis=c(1), value=f(4, 6), num_split=3), False),
        "SplitV": (lambda: raw.SplitV(value=f(4, 6), size_splits=c([1, 2, 3]), axis=c(1), num_split=3), False),
        "SparseToDense": (lambda: [raw.SparseToDense(sparse_indices=c([[0, 1], [2, 3]]),
                                                     output_shape=c([3, 4]), sparse_values=f(2),
                                                     default_value=c(0.0))], False),
        "Squeeze": (lambda: [raw.Squeeze(input=f(1, 4, 1, 3), axis=[0, 2])], False),
        "StridedSlice": (lambda: [raw.StridedSlice(input=f(4, 6, 3), begin=c([1, 0, 0]), end=c([3, 6, 3]),
                                                   strides=c([1, 2, 1]))], False),
        "TensorScatterAdd": (lambda: [raw.TensorScatterAdd(tensor=f(5, 3), indices=c([[1], [3]]),
                                                           updates=f(2, 3, name="y"))], False),
        "TensorScatterUpdate": (lambda: [raw.TensorScatterUpdate(tensor=f(5, 3), indices=c([[1], [3]]),
                                                                 updates=f(2, 3, name="y"))], False),
        "Tile": (lambda: [raw.Tile(input=f(2, 3), multiples=c([2, 1]))], False),
        "TopKV2": (lambda: list(raw.TopKV2(input=f(2, 8), k=c(3))), False),
        "Transpose": (lambda: [raw.Transpose(x=f(2, 3, 4), perm=c([1, 0, 2]))], False),
        "Unique": (lambda: list(raw.Unique(x=i(8))), False),
        "Where": (lambda: [raw.Where(condition=b(4, 3))], False),
        "_UnaryOpsComposition": (lambda: [unary_composition(f(3, 4), ["Relu", "Tanh"])], False),
    })
    for op in ("UnsortedSegmentSum", "UnsortedSegmentMax", "UnsortedSegmentMin", "UnsortedSegmentProd"):
        table[op] = (lambda op=op: [call(op, f(4, 3), c([0, 1, 0, 2]), c(3))], False)

    # Patterns TF's converter rewrites as a whole (issue 13's examples), beside the op rows.
    def dilated_conv():
        x = raw.SpaceToBatchND(input=f(1, 8, 8, 3), block_shape=c([2, 2]), paddings=c([[2, 2], [2, 2]]))
        y = raw.Conv2D(input=x, filter=w(3, 3, 3, 4), strides=[1, 1, 1, 1], padding="VALID")
        return [raw.BatchToSpaceND(input=y, block_shape=c([2, 2]), crops=c([[0, 0], [0, 0]]))]

    table.update({
        "[pattern] dilated Conv2D (SpaceToBatchND Conv2D BatchToSpaceND)": (dilated_conv, False),
        "[pattern] GELU erf": (lambda: [tf.nn.gelu(f(2, 8), approximate=False)], False),
        "[pattern] GELU tanh": (lambda: [tf.nn.gelu(f(2, 8), approximate=True)], False),
        "[pattern] ExpandDims then Squeeze": (lambda: [raw.Squeeze(input=raw.ExpandDims(
            input=tf.nn.relu(f(3, 4)), axis=c(1)), axis=[1]) * 2.0], False),
        "[pattern] StridedSlice with an ellipsis": (lambda: [f(2, 3, 4, 5)[..., 1:3]], False),
    })
    return table


def unary_composition(x, names: list[str]):
    """A grappler-fused _UnaryOpsComposition node (raw_ops has no wrapper for it)."""
    import tensorflow as tf
    from tensorflow.core.framework import attr_value_pb2

    attrs = {"T": attr_value_pb2.AttrValue(type=x.dtype.as_datatype_enum),
             "op_names": attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(
                 s=[n.encode() for n in names]))}
    return x.graph.create_op("_UnaryOpsComposition", [x], [tf.float32], name="composition",
                             attrs=attrs).outputs[0]


def patterns() -> list[str]:
    return sorted(op for op in cases() if op.startswith("[pattern]"))
