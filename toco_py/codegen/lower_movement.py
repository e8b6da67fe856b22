"""Lowerings of the ops that only move data (any element type) and of the resize ops.

Every index computation that depends on options (slice specs, gather axes, split sizes)
is resolved here with the numpy kernels' own helpers, so the C kernels get plain
begin/stride/size arrays. The kernels take the element size, so the quantized variants
of these ops can reuse these lowerings as they are (registered for variant "int8", once
input and output are checked to share their quantization parameters).
"""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..ops.array import refuse_activation
from ..ops.common import normalize_axis
from ..ops.slicing import gather_axes, slice_bounds, strided_slice_plan
from .lowering import OpContext, lowering


@lowering("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def reshape(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    if out.name in ctx.state.plan.aliases:
        return  # the output shares the input's bytes: nothing to do
    nbytes = ctx.state.plan.sizes[out.name]
    ctx.call("movement", "tk_copy", ctx.pointer(x), ctx.pointer(out), str(nbytes))


@lowering("TRANSPOSE")
def transpose(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.require_rank([x])
    perm = [int(p) for p in np.ravel(ctx.constant(1, "permutation"))]
    if sorted(perm) != list(range(len(x.shape))):
        raise ctx.fail(f"{perm} is not a permutation of {len(x.shape)} axes")
    ctx.call("movement", "tk_transpose", ctx.pointer(x), ctx.dims(x), str(len(x.shape)),
             ctx.int_array(perm), ctx.pointer(out), ctx.element_size(x))


def _join(ctx: OpContext, axis: int, axis_sizes: list[int]) -> None:
    inputs = [ctx.input(i) for i in range(len(ctx.op.inputs))]
    out = ctx.output()
    ctx.require_rank([out])
    # An input its producer wrote into the output with steps is there already: NULL.
    sources = [None if t.name in ctx.state.plan.steps else t for t in inputs]
    ctx.call("movement", "tk_concatenation", ctx.pointer_array(sources), ctx.int_array(axis_sizes),
             str(len(inputs)), ctx.pointer(out), ctx.dims(out), str(len(out.shape)), str(axis),
             ctx.element_size(out))


@lowering("CONCATENATION")
def concatenation(ctx: OpContext) -> None:
    refuse_activation(ctx.op)
    out = ctx.output()
    axis = normalize_axis(ctx.op, ctx.op.attrs["axis"], len(out.shape))
    sizes = [int(ctx.input(i).shape[axis]) for i in range(len(ctx.op.inputs))]
    _join(ctx, axis, sizes)


@lowering("PACK")
def pack(ctx: OpContext) -> None:
    out = ctx.output()
    axis = normalize_axis(ctx.op, ctx.op.attrs.get("axis", 0), len(out.shape))
    _join(ctx, axis, [1] * len(ctx.op.inputs))


def _split(ctx: OpContext, x, axis: int) -> None:
    ctx.require_rank([x])
    outputs = [ctx.output(i) for i in range(len(ctx.op.outputs))]
    # Shape inference already sized the parts: each output's extent along the axis.
    sizes = [int(t.shape[axis]) if len(t.shape) == len(x.shape) else 1 for t in outputs]
    ctx.call("movement", "tk_split", ctx.pointer(x), ctx.dims(x), str(len(x.shape)), str(axis),
             ctx.pointer_array(outputs, writable=True), ctx.int_array(sizes), str(len(outputs)),
             ctx.element_size(x))


@lowering("UNPACK")
def unpack(ctx: OpContext) -> None:
    x = ctx.input(0)
    axis = normalize_axis(ctx.op, ctx.op.attrs.get("axis", 0), len(x.shape))
    _split(ctx, x, axis)


@lowering("SPLIT")
def split(ctx: OpContext) -> None:
    x = ctx.input(1)
    axis = normalize_axis(ctx.op, int(np.ravel(ctx.constant(0, "axis"))[0]), len(x.shape))
    _split(ctx, x, axis)


@lowering("REVERSE_V2")
def reverse(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.require_rank([x])
    axes = [int(a) % len(x.shape) for a in np.ravel(ctx.constant(1, "axis"))]
    if len(axes) != 1:
        raise ctx.fail(f"reverses {len(axes)} axes at once; one per op is what the passes leave")
    axis, shape = axes[0], [int(d) for d in x.shape]
    outer, inner = int(np.prod(shape[:axis], dtype=np.int64)), int(np.prod(shape[axis + 1:], dtype=np.int64))
    ctx.call("movement", "tk_reverse", ctx.pointer(x), str(outer), str(shape[axis]),
             f"{inner} * {ctx.element_size(x)}", ctx.pointer(out))


@lowering("SPLIT_V")
def split_v(ctx: OpContext) -> None:
    x = ctx.input(0)
    axis = normalize_axis(ctx.op, int(np.ravel(ctx.constant(2, "axis"))[0]), len(x.shape))
    _split(ctx, x, axis)


def _paddings(ctx: OpContext, rank: int) -> np.ndarray:
    """(before, after) per axis."""
    p = np.asarray(ctx.constant(1, "paddings"), dtype=np.int64).reshape(-1, 2)
    if p.shape[0] != rank or (p < 0).any():
        raise ctx.fail(f"paddings {p.tolist()} do not fit a rank-{rank} input")
    return p


@lowering("PAD", "PADV2")
def pad(ctx: OpContext) -> None:
    x, value, out = ctx.input(0), ctx.input(2), ctx.output()
    ctx.require_rank([x])
    paddings = _paddings(ctx, len(x.shape))
    if value is not None and value.dtype != x.dtype:
        raise ctx.fail(f"pad value of type {value.dtype} for a {x.dtype} input")
    # Without a value the padding is zero bytes: 0.0f, or 0 of an integer type.
    ctx.call("pad", "tk_pad", ctx.pointer(x), ctx.dims(x), str(len(x.shape)),
             ctx.int_array(paddings), ctx.pointer(value), ctx.pointer(out), ctx.element_size(x))


@lowering("MIRROR_PAD")
def mirror_pad(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.require_rank([x])
    paddings = _paddings(ctx, len(x.shape))
    symmetric = ctx.op.attrs.get("mode", "REFLECT") == "SYMMETRIC"
    limit = np.array(x.shape) - (0 if symmetric else 1)
    if (paddings > limit[:, None]).any():
        raise ctx.fail(f"paddings {paddings.tolist()} reach past a mirror of the input")
    ctx.call("pad", "tk_mirror_pad", ctx.pointer(x), ctx.dims(x), str(len(x.shape)),
             ctx.int_array(paddings), str(int(symmetric)), ctx.pointer(out), ctx.element_size(x))


def _slice_call(ctx: OpContext, dims: list[int], begin: list[int], steps: list[int],
                counts: list[int]) -> None:
    x, out = ctx.input(0), ctx.output()
    if len(dims) > 6:
        raise ctx.fail(f"the slice works on {len(dims)} axes; the kernel handles up to 6")
    ctx.call("strided_slice", "tk_strided_slice", ctx.pointer(x), ctx.int_array(dims),
             str(len(dims)), ctx.int_array(begin), ctx.int_array(steps), ctx.pointer(out),
             ctx.int_array(counts), ctx.element_size(x))


@lowering("STRIDED_SLICE")
def strided_slice(ctx: OpContext) -> None:
    x = ctx.input(0)
    spec = [np.ravel(ctx.constant(i, what)).astype(np.int64)
            for i, what in ((1, "begin"), (2, "end"), (3, "strides"))]
    # The plan works on the "effective" input: new axes inserted, which moves no bytes.
    eff_shape, plan = strided_slice_plan(ctx.op, ctx.shape(x), *spec)
    ranges = [r for r, _ in plan]
    _slice_call(ctx, [int(d) for d in eff_shape], [r.start if len(r) else 0 for r in ranges],
                [r.step for r in ranges], [len(r) for r in ranges])


@lowering("SLICE")
def slice_(ctx: OpContext) -> None:
    x = ctx.input(0)
    bounds = slice_bounds(ctx.op, ctx.shape(x), ctx.constant(1, "begin"), ctx.constant(2, "size"))
    _slice_call(ctx, list(ctx.shape(x)), [b for b, _ in bounds], [1] * len(bounds),
                [s for _, s in bounds])


@lowering("GATHER")
def gather(ctx: OpContext) -> None:
    params, indices, out = ctx.input(0), ctx.input(1), ctx.output()
    if indices.dtype not in ("int32", "int64"):
        raise ctx.fail(f"indices of type {indices.dtype} (int32 or int64 only)")
    axis, batch_dims = gather_axes(ctx.op, len(params.shape), len(indices.shape))
    count = int(np.prod(indices.shape[batch_dims:], dtype=np.int64))
    function = "tk_gather_i32" if indices.dtype == "int32" else "tk_gather_i64"
    ctx.call("gather", function, ctx.pointer(params), ctx.dims(params), str(len(params.shape)),
             str(axis), str(batch_dims), ctx.pointer(indices), str(count), ctx.pointer(out),
             ctx.element_size(params))


@lowering("DYNAMIC_UPDATE_SLICE")
def dynamic_update_slice(ctx: OpContext) -> None:
    operand, update, start, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output()
    ctx.require_rank([operand])
    ctx.require_dtype([start], ("int32",))
    ctx.call("movement", "tk_dynamic_update_slice", ctx.pointer(operand), ctx.dims(operand),
             str(len(operand.shape)), ctx.pointer(update), ctx.dims(update), ctx.pointer(start),
             ctx.pointer(out), ctx.element_size(operand))


def _condition_dims(ctx: OpContext, cond: Tensor, x: Tensor, rank: int) -> tuple[int, ...]:
    """The condition's shape at the output's rank. SELECT (v1) takes a rank-1 condition as
    picking whole rows (its axis is the first); everything else aligns from the right."""
    shape = ctx.shape(cond)
    if ctx.op.type == "SELECT" and len(shape) == 1 and shape != ctx.shape(x):
        return shape + (1,) * (rank - 1)
    return ctx.shape_at_rank(cond, rank)


@lowering("SELECT", "SELECT_V2")
def select(ctx: OpContext) -> None:
    """cond ? x : y; the kernel (any element type) came with the quantized ops, hence its file."""
    cond, x, y, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output()
    ctx.require_dtype([cond], ("bool",))
    ctx.require_rank([cond, x, y, out])
    rank = max(len(out.shape), 1)  # scalars as shape [1]: the kernel wants an axis
    ctx.call("movement_s8", "tk_select", ctx.pointer(cond),
             ctx.int_array(_condition_dims(ctx, cond, x, rank)), ctx.pointer(x),
             ctx.dims_at_rank(x, rank), ctx.pointer(y), ctx.dims_at_rank(y, rank),
             ctx.pointer(out), ctx.dims_at_rank(out, rank), str(rank),
             ctx.element_size(out))


@lowering("TILE")
def tile(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.require_rank([x])
    multiples = [int(m) for m in np.ravel(ctx.constant(1, "multiples"))]
    ctx.call("tile", "tk_tile", ctx.pointer(x), ctx.dims(x), str(len(x.shape)),
             ctx.int_array(multiples), ctx.pointer(out), ctx.element_size(x))


def _resize_flags(ctx: OpContext) -> tuple[str, str]:
    align = bool(ctx.op.attrs.get("align_corners"))
    half = bool(ctx.op.attrs.get("half_pixel_centers"))
    if align and half:
        raise ctx.fail("align_corners and half_pixel_centers cannot both be set")
    return str(int(align)), str(int(half))


@lowering("RESIZE_BILINEAR")
def resize_bilinear(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.require_dtype([x, out], ("float32",))
    ctx.call("resize_bilinear", "tk_resize_bilinear_f32", ctx.pointer(x), ctx.dims(x),
             ctx.pointer(out), str(out.shape[1]), str(out.shape[2]), *_resize_flags(ctx))


@lowering("RESIZE_NEAREST_NEIGHBOR")
def resize_nearest(ctx: OpContext) -> None:
    x, out = ctx.input(0), ctx.output()
    ctx.call("resize_nearest", "tk_resize_nearest", ctx.pointer(x), ctx.dims(x),
             ctx.pointer(out), str(out.shape[1]), str(out.shape[2]), *_resize_flags(ctx),
             ctx.element_size(x))
