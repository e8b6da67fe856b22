"""Operator versions: TFLite's rules one by one on tiny IR graphs, for the features the test
networks do not cover (tests/test_op_versions.py compares whole networks with TF's converter)."""
from __future__ import annotations

import numpy as np

from tests.support.irgraph import build
from tests.support.oracle import litert
from toco_py.ir import Graph, Op, QuantParams, const_tensor
from toco_py.tflite.reader import read_model
from toco_py.tflite.versions import op_version
from toco_py.tflite.writer import model_bytes

# ---- the rules on tiny graphs ---------------------------------------------------------------

def quantize(g: Graph, name: str, dtype: str, scales=(0.5,), axis: int = 0) -> None:
    """Retypes a tensor (constants get their data cast) with the given scales."""
    t = g.tensors[name]
    t.dtype = dtype
    if t.data is not None:
        t.data = np.zeros(t.data.shape, dtype)
    scale = np.asarray(scales, np.float32)
    t.quant = None if scales is None else QuantParams(scale, np.zeros(scale.shape, np.int64), axis)


def retype(g: Graph, dtype: str, *names: str, scales=(0.5,)) -> Graph:
    for name in names:
        quantize(g, name, dtype, scales)
    return g


def version(g: Graph, index: int = -1) -> int:
    return op_version(g, g.ops[index])


