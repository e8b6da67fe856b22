"""Each pass on a tiny IR graph: it rewrites what it should, leaves alone what it must not,
and the rewritten graph computes what the original did (IR kernels as the reference)."""
import copy

import numpy as np
import pytest

from tests.support.irgraph import build, evaluate, run_passes, types
from toco_py.errors import ConversionError
from toco_py.passes import (
    dedupe_ops,
    drop_fake_quant,
    fold_constants,
    fold_pad_into_conv,
    fold_zero_product,
    fuse_activation,
    fuse_bias_add,
    fuse_hard_swish,
    fuse_l2_normalization,
    fuse_mul_into_affine,
    fuse_softmax,
    legalize_concat,
    lower_batch_norm,
    materialize_conv_bias,
    materialize_identity,
    merge_reshapes,
    minmax_to_relu,
    remove_identity_reshape,
    remove_identity_transpose,
    remove_passthrough,
    remove_tile,
    remove_trivial_arithmetic,
    resolve_merge,
    resolve_random,
    resolve_select,
    resolve_switch,
    squeeze_to_reshape,
)

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.normal(0, 1, shape).astype(np.float32)


def same_results(before, after, feeds, rtol=1e-5):
    want, got = evaluate(before, feeds), evaluate(after, feeds)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=rtol, atol=1e-5)


def rewritten(make, *passes, feeds):
    """Builds the graph (random constants drawn from a reseeded RNG), runs the passes on a
    deep copy, checks both compute the same. The copy shares no array with the original,
    so a pass changing a constant in place cannot change `before` too."""
    global RNG
    RNG = np.random.default_rng(1)
    before = make()
    after = copy.deepcopy(before)
    run_passes(after, *passes)
    same_results(before, after, feeds)
    return after


X = {"x": rand(1, 6, 6, 4)}


def test_fold_constants_and_size_limit(monkeypatch):
    make = lambda: build({"x": (2, 3)}, {"a": rand(2, 3), "b": rand(2, 3)},
                         [("MUL", ["a", "b"], ["ab"]), ("ADD", ["x", "ab"], ["y"])], ["y"])
    g = rewritten(make, fold_constants.PASS, feeds={"x": rand(2, 3)})
    assert types(g) == ["ADD"]
    # A fill that would create more bytes than the limit (and than its inputs) stays.
    monkeypatch.setattr(fold_constants, "size_limit", 1000)
    g = build({"x": (1,)}, {"dims": np.array([100, 100], np.int32), "v": np.float32(1)},
              [("FILL", ["dims", "v"], ["big"]), ("ADD", ["x", "big"], ["y"])], ["y"])
    run_passes(g, fold_constants.PASS)
    assert types(g) == ["FILL", "ADD"]


def test_fold_shape_of_static_tensor():
    g = build({"x": (2, 5, 7)}, {}, [("SHAPE", ["x"], ["s"]), ("RESHAPE", ["x", "s"], ["y"])], ["y"])
    run_passes(g, fold_constants.PASS)
    assert types(g) == ["RESHAPE"]
    assert g.tensors["s"].data.tolist() == [2, 5, 7]


def test_remove_passthrough():
    make = lambda: build({"x": (3,)}, {}, [("Identity", ["x"], ["a"]), ("CheckNumerics", ["a"], ["b"]),
                                           ("RELU", ["b"], ["c"]), ("StopGradient", ["c"], ["y"])], ["y"])
    g = rewritten(make, remove_passthrough.PASS, feeds={"x": rand(3)})
    assert types(g) == ["RELU"] and g.outputs == ["y"] and g.ops[0].outputs == ["y"]


def test_materialize_identity_between_input_and_output():
    g = build({"x": (3,)}, {}, [("Identity", ["x"], ["y"])], ["y"])
    run_passes(g, remove_passthrough.PASS)
    assert types(g) == ["Identity"]
    run_passes(g, materialize_identity.PASS)
    assert types(g) == ["RESHAPE"]


