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
            raise ShapeUnknown(op, op.inputs[0], "input size unknown")
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
    return resolve_reshape(op, need_shape(op, x), _reshape_target(op, shape)), x.dtype


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
