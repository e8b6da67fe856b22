"""Neural-network ops: convolutions, pooling, bias, activations, softmax."""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ..context import NodeContext
from .compose import integer_type, scalar
from .registry import tf_op


def _padding(ctx: NodeContext, x: str) -> tuple[str, str]:
    """Returns (TFLite padding, the tensor to convolve); EXPLICIT padding becomes a PAD op."""
    padding = ctx.attr("padding", kind=str)
    if padding in ("SAME", "VALID"):
        return padding, x
    if padding == "EXPLICIT":
        pads = np.array(ctx.ints_attr("explicit_paddings", count=8), dtype=np.int32).reshape(4, 2)
        padded = ctx.temp("explicit_pad")
        ctx.emit("PAD", [x, ctx.const("paddings", pads)], outputs=[padded])
        return "VALID", padded
    raise ConversionError(f"node {ctx.name!r}: unknown padding {padding!r}")


def _window_attrs(ctx: NodeContext, padding: str) -> dict:
    sh, sw = ctx.spatial("strides")
    return {"padding": padding, "stride_h": sh, "stride_w": sw}


@tf_op("Conv2D")
def conv2d(ctx: NodeContext) -> None:
    ctx.data_format_nhwc()
    padding, x = _padding(ctx, ctx.input(0))
    dh, dw = ctx.spatial("dilations")
    # TF filters are HWIO, TFLite's OHWI: a transpose that constant folding applies once.
    filt = ctx.temp("filter_ohwi")
    ctx.emit("TRANSPOSE", [ctx.input(1), ctx.const("perm", np.array([3, 0, 1, 2], np.int32))],
             outputs=[filt])
    attrs = _window_attrs(ctx, padding) | {"dilation_h_factor": dh, "dilation_w_factor": dw}
    ctx.emit("CONV_2D", [x, filt, ""], attrs)


@tf_op("DepthwiseConv2dNative")
def depthwise_conv2d(ctx: NodeContext) -> None:
    ctx.data_format_nhwc()
    padding, x = _padding(ctx, ctx.input(0))
    dh, dw = ctx.spatial("dilations")
    w = ctx.require_const(1, "filter")
    if w.ndim != 4:
        raise ConversionError(f"node {ctx.name!r}: its filter must have 4 dims, has shape {list(w.shape)}")
    kh, kw, cin, mult = w.shape
    # [KH, KW, C, M] flattened on its last two axes is TFLite's [1, KH, KW, C*M] order.
    filt = ctx.temp("filter_1hwc")
    ctx.emit("RESHAPE", [ctx.input(1), ctx.const("shape", np.array([1, kh, kw, cin * mult], np.int32))],
             outputs=[filt])
    attrs = _window_attrs(ctx, padding) | {
        "dilation_h_factor": dh, "dilation_w_factor": dw, "depth_multiplier": int(mult)}
    ctx.emit("DEPTHWISE_CONV_2D", [x, filt, ""], attrs)


@tf_op("MaxPool", "AvgPool")
def pool(ctx: NodeContext) -> None:
    ctx.data_format_nhwc()
    kh, kw = ctx.spatial("ksize")
    padding = ctx.attr("padding", kind=str)
    if padding not in ("SAME", "VALID"):
        raise ConversionError(f"node {ctx.name!r}: pooling padding {padding!r} is not supported")
    attrs = _window_attrs(ctx, padding) | {"filter_height": kh, "filter_width": kw}
    ctx.emit("MAX_POOL_2D" if ctx.node.op == "MaxPool" else "AVERAGE_POOL_2D", [ctx.input(0)], attrs)


@tf_op("BiasAdd", "BiasAddV1")
def bias_add(ctx: NodeContext) -> None:
    ctx.data_format_nhwc()
    ctx.emit("ADD", [ctx.input(0), ctx.input(1)])


_ACTIVATIONS = {"Relu": "RELU", "Relu6": "RELU6", "Tanh": "TANH", "Sigmoid": "LOGISTIC",
                "Elu": "ELU", "LogSoftmax": "LOG_SOFTMAX"}


@tf_op(*_ACTIVATIONS)
def activation(ctx: NodeContext) -> None:
    if ctx.node.op in ("Relu", "Relu6") and integer_type(ctx):
        _integer_relu(ctx)
    else:
        ctx.emit(_ACTIVATIONS[ctx.node.op], [ctx.input(0)])


def _integer_relu(ctx: NodeContext) -> None:
    """LiteRT's RELU and RELU6 take no int32: max(x, 0) (TF's converter's Relu), then min(., 6)."""
    x, zero = ctx.input(0), scalar(ctx, "zero", 0)
    if ctx.node.op == "Relu":
        ctx.emit("MAXIMUM", [x, zero])
        return
    above_zero = ctx.emit("MAXIMUM", [x, zero], outputs=[ctx.temp("above_zero")]).outputs[0]
    ctx.emit("MINIMUM", [above_zero, scalar(ctx, "six", 6)])