def test_resolve_switch_and_merge_keep_taken_branch():
    def make(pred):
        return build({"x": (4,)}, {"p": np.array(pred)},
                     [("Switch", ["x", "p"], ["sw", "sw:1"]),
                      ("RELU", ["sw"], ["f"]), ("TANH", ["sw:1"], ["t"]),
                      ("Merge", ["f", "t"], ["m", "m:1"]), ("NEG", ["m"], ["y"])], ["y"])
    for pred, kept in ((False, "RELU"), (True, "TANH")):
        g = make(pred)
        run_passes(g, resolve_switch.PASS, resolve_merge.PASS)
        assert types(g) == [kept, "NEG"]
    g = build({"x": (4,), "p": (1,)}, {},
              [("Switch", ["x", "p"], ["sw", "sw:1"]), ("Merge", ["sw", "sw:1"], ["y", "y:1"])], ["y"])
    run_passes(g, resolve_switch.PASS, resolve_merge.PASS)
    assert types(g) == ["Switch", "Merge"], "a runtime predicate stays (and is reported later)"


def test_resolve_switch_refuses_output_of_dead_branch():
    g = build({"x": (4,)}, {"p": np.array(False)},
              [("Switch", ["x", "p"], ["sw", "sw:1"]), ("TANH", ["sw:1"], ["y"])], ["y"])
    with pytest.raises(ConversionError, match="never takes"):
        run_passes(g, resolve_switch.PASS)


def test_resolve_random_dropout_with_keep_probability_one():
    def make(rate):
        return build({"x": (2, 8)}, {"shape": np.array([2, 8], np.int32), "rate": np.float32(rate),
                                     "zeros": np.zeros((2, 8), np.float32)},
                     [("RELU", ["x"], ["h"]), ("RandomUniform", ["shape"], ["u"]),
                      ("GREATER_EQUAL", ["u", "rate"], ["keep"]), ("SELECT_V2", ["keep", "h", "zeros"], ["y"])],
                     ["y"])
    g = make(0.0)
    run_passes(g, resolve_random.PASS, resolve_select.PASS)
    assert types(g) == ["RELU"]
    g = make(0.5)
    run_passes(g, resolve_random.PASS, resolve_select.PASS)
    assert "RandomUniform" in types(g), "a real dropout rate keeps its randomness"


def test_resolve_random_tf1_floor_form():
    g = build({"x": (2, 8)}, {"shape": np.array([2, 8], np.int32), "keep": np.float32(1.0)},
              [("RELU", ["x"], ["h"]), ("RandomUniform", ["shape"], ["u"]), ("ADD", ["keep", "u"], ["k"]),
               ("FLOOR", ["k"], ["mask"]), ("MUL", ["h", "mask"], ["y"])], ["y"])
    run_passes(g, resolve_random.PASS, fold_constants.PASS, remove_trivial_arithmetic.PASS)
    assert types(g) == ["RELU"]


def test_remove_trivial_arithmetic_keeps_broadcasting_ones():
    make = lambda: build({"x": (2, 3)}, {"one": np.float32(1), "zero": np.zeros(3, np.float32)},
                         [("RELU", ["x"], ["h"]), ("MUL", ["h", "one"], ["a"]), ("SUB", ["a", "zero"], ["y"])],
                         ["y"])
    assert types(rewritten(make, remove_trivial_arithmetic.PASS, feeds={"x": rand(2, 3)})) == ["RELU"]
    g = build({"x": (3,)}, {"one": np.ones((2, 3), np.float32)}, [("MUL", ["x", "one"], ["y"])], ["y"])
    run_passes(g, remove_trivial_arithmetic.PASS)
    assert types(g) == ["MUL"], "x * ones((2,3)) broadcasts x: not a no-op"


def test_remove_tile_into_broadcast():
    make = lambda: build({"x": (4, 6)}, {"row": rand(1, 6), "mult": np.array([4, 1], np.int32),
                                         "ones": np.array([1, 1], np.int32)},
                         [("TILE", ["row", "mult"], ["tiled"]), ("MUL", ["x", "tiled"], ["a"]),
                          ("TILE", ["a", "ones"], ["y"])], ["y"])
    assert types(rewritten(make, remove_tile.PASS, feeds={"x": rand(4, 6)})) == ["MUL"]