def conv_graph(op: str = "CONV_2D", out_channels: int = 4, in_channels: int = 2, **attrs) -> Graph:
    shape = (out_channels, 3, 3, in_channels) if op == "CONV_2D" else (1, 3, 3, out_channels)
    attrs = {"padding": "SAME", "stride_w": 1, "stride_h": 1, **attrs}
    if op == "DEPTHWISE_CONV_2D":
        attrs.setdefault("depth_multiplier", out_channels // in_channels)
    return build({"x": (1, 6, 6, in_channels)},
                 {"w": np.ones(shape, np.float32), "b": np.zeros(out_channels, np.float32)},
                 [(op, ["x", "w", "b"], ["y"], attrs)], ["y"])


def fc_graph(units: int = 3, bias: bool | None = True, **attrs) -> Graph:
    ins = ["x", "w"] + (["b"] if bias else [""] if bias is False else [])
    return build({"x": (2, 4)}, {"w": np.ones((units, 4), np.float32), "b": np.zeros(units, np.float32)},
                 [("FULLY_CONNECTED", ins, ["y"], attrs)], ["y"])


def test_conv_versions():
    assert version(conv_graph()) == 1
    assert version(conv_graph(dilation_w_factor=2, dilation_h_factor=2)) == 1  # no dilation rule
    assert version(retype(conv_graph(), "int8", "w", scales=[0.1] * 4)) == 5  # hybrid per-channel
    assert version(retype(conv_graph(), "int8", "w")) == 2  # hybrid per-tensor
    assert version(retype(conv_graph(out_channels=1), "int8", "w")) == 5  # one filter: "per channel"
    assert version(retype(conv_graph(), "int8", "x", "w", "y")) == 3
    assert version(retype(conv_graph(), "int8", "x", "y", scales=(0.1,))) == 1  # float weights
    grouped = conv_graph(in_channels=4)
    grouped.tensors["w"] = const_tensor("w", np.ones((4, 3, 3, 2), np.float32))  # 2 groups of 2 channels
    assert version(grouped) == 6


def test_depthwise_versions():
    assert version(conv_graph("DEPTHWISE_CONV_2D")) == 1
    assert version(conv_graph("DEPTHWISE_CONV_2D", dilation_h_factor=2)) == 2
    assert version(retype(conv_graph("DEPTHWISE_CONV_2D"), "int8", "w", scales=[0.1] * 4)) == 6
    assert version(retype(conv_graph("DEPTHWISE_CONV_2D"), "int8", "w")) == 4
    assert version(retype(conv_graph("DEPTHWISE_CONV_2D", dilation_w_factor=2), "int8", "x", "w", "y")) == 3


def test_fully_connected_versions():
    assert version(fc_graph()) == 1
    assert version(fc_graph(bias=None)) == 6  # two inputs
    assert version(fc_graph(bias=False)) == 1  # an absent bias is still an input, as in TF
    assert version(fc_graph(keep_num_dims=True)) == 5
    assert version(fc_graph(bias=None, keep_num_dims=True)) == 6
    assert version(retype(fc_graph(), "int8", "w", scales=[0.1] * 3)) == 12
    assert version(retype(fc_graph(units=1), "int8", "w")) == 12  # one unit: "per channel"
    assert version(retype(fc_graph(asymmetric_quantize_inputs=True), "int8", "w")) == 9
    assert version(retype(fc_graph(), "int8", "w")) == 3
    assert version(retype(fc_graph(), "int8", "x", "w", "y")) == 4
    assert version(retype(fc_graph(), "int16", "x", "w", "y")) == 7


def test_transpose_conv_versions():
    def graph(bias: bool = False, **attrs):
        attrs = {"padding": "SAME", "stride_w": 2, "stride_h": 2, **attrs}
        ins = ["shape", "w", "x"] + (["b"] if bias else [])
        return build({"x": (1, 3, 3, 2)},
                     {"shape": np.array([1, 6, 6, 4], np.int32), "w": np.ones((4, 3, 3, 2), np.float32),
                      "b": np.zeros(4, np.float32)},
                     [("TRANSPOSE_CONV", ins, ["y"], attrs)], ["y"])
    assert version(graph()) == 1
    assert version(graph(bias=True)) == 3
    assert version(graph(fused_activation_function="RELU")) == 4
    assert version(retype(graph(), "int8", "x", "w", "y")) == 2


def test_binary_versions():
    def graph(op, a=(1, 2, 3, 4, 5), b=(1, 1, 3, 4, 5)):
        return build({"a": a, "b": b}, {}, [(op, ["a", "b"], ["y"])], ["y"])
    assert [version(graph(op)) for op in ("SUB", "DIV", "MAXIMUM", "MINIMUM", "ADD", "MUL")] == [3, 2, 3, 3, 1, 1]
    assert [version(graph(op, b=(1, 2, 3, 4, 5))) for op in ("SUB", "DIV", "MAXIMUM")] == [1, 1, 1]
    assert [version(graph(op, (2, 3, 4, 5), (1, 3, 4, 5))) for op in ("SUB", "DIV", "MAXIMUM")] == [1, 1, 1]
    assert version(retype(graph("ADD", (2, 3), (2, 3)), "int8", "a", "b", "y")) == 2
    assert version(retype(graph("ADD", (2, 3), (2, 3)), "int16", "a", "b", "y", scales=None)) == 5
    assert version(retype(graph("ADD", (2, 3), (2, 3)), "int16", "a", "b", "y")) == 1  # pot_scale_int16
    assert version(retype(graph("ADD", (2, 3), (2, 3)), "int64", "a", "b", "y", scales=None)) == 4
    assert version(retype(graph("SUB", (2, 3), (2, 3)), "int8", "a", "b", "y")) == 2
    assert version(retype(graph("MAXIMUM", (2, 3), (2, 3)), "int16", "a", "b", "y")) == 4
    mul = retype(graph("MUL", (2, 3), (2, 3)), "int8", "a", "b", "y")
    assert version(mul) == 2
    mul.tensors["y"].quant.scale = np.array([0.25], np.float32)  # 0.5 * 0.5 / 0.25 >= 1
    assert version(mul) == 3
    assert version(retype(graph("MUL", (2, 3), (2, 3)), "int16", "a", "b", "y")) == 4
    assert version(retype(graph("MUL", (2, 3), (2, 3)), "int16", "a", "b", "y", scales=None)) == 7
    assert version(retype(graph("MUL", (2, 3), (2, 3)), "int64", "a", "b", "y", scales=None)) == 5


def test_unary_and_reduction_versions():
    cases = {  # op: (attrs, {dtype: version})
        "SOFTMAX": ({"beta": 1.0}, {"float32": 1, "int8": 2, "int16": 3}),
        "LOGISTIC": ({}, {"float32": 1, "int8": 2, "int16": 3}),
        "TANH": ({}, {"float32": 1, "int8": 2, "int16": 3}),
        "RELU": ({}, {"float32": 1, "int8": 2, "uint8": 2, "int16": 3}),
        "RELU6": ({}, {"float32": 1, "int8": 2, "int16": 3}),
        "RELU_N1_TO_1": ({}, {"float32": 1, "int8": 1}),
        "LEAKY_RELU": ({"alpha": 0.2}, {"float32": 1, "int8": 1, "int16": 2}),
        "HARD_SWISH": ({}, {"float32": 1, "int8": 1}),
        "GELU": ({}, {"float32": 1, "int8": 2, "uint8": 2, "int16": 1}),
        "EXP": ({}, {"float32": 1, "int8": 2, "int16": 2}),
        "SQRT": ({}, {"float32": 1, "int8": 2, "int16": 2}),
        "LOG": ({}, {"float32": 1, "int8": 2, "int16": 2}),
        "NEG": ({}, {"float32": 1, "int16": 1}),
        "RSQRT": ({}, {"float32": 1, "int8": 2, "int16": 3}),
        "L2_NORMALIZATION": ({}, {"float32": 1, "int8": 2}),
        "ABS": ({}, {"float32": 1, "int8": 2, "int16": 3}),
        "LOG_SOFTMAX": ({}, {"float32": 1, "int8": 2}),
        "MAX_POOL_2D": ({"padding": "VALID", "stride_w": 1, "stride_h": 1, "filter_width": 1,
                         "filter_height": 1}, {"float32": 1, "int8": 2, "int16": 3}),
        "DEPTH_TO_SPACE": ({"block_size": 2}, {"float32": 1, "int8": 2}),
        "SPACE_TO_DEPTH": ({"block_size": 2}, {"float32": 1, "int8": 2}),
    }
    for op, (attrs, by_dtype) in cases.items():
        for dtype, want in by_dtype.items():
            g = build({"x": (1, 4, 4, 4)}, {}, [(op, ["x"], ["y"], attrs)], ["y"])
            if dtype != "float32":
                retype(g, dtype, "x", "y")
            assert version(g) == want, (op, dtype)
    for op, want in {"MEAN": 3, "SUM": 1, "REDUCE_MAX": 3, "REDUCE_MIN": 3, "REDUCE_PROD": 2}.items():
        g = build({"x": (1, 4, 4, 4)}, {"axes": np.array([1, 2], np.int32)},
                  [(op, ["x", "axes"], ["y"], {"keep_dims": False})], ["y"])
        assert version(g) == 1
        assert version(retype(g, "int8", "x", "y")) == 2, op
        assert version(retype(g, "int16", "x", "y")) == want, op


def test_shape_op_versions():
    x5 = {"x": (1, 2, 3, 4, 5)}
    pad5 = build(x5, {"p": np.ones((5, 2), np.int32)}, [("PAD", ["x", "p"], ["y"])], ["y"])
    assert version(pad5) == 4
    pad4 = build({"x": (1, 2, 3, 4)}, {"p": np.ones((4, 2), np.int32)}, [("PAD", ["x", "p"], ["y"])], ["y"])
    assert version(pad4) == 1 and version(retype(pad4, "int8", "x", "y")) == 2
    assert version(retype(pad4, "int16", "x", "y")) == 3 and version(retype(pad4, "bool", "x", "y", scales=None)) == 5
    perm = build({"x": (1, 2, 3, 4, 5, 6)}, {"p": np.arange(6, dtype=np.int32)},
                 [("TRANSPOSE", ["x", "p"], ["y"])], ["y"])
    assert version(perm) == 6
    perm5 = build(x5, {"p": np.arange(5, dtype=np.int32)}, [("TRANSPOSE", ["x", "p"], ["y"])], ["y"])
    assert version(perm5) == 4 and version(retype(perm5, "int16", "x", "y")) == 5
    zeros, ones = np.zeros(5, np.int32), np.ones(5, np.int32)
    ss = {"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0, "shrink_axis_mask": 0}
    def strided(shape, **attrs):
        n = len(shape)
        return build({"x": shape}, {"b": zeros[:n], "e": np.array(shape, np.int32), "s": ones[:n]},
                     [("STRIDED_SLICE", ["x", "b", "e", "s"], ["y"], {**ss, **attrs})], ["y"])
    assert version(strided((1, 2, 3, 4))) == 1
    assert version(strided((1, 2, 3, 4, 5))) == 4
    with_offset = strided((1, 2, 3, 4))
    with_offset.ops[0].attrs["offset"] = True
    assert version(with_offset) == 8
    assert version(retype(strided((1, 2, 3, 4)), "int8", "x", "y")) == 2
    ss_new_axis = strided((2, 3))
    ss_new_axis.ops[0].attrs["new_axis_mask"] = 1
    assert version(ss_new_axis) == 6
    sl = build(x5, {"b": zeros, "s": np.array([1, 2, 3, 4, 5], np.int32)}, [("SLICE", ["x", "b", "s"], ["y"])], ["y"])
    assert version(sl) == 5
    resize = {"align_corners": False, "half_pixel_centers": False}
    for op in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
        def rs(op=op, **attrs):
            return build({"x": (1, 4, 4, 2)}, {"size": np.array([8, 8], np.int32)},
                         [(op, ["x", "size"], ["y"], {**resize, **attrs})], ["y"])
        assert version(rs()) == 1 and version(rs(half_pixel_centers=True)) == 3
        assert version(retype(rs(), "int8", "x", "y")) == 2 and version(retype(rs(), "int16", "x", "y")) == 4
    assert version(build({"x": (1, 4, 4, 2)}, {"size": np.array([8, 8], np.int32)},
                         [("RESIZE_BILINEAR", ["x", "size"], ["y"], {**resize, "align_corners": True})], ["y"])) == 1
    assert version(build({"x": (1, 4, 4, 2)}, {"size": np.array([8, 8], np.int32)},
                         [("RESIZE_NEAREST_NEIGHBOR", ["x", "size"], ["y"], {**resize, "align_corners": True})],
                         ["y"])) == 3
    split = build({"x": (4, 6)}, {"axis": np.array(1, np.int32)},
                  [("SPLIT", ["axis", "x"], ["y0", "y1"], {"num_splits": 2})], ["y0", "y1"])
    assert version(split) == 1
    assert version(retype(split, "int8", "x", "y0", "y1")) == 2 and version(retype(split, "int16", "x")) == 4
    concat = build({"a": (2, 3), "b": (2, 3)}, {}, [("CONCATENATION", ["a", "b"], ["y"], {"axis": 1})], ["y"])
    assert version(concat) == 1 and version(retype(concat, "int8", "a", "b", "y")) == 2
    assert version(retype(concat, "int16", "a", "b", "y")) == 3
    pack = build({"a": (2, 3), "b": (2, 3)}, {}, [("PACK", ["a", "b"], ["y"], {"values_count": 2, "axis": 0})], ["y"])
    assert version(pack) == 1 and version(retype(pack, "int8", "a", "b", "y")) == 2
    unpack = build({"x": (2, 3)}, {}, [("UNPACK", ["x"], ["a", "b"], {"num": 2, "axis": 0})], ["a", "b"])
    assert version(unpack) == 1 and version(retype(unpack, "int8", "x", "a", "b")) == 2
    plain = build({"a": (2, 3)}, {}, [], ["a"])
    for op in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TILE", "MIRROR_PAD", "PRELU", "SHAPE", "ZEROS_LIKE"):
        assert op_version(plain, Op(op, ["a"], ["a"])) == 1, op
    assert op_version(retype(plain, "int8", "a"), Op("TILE", ["a"], ["a"])) == 3


def test_gather_select_cast_and_friends():
    params = {"x": (5, 3)}
    idx = {"i": np.array([0, 2], np.int32)}
    gather = build(params, idx, [("GATHER", ["x", "i"], ["y"], {"axis": 0, "batch_dims": 0})], ["y"])
    assert version(gather) == 1 and version(retype(gather, "int8", "x", "y")) == 2
    gather.ops[0].attrs["batch_dims"] = 1
    assert version(gather) == 5
    gnd = build(params, {"i": np.array([[0], [2]], np.int32)}, [("GATHER_ND", ["x", "i"], ["y"])], ["y"])
    assert version(gnd) == 1 and version(retype(gnd, "int16", "x", "y")) == 3
    five = (1, 1, 2, 2, 2)
    sel = build({"a": five, "b": five}, {}, [("LESS", ["a", "b"], ["c"]), ("SELECT", ["c", "a", "b"], ["y"])], ["y"])
    assert version(sel) == 3 and version(sel, 0) == 1
    sel4 = build({"a": (2, 2), "b": (2, 2)}, {}, [("LESS", ["a", "b"], ["c"]), ("SELECT_V2", ["c", "a", "b"], ["y"])],
                 ["y"])
    assert version(sel4) == 1 and version(retype(sel4, "int16", "a", "b"), 0) == 3
    compare = {"EQUAL": (2, 5), "NOT_EQUAL": (2, 4), "GREATER": (2, 1), "GREATER_EQUAL": (2, 3),
               "LESS_EQUAL": (2, 1)}
    for op, (v8, v16) in compare.items():
        g = build({"a": (2, 2), "b": (2, 2)}, {}, [(op, ["a", "b"], ["y"])], ["y"])
        assert version(g) == 1
        assert version(retype(g, "int8", "a", "b")) == v8 and version(retype(g, "int16", "a", "b")) == v16, op
    cast = build({"x": (2, 3)}, {}, [("CAST", ["x"], ["y"], {"in_data_type": "float32", "out_data_type": "int32"})],
                 ["y"])
    assert version(cast) == 1
    for dtype, want in {"float16": 5, "int8": 3, "uint16": 4, "uint32": 2, "bfloat16": 7, "int64": 1}.items():
        cast.tensors["y"].dtype = dtype
        assert version(cast) == want, dtype
    bcast = build({"x": (1, 3)}, {"s": np.array([2, 3], np.int32)}, [("BROADCAST_TO", ["x", "s"], ["y"])], ["y"])
    assert version(bcast) == 2 and version(retype(bcast, "int8", "x", "y")) == 3
    fill = build({}, {"s": np.array([2, 3], np.int32), "v": np.array(1.5, np.float32)},
                 [("FILL", ["s", "v"], ["y"])], ["y"])
    assert version(fill) == 1
    for dtype, want in {"bool": 2, "int8": 3, "int16": 3, "float16": 4, "int32": 1}.items():
        fill.tensors["v"].dtype = dtype
        assert version(fill) == want, dtype
    rng = build({}, {"a": np.array(0, np.int32), "b": np.array(5, np.int32), "c": np.array(1, np.int32)},
                [("RANGE", ["a", "b", "c"], ["y"])], ["y"])
    assert version(rng) == 1 and version(retype(rng, "int64", "a", scales=None)) == 2
    argmax = build({"x": (2, 3)}, {"d": np.array(1, np.int32)},
                   [("ARG_MAX", ["x", "d"], ["y"], {"output_type": "int32"})], ["y"])
    assert version(argmax) == 1 and version(retype(argmax, "int8", "x")) == 2
    assert version(retype(argmax, "bool", "x", scales=None)) == 3
    bmm = build({"a": (2, 3, 4), "b": (2, 4, 5)}, {}, [("BATCH_MATMUL", ["a", "b"], ["y"],
                                                       {"adj_x": False, "adj_y": False})], ["y"])
    assert version(bmm) == 1 and version(retype(bmm, "int8", "b")) == 1
    bmm.ops[0].attrs["asymmetric_quantize_inputs"] = True
    assert version(bmm) == 4 and version(retype(bmm, "int8", "a", "y")) == 2


def test_quantize_dequantize_versions():
    g = build({"x": (3, 4)}, {}, [("QUANTIZE", ["x"], ["q"]), ("DEQUANTIZE", ["q"], ["y"])], ["y"])
    g.tensors["q"].shape = g.tensors["y"].shape = (3, 4)
    quantize(g, "q", "int8", scales=(0.1,))
    assert (version(g, 0), version(g, 1)) == (1, 2)
    quantize(g, "q", "int8", scales=[0.1] * 4, axis=1)
    assert (version(g, 0), version(g, 1)) == (3, 5)
    quantize(g, "q", "int8", scales=[0.1] * 2, axis=1)  # scales that do not fit the axis
    assert (version(g, 0), version(g, 1)) == (1, 2)
    quantize(g, "q", "int16")
    assert (version(g, 0), version(g, 1)) == (2, 3)
    quantize(g, "q", "uint8")
    assert (version(g, 0), version(g, 1)) == (1, 1)
    half = build({}, {"h": np.ones((2, 2), np.float16)}, [("DEQUANTIZE", ["h"], ["y"])], ["y"])
    assert version(half) == 3


def test_written_versions_are_the_rules_and_load_in_litert():
    """Versions reach the file, ops of one type with different versions get an operator code
    each, and LiteRT has kernels for them."""
    g = build({"x": (1, 6, 6, 2)},
              {"w": np.ones((1, 3, 3, 4), np.float32), "w2": np.ones((3, 144), np.float32),
               "b": np.zeros(4, np.float32), "s": np.array([1, 144], np.int32)},
              [("DEPTHWISE_CONV_2D", ["x", "w", "b"], ["d1"], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                                               "depth_multiplier": 2}),
               ("DEPTHWISE_CONV_2D", ["d1", "w", "b"], ["d2"], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                                                "depth_multiplier": 1, "dilation_w_factor": 2,
                                                                "dilation_h_factor": 2}),
               ("RESHAPE", ["d2", "s"], ["f"]),
               ("FULLY_CONNECTED", ["f", "w2"], ["y"], {"keep_num_dims": False})], ["y"])
    model = model_bytes(g)
    m = read_model(model)
    assert m.op_versions[0] == [op_version(g, op) for op in g.ops] == [1, 2, 1, 6]
    interp = litert(model, delegates=False)
    interp.set_tensor(interp.get_input_details()[0]["index"], np.ones((1, 6, 6, 2), np.float32))
    interp.invoke()