@tf_op("LeakyRelu")
def leaky_relu(ctx: NodeContext) -> None:
    ctx.emit("LEAKY_RELU", [ctx.input(0)], {"alpha": ctx.attr("alpha", 0.2)})


@tf_op("Softmax")
def softmax(ctx: NodeContext) -> None:
    ctx.emit("SOFTMAX", [ctx.input(0)], {"beta": 1.0})


# Activations TF's converter lowers to a few builtins (lower_tf.td).

@tf_op("Softplus")
def softplus(ctx: NodeContext) -> None:
    # log(exp(x) + 1), TF's converter's three ops: like its model, ours gives inf above
    # x = 88.7, where exp overflows float32.
    exp = ctx.emit("EXP", [ctx.input(0)], outputs=[ctx.temp("exp")]).outputs[0]
    one_plus_exp = ctx.emit("ADD", [exp, scalar(ctx, "one", 1)], outputs=[ctx.temp("one_plus_exp")]).outputs[0]
    ctx.emit("LOG", [one_plus_exp])


@tf_op("Softsign")
def softsign(ctx: NodeContext) -> None:
    x = ctx.input(0)
    abs_x = ctx.emit("ABS", [x], outputs=[ctx.temp("abs")]).outputs[0]
    one_plus_abs = ctx.emit("ADD", [abs_x, scalar(ctx, "one", 1)], outputs=[ctx.temp("one_plus_abs")]).outputs[0]
    ctx.emit("DIV", [x, one_plus_abs])


# tf.nn.selu's constants (selu_op.h).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@tf_op("Selu")
def selu(ctx: NodeContext) -> None:
    """scale * (x if x > 0 else alpha * expm1(x)) as scale * PRELU(ELU(x), alpha): ELU keeps
    the sign of x, and is exactly expm1 below 0. Three ops, where TF's converter makes six."""
    elu = ctx.emit("ELU", [ctx.input(0)], outputs=[ctx.temp("elu")]).outputs[0]
    prelu = ctx.emit("PRELU", [elu, scalar(ctx, "alpha", SELU_ALPHA)], outputs=[ctx.temp("prelu")]).outputs[0]
    ctx.emit("MUL", [prelu, scalar(ctx, "scale", SELU_SCALE)])


@tf_op("LRN")
def local_response_normalization(ctx: NodeContext) -> None:
    ctx.emit("LOCAL_RESPONSE_NORMALIZATION", [ctx.input(0)], {
        "radius": ctx.attr("depth_radius", 5), "bias": ctx.attr("bias", 1.0),
        "alpha": ctx.attr("alpha", 1.0), "beta": ctx.attr("beta", 0.5)})


def _conv3d_attrs(ctx: NodeContext, builtin: str) -> dict:
    # TFLite's 3-D convolutions take TF's NDHWC input and DHWIO filter as they are.
    if ctx.attr("data_format", "NDHWC") != "NDHWC":
        raise ConversionError(f"node {ctx.name!r}: data_format {ctx.attr('data_format')} is not "
                              f"supported; TFLite's {builtin} takes NDHWC")
    padding = ctx.attr("padding", kind=str)
    if padding not in ("SAME", "VALID"):
        raise ConversionError(f"node {ctx.name!r}: {ctx.node.op} padding {padding!r} is not supported")
    strides, dilations = ctx.ints_attr("strides", count=5), ctx.ints_attr("dilations", [1] * 5, count=5)
    if strides[0] != 1 or strides[4] != 1 or dilations[0] != 1 or dilations[4] != 1:
        raise ConversionError(f"node {ctx.name!r}: strides and dilations must be 1 on the batch "
                              "and channel axes")
    attrs = {"padding": padding}
    for i, axis in enumerate("dhw", start=1):
        attrs |= {f"stride_{axis}": strides[i], f"dilation_{axis}_factor": dilations[i]}
    return attrs


@tf_op("Conv3D")
def conv3d(ctx: NodeContext) -> None:
    ctx.emit("CONV_3D", [ctx.input(0), ctx.input(1), ""], _conv3d_attrs(ctx, "CONV_3D"))


@tf_op("Conv3DBackpropInputV2")
def conv3d_backprop_input(ctx: NodeContext) -> None:
    """Inputs (input_sizes, filter, out_backprop) -> CONV_3D_TRANSPOSE (output_shape, filter,
    input): the filter as it is; int64 sizes become int32, which LiteRT's kernel requires."""
    attrs = _conv3d_attrs(ctx, "CONV_3D_TRANSPOSE")
    sizes = ctx.input(0)
    if ctx.dtype_attr("Tshape", "int32") != "int32":
        sizes = ctx.emit("CAST", [sizes], {"out_data_type": "int32"}, outputs=[ctx.temp("sizes")]).outputs[0]
    ctx.emit("CONV_3D_TRANSPOSE", [sizes, ctx.input(1), ctx.input(2), ""], attrs)
