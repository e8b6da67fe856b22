"""Lowerings of the quantized (variant "int8") ops that only move data, on int8, uint8 and
int16 tensors. Imported by lower_int8_nn, which all_lowerings lists.

The numpy kernels (toco_py/ops/int8/movement.py) run the float kernel on the raw integers
once their checks pass, so these lowerings run the same checks and then the float lowerings
of lower_movement, whose kernels take the element size. What differs: PAD fills with the
output zero point, uint8 CONCATENATION rescales inputs with other params, and the ops
without a float lowering (BROADCAST_TO, DEPTH_TO_SPACE, SPACE_TO_DEPTH, GATHER_ND) are
expressed here with the generic kernels (tile, transpose) or new ones (movement_s8.c).
"""
from __future__ import annotations

from ..ops.array import refuse_activation
from ..ops.common import normalize_axis
from ..ops.int8 import movement as movement_int8
from ..ops.int8.litert import per_tensor, require_dtype, require_same_params
from . import cformat, lower_lstm, lower_movement
from .lowering import OpContext, lowering

# The float lowerings that serve the quantized ops unchanged, once checked.
AS_FLOAT = {"RESHAPE": lower_movement.reshape, "SQUEEZE": lower_movement.reshape,
            "EXPAND_DIMS": lower_movement.reshape, "TRANSPOSE": lower_movement.transpose,
            "GATHER": lower_movement.gather, "STRIDED_SLICE": lower_movement.strided_slice,
            "SLICE": lower_movement.slice_, "SPLIT": lower_movement.split,
            "SPLIT_V": lower_movement.split_v, "UNPACK": lower_movement.unpack,
            "PACK": lower_movement.pack, "MIRROR_PAD": lower_movement.mirror_pad,
            "TILE": lower_movement.tile, "SELECT": lower_movement.select,
            "SELECT_V2": lower_movement.select,
            "RESIZE_NEAREST_NEIGHBOR": lower_movement.resize_nearest,
            "DYNAMIC_UPDATE_SLICE": lower_movement.dynamic_update_slice,
            "REVERSE_V2": lower_movement.reverse, "FILL": lower_lstm.fill}


def check_moving(ctx: OpContext) -> str:
    """movement_int8.moving_kernel's checks: one quantized type for the data, and equal
    params where LiteRT demands them. Returns the type."""
    op, graph = ctx.op, ctx.graph
    data = movement_int8.data_inputs(op)
    dtype = movement_int8._check_types(op, graph, data)
    if op.type in movement_int8.EQUAL_PARAMS:
        require_same_params(op, graph, data + op.outputs, "its inputs and outputs")
    return dtype


@lowering(*AS_FLOAT, variant="int8")
def as_float(ctx: OpContext) -> None:
    check_moving(ctx)
    AS_FLOAT[ctx.op.type](ctx)


@lowering("PAD", "PADV2", variant="int8")
def pad_q(ctx: OpContext) -> None:
    """movement_int8.pad_quantized: the output zero point, or PADV2's constant (which must
    share the output's params), fills the padding."""
    x, value, out = ctx.input(0), ctx.input(2), ctx.output()
    op, graph = ctx.op, ctx.graph
    dtype = movement_int8._check_types(op, graph, [x.name])
    ctx.require_rank([x])
    paddings = lower_movement._paddings(ctx, len(x.shape))
    if value is None:
        _, fill = per_tensor(op, graph, out.name)
        fill_pointer = cformat.compound_literal(cformat.C_TYPES[dtype], [str(fill)])
    else:
        require_dtype(op, graph, value.name, (dtype,))
        require_same_params(op, graph, [out.name, value.name], "its constant value and output")
        fill_pointer = ctx.pointer(value)
    ctx.call("pad", "tk_pad", ctx.pointer(x), ctx.dims(x), str(len(x.shape)),
             ctx.int_array(paddings), fill_pointer, ctx.pointer(out), ctx.element_size(x))


# ---- CONCATENATION ---------------------------------------------------------------------

def _rescaling(ctx: OpContext, name: str) -> tuple[int, float, float]:
    """(rescale?, scale, bias) of one uint8 input (movement_int8.concat_rescaling)."""
    rescaling = movement_int8.concat_rescaling(ctx.op, ctx.graph, name)
    if rescaling is None:
        return 0, 0.0, 0.0
    return 1, float(rescaling[0]), float(rescaling[1])