def test_tile_feeding_non_broadcasting_op_stays():
    g = build({"x": (1, 6)}, {"mult": np.array([4, 1], np.int32)},
              [("TILE", ["x", "mult"], ["t"]), ("RELU", ["t"], ["y"])], ["y"])
    run_passes(g, remove_tile.PASS)
    assert types(g) == ["TILE", "RELU"]


def test_lower_batch_norm_then_fold_into_conv():
    c = 4
    consts = {"w": rand(c, 3, 3, 4), "scale": rand(c), "offset": rand(c), "mean": rand(c),
              "var": np.abs(rand(c)) + 0.5}
    make = lambda: build({"x": (1, 6, 6, 4)}, consts,
                         [("CONV_2D", ["x", "w", ""], ["conv"], {"padding": "SAME"}),
                          ("FusedBatchNorm", ["conv", "scale", "offset", "mean", "var"],
                           ["bn", "bn:1", "bn:2", "bn:3", "bn:4"], {"epsilon": 1e-3, "is_training": False}),
                          ("RELU6", ["bn"], ["y"])], ["y"])
    g = rewritten(make, lower_batch_norm.PASS, fuse_bias_add.PASS, fuse_mul_into_affine.PASS,
                  fuse_activation.PASS, feeds=X)
    assert types(g) == ["CONV_2D"] and g.ops[0].attrs["fused_activation_function"] == "RELU6"


def test_batch_norm_without_affine_producer_becomes_mul_add():
    consts = {"scale": rand(4), "offset": rand(4), "mean": rand(4), "var": np.abs(rand(4)) + 0.5}
    make = lambda: build({"x": (1, 6, 6, 4)}, consts,
                         [("FusedBatchNorm", ["x", "scale", "offset", "mean", "var"],
                           ["y", "y:1", "y:2", "y:3", "y:4"], {"epsilon": 1e-3, "is_training": True})], ["y"])
    # Training mode normalizes by the batch's own statistics: computed by builtins.
    assert types(rewritten(make, lower_batch_norm.PASS, feeds=X)) == [
        "MEAN", "SQUARED_DIFFERENCE", "MEAN", "ADD", "RSQRT", "MUL", "SUB", "MUL", "ADD"]
    make_inference = lambda: build({"x": (1, 6, 6, 4)}, consts,
                                   [("FusedBatchNorm", ["x", "scale", "offset", "mean", "var"],
                                     ["y", "y:1", "y:2", "y:3", "y:4"], {"epsilon": 1e-3, "is_training": False})],
                                   ["y"])
    assert types(rewritten(make_inference, lower_batch_norm.PASS, feeds=X)) == ["MUL", "ADD"]


