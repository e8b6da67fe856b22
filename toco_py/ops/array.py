"""Ops that only rearrange data: reshape family, transpose, concatenation, pack/unpack, split."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import ShapeUnknown, activation_of, need_const, need_shape, normalize_axis
from .registry import register


def resolve_reshape(op: Op, in_shape: tuple[int, ...], target) -> tuple[int, ...]:
    target = [int(d) for d in np.ravel(target)]
    if target.count(-1) > 1:
        raise ConversionError(f"{op!r}: more than one -1 in the new shape {target}")
    if -1 in target:
        if any(d < 0 for d in in_shape):
            return tuple(target)  # the input's size, and so the -1, is known at run time only
        known = int(np.prod([d for d in target if d != -1]))
        total = int(np.prod(in_shape))
        if known == 0 or total % known:
            raise ConversionError(f"{op!r}: cannot reshape {list(in_shape)} to {target}")
        target[target.index(-1)] = total // known
    elif all(d >= 0 for d in in_shape) and int(np.prod(target)) != int(np.prod(in_shape)):
        raise ConversionError(f"{op!r}: cannot reshape {list(in_shape)} to {target}")
    return tuple(target)


def _reshape_target(op: Op, shape_t: Tensor | None):
    if shape_t is not None and shape_t.data is not None:
        return shape_t.data
    if "new_shape" in op.attrs:
        return op.attrs["new_shape"]
    raise ShapeUnknown(op, shape_t.name if shape_t else "?", "the new shape is not a constant")


def _infer_reshape(op: Op, x: Tensor, shape: Tensor | None = None):
    in_shape = need_shape(op, x)
    if (shape is not None and shape.data is None and -1 in in_shape
            and shape.shape is not None and len(shape.shape) == 1 and shape.shape[0] >= 0):
        # A new shape computed from sizes known at run time only (reshape(t, [tf.shape(t)[0],
        # -1]) after a WHERE): its length gives the rank.
        return (-1,) * shape.shape[0], x.dtype
    return resolve_reshape(op, in_shape, _reshape_target(op, shape)), x.dtype


def _reshape(op: Op, x: np.ndarray, shape: np.ndarray | None = None) -> np.ndarray:
    target = shape if shape is not None else op.attrs["new_shape"]
    return x.reshape(resolve_reshape(op, x.shape, target))


def squeezed_shape(op: Op, shape: tuple[int, ...]) -> tuple[int, ...]:
    dims = op.attrs.get("squeeze_dims") or []
    axes = {normalize_axis(op, d, len(shape)) for d in dims}
    if not axes:
        return tuple(d for d in shape if d != 1)
    for a in axes:
        if shape[a] != 1:
            raise ConversionError(f"{op!r}: cannot squeeze dimension {a} of size {shape[a]}")
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def expanded_shape(op: Op, shape: tuple[int, ...], axis) -> tuple[int, ...]:
    a = int(np.ravel(axis)[0])
    a = normalize_axis(op, a, len(shape) + 1)
    return shape[:a] + (1,) + shape[a:]


def _infer_transpose(op: Op, x: Tensor, perm: Tensor):
    shape = need_shape(op, x)
    p = [int(v) for v in need_const(op, perm, "permutation")]
    if sorted(p) != list(range(len(shape))):
        raise ConversionError(f"{op!r}: {p} is not a permutation of {len(shape)} axes")
    return tuple(shape[i] for i in p), x.dtype


def refuse_activation(op: Op) -> None:
    """CONCATENATION's fused activation must be NONE."""
    # The option exists in the schema, but LiteRT's kernel refuses to prepare with any
    # fused activation other than NONE.
    if activation_of(op) != "NONE":
        raise ConversionError(f"{op!r}: CONCATENATION cannot have a fused activation "
                              f"({activation_of(op)}) in TFLite")


def _infer_concat(op: Op, *xs: Tensor):
    refuse_activation(op)
    shapes = [need_shape(op, x) for x in xs]
    axis = normalize_axis(op, op.attrs["axis"], len(shapes[0]))
    for s in shapes[1:]:
        if len(s) != len(shapes[0]) or any(
            a != b and a >= 0 and b >= 0 for i, (a, b) in enumerate(zip(s, shapes[0])) if i != axis
        ):
            raise ConversionError(f"{op!r}: shapes {shapes} do not concatenate on axis {axis}")
    sizes = [s[axis] for s in shapes]
    out = list(shapes[0])
    out[axis] = -1 if any(d < 0 for d in sizes) else sum(sizes)
    return tuple(out), xs[0].dtype


def _concat(op: Op, *xs: np.ndarray) -> np.ndarray:
    refuse_activation(op)
    return np.concatenate(xs, axis=normalize_axis(op, op.attrs["axis"], xs[0].ndim))


def _infer_pack(op: Op, *xs: Tensor):
    shape = need_shape(op, xs[0])
    axis = normalize_axis(op, op.attrs.get("axis", 0), len(shape) + 1)
    return shape[:axis] + (len(xs),) + shape[axis:], xs[0].dtype