def _concatenation_u8_scaled(ctx: OpContext) -> None:
    out = ctx.output()
    refuse_activation(ctx.op)
    ctx.require_rank([out])
    axis = normalize_axis(ctx.op, ctx.op.attrs["axis"], len(out.shape))
    inputs = [ctx.input(i) for i in range(len(ctx.op.inputs))]
    rows = [_rescaling(ctx, t.name) for t in inputs]
    _, out_zero = per_tensor(ctx.op, ctx.graph, out.name)
    ctx.call("movement_s8", "tk_concatenation_u8_scaled", ctx.pointer_array(inputs),
             ctx.int_array([int(t.shape[axis]) for t in inputs]), str(len(inputs)),
             ctx.pointer(out), ctx.dims(out), str(len(out.shape)), str(axis),
             ctx.int_array([r[0] for r in rows]), ctx.float_array([r[1] for r in rows]),
             ctx.float_array([r[2] for r in rows]), str(out_zero))


@lowering("CONCATENATION", variant="int8")
def concatenation_q(ctx: OpContext) -> None:
    """movement_int8.concatenation_quantized: int8 copies (one set of params), int16 copies
    (zero points 0), uint8 rescales the inputs whose params differ."""
    op, graph = ctx.op, ctx.graph
    names = list(op.inputs) + op.outputs
    dtype = movement_int8._check_types(op, graph, list(op.inputs))
    if dtype == "uint8":
        if any(per_tensor(op, graph, n) != per_tensor(op, graph, op.outputs[0]) for n in op.inputs):
            _concatenation_u8_scaled(ctx)
            return
    elif dtype == "int8":
        require_same_params(op, graph, names, "its inputs and output")
    elif any(per_tensor(op, graph, n)[1] != 0 for n in names):
        raise ctx.fail("quantized int16 CONCATENATION needs zero points of 0")
    lower_movement.concatenation(ctx)


# ---- the ops without a float lowering ----------------------------------------------------

@lowering("BROADCAST_TO", variant="int8")
def broadcast_to_q(ctx: OpContext) -> None:
    """A tile of the input, its shape padded to the target's rank: each size-1 axis repeats
    as often as the target's axis is long."""
    check_moving(ctx)
    x, out = ctx.input(0), ctx.output()
    ctx.require_rank([out])
    target = ctx.shape(out)
    dims = ctx.shape_at_rank(x, len(target))
    multiples = [t if d == 1 else 1 for d, t in zip(dims, target)]
    ctx.call("tile", "tk_tile", ctx.pointer(x), ctx.int_array(dims), str(len(dims)),
             ctx.int_array(multiples), ctx.pointer(out), ctx.element_size(x))


@lowering("DEPTH_TO_SPACE", "SPACE_TO_DEPTH", variant="int8")
def depth_space_q(ctx: OpContext) -> None:
    """Both are one six-axis transpose of the input seen with its block axes split out
    (ops/image.py's reshapes): swap the block-row axis with the width axis."""
    check_moving(ctx)
    x, out = ctx.input(0), ctx.output()
    if len(x.shape) != 4:
        raise ctx.fail(f"tensor {x.name!r} must be 4-D, not of shape {list(x.shape)}")
    block = int(ctx.op.attrs.get("block_size", 0))
    n, h, w, c = ctx.shape(x)
    if ctx.op.type == "DEPTH_TO_SPACE":
        dims = (n, h, w, block, block, c // (block * block))
    else:
        dims = (n, h // block, block, w // block, block, c)
    ctx.call("movement", "tk_transpose", ctx.pointer(x), ctx.int_array(dims), "6",
             ctx.int_array([0, 1, 3, 2, 4, 5]), ctx.pointer(out), ctx.element_size(x))


@lowering("GATHER_ND", variant="int8")
def gather_nd_q(ctx: OpContext) -> None:
    check_moving(ctx)
    params, indices, out = ctx.input(0), ctx.input(1), ctx.output()
    ctx.require_dtype([indices], ("int32", "int64"))
    depth = int(indices.shape[-1]) if indices.shape else 0
    if not 1 <= depth <= len(params.shape):
        raise ctx.fail(f"indices of shape {list(indices.shape)} do not index a rank-"
                       f"{len(params.shape)} tensor")
    ctx.call("movement_s8", "tk_gather_nd", ctx.pointer(params), ctx.dims(params),
             str(len(params.shape)), ctx.pointer(indices), str(int(indices.dtype == "int64")),
             str(indices.size // depth), str(depth), ctx.pointer(out), ctx.element_size(params))