@pytest.mark.parametrize("affine", ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"])
def test_bias_and_scale_fold_into_affine(affine):
    w = {"CONV_2D": rand(5, 3, 3, 4), "DEPTHWISE_CONV_2D": rand(1, 3, 3, 8),
         "FULLY_CONNECTED": rand(5, 144)}[affine]
    out_c = w.shape[-1] if affine == "DEPTHWISE_CONV_2D" else w.shape[0]
    attrs = {"padding": "VALID", "depth_multiplier": 2} if affine != "FULLY_CONNECTED" else {}
    make = lambda: build({"x": (1, 6, 6, 4)}, {"w": w, "b": rand(out_c), "s": rand(out_c), "d": np.float32(2)},
                         [(affine, ["x", "w", ""], ["a"], attrs), ("MUL", ["s", "a"], ["m"]),
                          ("ADD", ["m", "b"], ["n"]), ("DIV", ["n", "d"], ["o"]), ("RELU", ["o"], ["y"])], ["y"])
    g = rewritten(make, fuse_bias_add.PASS, fuse_mul_into_affine.PASS, fuse_activation.PASS, feeds=X)
    assert types(g) == [affine] and g.ops[0].attrs["fused_activation_function"] == "RELU"


def test_no_fusion_into_shared_output():
    make = lambda: build({"x": (1, 6, 6, 4)}, {"w": rand(5, 1, 1, 4), "b": rand(5)},
                         [("CONV_2D", ["x", "w", ""], ["a"], {"padding": "VALID"}),
                          ("ADD", ["a", "b"], ["y"]), ("RELU", ["a"], ["z"])], ["y", "z"])
    g = rewritten(make, fuse_bias_add.PASS, fuse_activation.PASS, feeds=X)
    assert types(g) == ["CONV_2D", "ADD", "RELU"]


def test_tanh_is_not_fused():
    """LiteRT's builtin kernels ignore a fused TANH (measured), so fusing it would be wrong."""
    g = build({"x": (1, 6, 6, 4)}, {"w": rand(5, 1, 1, 4)},
              [("CONV_2D", ["x", "w", ""], ["a"], {"padding": "VALID"}), ("TANH", ["a"], ["y"])], ["y"])
    run_passes(g, fuse_activation.PASS)
    assert types(g) == ["CONV_2D", "TANH"]


def test_fold_pad_into_conv_only_when_same():
    def make(pads, stride):
        return build({"x": (1, 6, 6, 4)}, {"w": rand(5, 3, 3, 4), "p": np.array(pads, np.int32)},
                     [("PAD", ["x", "p"], ["padded"]),
                      ("CONV_2D", ["padded", "w", ""], ["y"],
                       {"padding": "VALID", "stride_h": stride, "stride_w": stride})],
                     ["y"])
    same = [[0, 0], [0, 1], [0, 1], [0, 0]]
    g = rewritten(lambda: make(same, 2), fold_pad_into_conv.PASS, feeds=X)
    assert types(g) == ["CONV_2D"] and g.ops[0].attrs["padding"] == "SAME"
    g = make([[0, 0], [1, 1], [0, 1], [0, 0]], 2)
    run_passes(g, fold_pad_into_conv.PASS)
    assert types(g) == ["PAD", "CONV_2D"]


def test_squeeze_expand_and_reshapes_merge_and_vanish():
    make = lambda: build({"x": (1, 1, 6)}, {"a": np.array([0], np.int32), "s": np.array([6, 1], np.int32)},
                         [("SQUEEZE", ["x"], ["sq"], {"squeeze_dims": [0]}), ("EXPAND_DIMS", ["sq", "a"], ["e"]),
                          ("RESHAPE", ["e", "s"], ["r"]), ("RELU", ["r"], ["y"])], ["y"])
    g = rewritten(make, squeeze_to_reshape.PASS, merge_reshapes.PASS, remove_identity_reshape.PASS,
                  feeds={"x": rand(1, 1, 6)})
    assert types(g) == ["RESHAPE", "RELU"]
    make = lambda: build({"x": (2, 3)}, {"s": np.array([3, 2], np.int32), "t": np.array([2, 3], np.int32)},
                         [("RESHAPE", ["x", "s"], ["a"]), ("RESHAPE", ["a", "t"], ["b"]), ("RELU", ["b"], ["y"])],
                         ["y"])
    assert types(rewritten(make, merge_reshapes.PASS, remove_identity_reshape.PASS,
                           feeds={"x": rand(2, 3)})) == ["RELU"]


def test_reshape_before_fully_connected_is_dropped():
    make = lambda: build({"x": (1, 2, 2, 3)}, {"s": np.array([1, 12], np.int32), "w": rand(4, 12)},
                         [("RESHAPE", ["x", "s"], ["flat"]), ("FULLY_CONNECTED", ["flat", "w", ""], ["y"])], ["y"])
    assert types(rewritten(make, remove_identity_reshape.PASS, feeds={"x": rand(1, 2, 2, 3)})) == ["FULLY_CONNECTED"]


def test_identity_transpose_removed():
    make = lambda: build({"x": (2, 3, 4)}, {"p": np.array([0, 1, 2], np.int32), "q": np.array([0, 2, 1], np.int32)},
                         [("TRANSPOSE", ["x", "p"], ["a"]), ("TRANSPOSE", ["a", "q"], ["y"])], ["y"])
    assert types(rewritten(make, remove_identity_transpose.PASS, feeds={"x": rand(2, 3, 4)})) == ["TRANSPOSE"]


def test_legalize_concat_needs_constant_axis():
    make = lambda: build({"x": (2, 3)}, {"axis": np.int32(-1)}, [("ConcatV2", ["x", "x", "axis"], ["y"])], ["y"])
    g = rewritten(make, legalize_concat.PASS, feeds={"x": rand(2, 3)})
    assert types(g) == ["CONCATENATION"] and g.ops[0].attrs["axis"] == -1


def test_handwritten_softmax():
    make = lambda: build({"x": (2, 5)}, {"ax": np.array([-1], np.int32)},
                         [("REDUCE_MAX", ["x", "ax"], ["m"], {"keep_dims": True}), ("SUB", ["x", "m"], ["d"]),
                          ("EXP", ["d"], ["e"]), ("SUM", ["e", "ax"], ["s"], {"keep_dims": True}),
                          ("DIV", ["e", "s"], ["y"])], ["y"])
    assert types(rewritten(make, fuse_softmax.PASS, feeds={"x": rand(2, 5)})) == ["SOFTMAX"]
    make = lambda: build({"x": (2, 5)}, {"ax": np.array([0], np.int32)},
                         [("EXP", ["x"], ["e"]), ("SUM", ["e", "ax"], ["s"], {"keep_dims": True}),
                          ("DIV", ["e", "s"], ["y"])], ["y"])
    g = make()
    run_passes(g, fuse_softmax.PASS)
    assert "SOFTMAX" not in types(g), "a sum over another axis is not a softmax"


def test_l2_normalization():
    make = lambda: build({"x": (3, 8)}, {"ax": np.array([1], np.int32), "eps": np.float32(1e-12)},
                         [("SQUARE", ["x"], ["sq"]), ("SUM", ["sq", "ax"], ["s"], {"keep_dims": True}),
                          ("MAXIMUM", ["s", "eps"], ["c"]), ("RSQRT", ["c"], ["r"]), ("MUL", ["x", "r"], ["y"])],
                         ["y"])
    assert types(rewritten(make, fuse_l2_normalization.PASS, feeds={"x": rand(3, 8)})) == ["L2_NORMALIZATION"]


@pytest.mark.parametrize("form", ["keras", "div", "inner_div"])
def test_hard_swish(form):
    tail = {
        "keras": [("MUL", ["r", "sixth"], ["g"]), ("MUL", ["x", "g"], ["y"])],
        "div": [("MUL", ["x", "r"], ["p"]), ("DIV", ["p", "six"], ["y"])],
        "inner_div": [("DIV", ["r", "six"], ["g"]), ("MUL", ["g", "x"], ["y"])],
    }[form]
    make = lambda: build({"x": (2, 8)}, {"three": np.float32(3), "six": np.float32(6), "sixth": np.float32(1 / 6)},
                         [("ADD", ["x", "three"], ["a"]), ("RELU6", ["a"], ["r"])] + tail, ["y"])
    feeds = {"x": rand(2, 8) * 4}
    assert types(rewritten(make, fuse_hard_swish.PASS, feeds=feeds)) == ["HARD_SWISH"]
    # The same after RELU6 was fused into the ADD.
    assert types(rewritten(make, fuse_activation.PASS, fuse_hard_swish.PASS, feeds=feeds)) == ["HARD_SWISH"]


def test_drop_fake_quant_keeps_range_and_folds_weights():
    g = build({"x": (1, 4)}, {"w": rand(3, 4), "lo": np.float32(-1), "hi": np.float32(1)},
              [("FakeQuant", ["x"], ["xq"], {"min": -3.0, "max": 3.0, "num_bits": 8}),
               ("FakeQuant", ["w", "lo", "hi"], ["wq"], {"num_bits": 8, "narrow_range": True}),
               ("FULLY_CONNECTED", ["xq", "wq", ""], ["y"])], ["y"])
    w = g.tensors["w"].data.copy()
    run_passes(g, fold_constants.PASS, drop_fake_quant.PASS)
    assert types(g) == ["FULLY_CONNECTED"]
    assert g.tensors["x"].min_max == pytest.approx((-3.0, 3.0), abs=0.02)
    folded = g.tensors[g.ops[0].inputs[1]].data
    assert not np.array_equal(folded, w) and len(np.unique(np.round(folded * 127))) <= 255


def test_conv_gets_zero_bias():
    g = build({"x": (1, 6, 6, 4)}, {"w": rand(5, 1, 1, 4)},
              [("CONV_2D", ["x", "w", ""], ["y"], {"padding": "VALID"})], ["y"])
    run_passes(g, materialize_conv_bias.PASS)
    assert g.tensors[g.ops[0].inputs[2]].data.tolist() == [0.0] * 5


@pytest.mark.parametrize("chain,expected", [
    ([("MAXIMUM", ["x", "zero"], ["y"])], "RELU"),
    ([("MAXIMUM", ["zero", "x"], ["r"]), ("MINIMUM", ["r", "six"], ["y"])], "RELU6"),
    ([("MINIMUM", ["x", "one"], ["r"]), ("MAXIMUM", ["r", "minus_one"], ["y"])], "RELU_N1_TO_1"),
    ([("MAXIMUM", ["x", "minus_one"], ["r"]), ("MINIMUM", ["one", "r"], ["y"])], "RELU_N1_TO_1"),
])
def test_minmax_to_relu(chain, expected):
    consts = {"zero": np.float32(0), "six": np.float32(6), "one": np.float32(1), "minus_one": np.float32(-1)}
    make = lambda: build({"x": (2, 8)}, consts, [("ADD", ["x", "x"], ["x2"])] +
                         [(t, [("x2" if n == "x" else n) for n in ins], outs) for t, ins, outs in chain], ["y"])
    g = rewritten(make, minmax_to_relu.PASS, feeds={"x": rand(2, 8) * 5})
    assert types(g) == ["ADD", expected]


def test_minmax_with_other_bounds_stays():
    g = build({"x": (2, 8)}, {"c": np.float32(0.5)}, [("MAXIMUM", ["x", "c"], ["y"])], ["y"])
    run_passes(g, minmax_to_relu.PASS)
    assert types(g) == ["MAXIMUM"]


def test_dedupe_ops_merges_twins_with_equal_constants():
    make = lambda: build({"x": (2, 3)}, {"a": np.ones(3, np.float32), "b": np.ones(3, np.float32)},
                         [("ADD", ["x", "a"], ["p"]), ("ADD", ["x", "b"], ["q"]), ("MUL", ["p", "q"], ["y"])],
                         ["y"])
    g = rewritten(make, dedupe_ops.PASS, feeds={"x": rand(2, 3)})
    assert types(g) == ["ADD", "MUL"] and g.ops[1].inputs == ["p", "p"]
    g = build({"x": (2, 3)}, {"shape": np.array([2, 3], np.int32)},
              [("RandomUniform", ["shape"], ["u"]), ("RandomUniform", ["shape"], ["v"]), ("ADD", ["u", "v"], ["w"]),
               ("ADD", ["x", "w"], ["y"])], ["y"])
    run_passes(g, dedupe_ops.PASS)
    assert types(g).count("RandomUniform") == 2, "random draws are never merged"


def test_zero_product():
    make = lambda: build({"x": (1, 3)}, {"h0": np.zeros((1, 3), np.float32), "w": rand(5, 6)},
                         [("RELU", ["x"], ["v"]), ("MUL", ["v", "h0"], ["r"]),
                          ("CONCATENATION", ["x", "r"], ["c"], {"axis": 1}),
                          ("FULLY_CONNECTED", ["c", "w", ""], ["y"])], ["y"])
    g = rewritten(make, fold_zero_product.PASS, feeds={"x": rand(1, 3)})
    assert types(g) == ["CONCATENATION", "FULLY_CONNECTED"]
    assert not g.tensors[g.ops[0].inputs[1]].data.any()