def _infer_unpack(op: Op, x: Tensor):
    shape = need_shape(op, x)
    axis = normalize_axis(op, op.attrs.get("axis", 0), len(shape))
    num = op.attrs.get("num", shape[axis])
    return [(shape[:axis] + shape[axis + 1 :], x.dtype)] * num


def _unpack(op: Op, x: np.ndarray):
    axis = normalize_axis(op, op.attrs.get("axis", 0), x.ndim)
    return tuple(np.take(x, i, axis=axis) for i in range(x.shape[axis]))


def _split_sizes(op: Op, dim: int, sizes=None) -> list[int]:
    if sizes is None:
        n = op.attrs["num_splits"]
        if dim >= 0 and dim % n:
            raise ConversionError(f"{op!r}: dimension {dim} does not split into {n} parts")
        return [dim // n if dim >= 0 else -1] * n
    sizes = [int(s) for s in np.ravel(sizes)]
    if -1 in sizes:
        sizes[sizes.index(-1)] = dim - (sum(sizes) + 1)
    return sizes


def _infer_split(op: Op, axis: Tensor, x: Tensor):
    shape = need_shape(op, x)
    a = normalize_axis(op, int(np.ravel(need_const(op, axis, "axis"))[0]), len(shape))
    return [(shape[:a] + (s,) + shape[a + 1 :], x.dtype) for s in _split_sizes(op, shape[a])]


def _split(op: Op, axis: np.ndarray, x: np.ndarray):
    a = normalize_axis(op, int(np.ravel(axis)[0]), x.ndim)
    return tuple(np.split(x, op.attrs["num_splits"], axis=a))


def _infer_split_v(op: Op, x: Tensor, sizes: Tensor, axis: Tensor):
    shape = need_shape(op, x)
    a = normalize_axis(op, int(np.ravel(need_const(op, axis, "axis"))[0]), len(shape))
    parts = _split_sizes(op, shape[a], need_const(op, sizes, "split sizes"))
    return [(shape[:a] + (s,) + shape[a + 1 :], x.dtype) for s in parts]


def _split_v(op: Op, x: np.ndarray, sizes: np.ndarray, axis: np.ndarray):
    a = normalize_axis(op, int(np.ravel(axis)[0]), x.ndim)
    bounds = np.cumsum(_split_sizes(op, x.shape[a], sizes))[:-1]
    return tuple(np.split(x, bounds, axis=a))


register("RESHAPE", traits={"moves_data", "in_place", "tflm"}, infer=_infer_reshape, kernel=_reshape)
register("SQUEEZE", traits={"moves_data", "in_place", "tflm"},
         infer=lambda op, x: (squeezed_shape(op, need_shape(op, x)), x.dtype),
         kernel=lambda op, x: x.reshape(squeezed_shape(op, x.shape)))
register("EXPAND_DIMS", traits={"moves_data", "in_place", "tflm"},
         infer=lambda op, x, a: (expanded_shape(op, need_shape(op, x), need_const(op, a, "axis")), x.dtype),
         kernel=lambda op, x, a: x.reshape(expanded_shape(op, x.shape, a)))
register("TRANSPOSE", traits={"moves_data", "tflm"}, infer=_infer_transpose,
         kernel=lambda op, x, perm: np.ascontiguousarray(np.transpose(x, [int(p) for p in perm])))
register("CONCATENATION", traits={"shared_params", "tflm"}, infer=_infer_concat, kernel=_concat)
register("PACK", traits={"shared_params", "tflm"}, infer=_infer_pack,
         kernel=lambda op, *xs: np.stack(xs, axis=normalize_axis(op, op.attrs.get("axis", 0), xs[0].ndim + 1)))
register("UNPACK", traits={"moves_data", "tflm"}, infer=_infer_unpack, kernel=_unpack)
register("SPLIT", traits={"moves_data", "tflm"}, infer=_infer_split, kernel=_split)
register("SPLIT_V", traits={"moves_data", "tflm"}, infer=_infer_split_v, kernel=_split_v)


# ---- REVERSE_V2 ------------------------------------------------------------------------

def _reverse_axes(op: Op, rank: int, axes) -> tuple[int, ...]:
    return tuple(sorted({normalize_axis(op, int(a), rank) for a in np.ravel(axes)}))


def _infer_reverse(op: Op, x: Tensor, axes: Tensor):
    shape = need_shape(op, x)
    _reverse_axes(op, len(shape), need_const(op, axes, "axis"))
    return shape, x.dtype


register("REVERSE_V2", traits={"moves_data", "tflm"}, infer=_infer_reverse,
         kernel=lambda op, x, axes: np.ascontiguousarray(np.flip(x, _reverse_axes(op, x.ndim, axes))))


# ---- SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND ---------------------------------------------
# The spatial axes are 1..M (M = the block shape's length), the batch axis 0; TensorFlow's
# order, which LiteRT follows: the block offset is the major part of the new batch index.

def _block_shape(op: Op, rank: int, block) -> list[int]:
    block = [int(b) for b in np.ravel(block)]
    if rank not in (3, 4) or len(block) != rank - 2 or min(block, default=1) < 1:
        raise ConversionError(f"{op!r}: needs a 3-D or 4-D input and a positive block per "
                              f"spatial axis, has rank {rank} and block shape {block}")
    return block


def _edges(op: Op, block: list[int], edges, what: str) -> list[tuple[int, int]]:
    edges = np.asarray(edges).reshape(-1)
    if edges.size != 2 * len(block) or np.any(edges < 0):
        raise ConversionError(f"{op!r}: {what} must be {len(block)} pairs of non-negative sizes, "
                              f"not {edges.tolist()}")
    return [(int(a), int(b)) for a, b in edges.reshape(-1, 2)]


def _space_to_batch_shape(op: Op, shape, block, paddings) -> tuple[int, ...]:
    block = _block_shape(op, len(shape), block)
    pads = _edges(op, block, paddings, "paddings")
    spatial = []
    for size, b, (lo, hi) in zip(shape[1:], block, pads):
        if size >= 0 and (size + lo + hi) % b:
            raise ConversionError(f"{op!r}: padded size {size + lo + hi} is not a multiple of {b}")
        spatial.append((size + lo + hi) // b if size >= 0 else -1)
    n = shape[0] * int(np.prod(block)) if shape[0] >= 0 else -1
    return (n, *spatial, *shape[1 + len(block):])


def _batch_to_space_shape(op: Op, shape, block, crops) -> tuple[int, ...]:
    block = _block_shape(op, len(shape), block)
    cuts = _edges(op, block, crops, "crops")
    count = int(np.prod(block))
    if shape[0] >= 0 and shape[0] % count:
        raise ConversionError(f"{op!r}: batch {shape[0]} is not a multiple of the block size {count}")
    spatial = [size * b - lo - hi if size >= 0 else -1
               for size, b, (lo, hi) in zip(shape[1:], block, cuts)]
    if any(s < 0 and d >= 0 for s, d in zip(spatial, shape[1:])):
        raise ConversionError(f"{op!r}: crops {cuts} remove more than the whole axis")
    return (shape[0] // count if shape[0] >= 0 else -1, *spatial, *shape[1 + len(block):])


def _space_to_batch(op: Op, x: np.ndarray, block: np.ndarray, paddings: np.ndarray,
                    fill=0) -> np.ndarray:
    """fill: the padding value (a quantized kernel passes its output zero point)."""
    out_shape = _space_to_batch_shape(op, x.shape, block, paddings)
    block = _block_shape(op, x.ndim, block)
    m = len(block)
    padded = np.pad(x, [(0, 0), *_edges(op, block, paddings, "paddings")] + [(0, 0)] * (x.ndim - 1 - m),
                    constant_values=fill)
    split = [x.shape[0]]
    for size, b in zip(out_shape[1:], block):
        split += [size, b]
    blocks = padded.reshape(split + list(x.shape[1 + m:]))
    # [N, H/b, b, W/b, b, C] -> [b, b, N, H/b, W/b, C]
    order = [2 + 2 * i for i in range(m)] + [0] + [1 + 2 * i for i in range(m)]
    order += list(range(1 + 2 * m, blocks.ndim))
    return np.ascontiguousarray(blocks.transpose(order)).reshape(out_shape)


def _batch_to_space(op: Op, x: np.ndarray, block: np.ndarray, crops: np.ndarray) -> np.ndarray:
    block = _block_shape(op, x.ndim, block)
    m = len(block)
    n = x.shape[0] // int(np.prod(block))
    blocks = x.reshape(block + [n] + list(x.shape[1:]))
    # [b, b, N, H, W, C] -> [N, H, b, W, b, C]
    order = [m]
    for i in range(m):
        order += [m + 1 + i, i]
    order += list(range(2 * m + 1, blocks.ndim))
    full = [size * b for size, b in zip(x.shape[1:], block)]
    spread = np.ascontiguousarray(blocks.transpose(order)).reshape([n] + full + list(x.shape[1 + m:]))
    cuts = _edges(op, block, crops, "crops")
    return np.ascontiguousarray(spread[(slice(None),) + tuple(slice(lo, f - hi) for (lo, hi), f in zip(cuts, full))])


register("SPACE_TO_BATCH_ND", traits={"moves_data", "tflm"}, kernel=_space_to_batch,
         infer=lambda op, x, block, pads: (_space_to_batch_shape(
             op, need_shape(op, x), need_const(op, block, "block shape"), need_const(op, pads, "paddings")),
             x.dtype))
register("BATCH_TO_SPACE_ND", traits={"moves_data", "tflm"}, kernel=_batch_to_space,
         infer=lambda op, x, block, crops: (_batch_to_space_shape(
             op, need_shape(op, x), need_const(op, block, "block shape"), need_const(op, crops, "crops")),
             x.dtype))
