"""Converter-only ops: TensorFlow semantics with no TFLite builtin; passes remove or lower them.
(FakeQuant lives in fake_quant.py, beside TFLite's FAKE_QUANT.)"""
from __future__ import annotations

import numpy as np

from ..errors import TocoError
from ..ir import Op, Tensor
from .activation import erf, erfc
from .common import infer_same, need_const, need_shape, seeded_rng
from .registry import APPROXIMATED, register


def _passthrough(op: Op, x: np.ndarray, *rest: np.ndarray) -> np.ndarray:
    return x


# Ops that forward their first input unchanged at inference time.
PASSTHROUGH = ("Identity", "CheckNumerics", "StopGradient", "PreventGradient", "Snapshot",
               "PlaceholderWithDefault", "EnsureShape")
for _name in PASSTHROUGH:
    register(_name, infer=infer_same, kernel=_passthrough, builtin=False)


def _infer_concat_v2(op: Op, *ins: Tensor):
    from .array import _infer_concat  # the same geometry once the axis is known

    axis = int(np.ravel(need_const(op, ins[-1], "axis"))[0])
    probe = Op("CONCATENATION", op.inputs[:-1], op.outputs, {"axis": axis}, op.name)
    return _infer_concat(probe, *ins[:-1])


def _concat_v2(op: Op, *xs: np.ndarray) -> np.ndarray:
    return np.concatenate(xs[:-1], axis=int(np.ravel(xs[-1])[0]))


register("ConcatV2", infer=_infer_concat_v2, kernel=_concat_v2, builtin=False)

# The error functions: TFLite has no builtin for them, but fuse_gelu turns GELU written with
# either into the GELU builtin; alone they stay unsupported (or custom ops).
register("Erf", infer=infer_same, kernel=lambda op, x: erf(x).astype(x.dtype), builtin=False,
         ulps=APPROXIMATED)
register("Erfc", infer=infer_same, kernel=lambda op, x: erfc(x).astype(x.dtype), builtin=False,
         ulps=APPROXIMATED)


def _infer_switch(op: Op, data: Tensor, pred: Tensor):
    shape = need_shape(op, data)
    return [(shape, data.dtype), (shape, data.dtype)]


def _infer_merge(op: Op, *ins: Tensor):
    dtypes = {t.dtype for t in ins if t is not None}
    if len(dtypes) > 1:
        raise TocoError(f"a cond's branches produce different dtypes ({', '.join(sorted(dtypes))}) "
                        f"where Merge {op.name!r} joins them ({', '.join(op.inputs)}); a Merge "
                        "joins values of one dtype: the GraphDef is malformed")
    known = [t for t in ins if t is not None and t.shape is not None]
    if not known:
        return need_shape(op, ins[0]), ins[0].dtype
    return [(known[0].shape, known[0].dtype), ((), "int32")]


# Control flow: resolved by the passes when the predicate is constant, never folded.
register("Switch", traits={"control_flow"}, infer=_infer_switch, builtin=False)
register("Merge", traits={"control_flow"}, infer=_infer_merge, builtin=False)


def _infer_random(op: Op, shape: Tensor):
    dims = need_const(op, shape, "shape")
    return tuple(int(d) for d in np.ravel(dims)), op.attrs.get("dtype", "float32")


def _random_kernel(draw):
    def kernel(op: Op, shape: np.ndarray) -> np.ndarray:
        # Seeded for repeatable runs; values need not match TensorFlow's Philox stream.
        values = draw(seeded_rng(op), tuple(int(d) for d in np.ravel(shape)))
        return values.astype(op.attrs.get("dtype", "float32"))
    return kernel


def _truncated_normal(rng, shape):
    values = rng.standard_normal(shape)
    while np.any(bad := np.abs(values) > 2):
        values[bad] = rng.standard_normal(int(bad.sum()))
    return values


# Random ops only disappear when the passes prove the result does not depend on the draw;
# their kernels serve the interpreter, never constant folding.
for _name, _draw in (("RandomUniform", lambda rng, s: rng.random(s)),
                     ("RandomStandardNormal", lambda rng, s: rng.standard_normal(s)),
                     ("TruncatedNormal", _truncated_normal)):
    register(_name, infer=_infer_random, kernel=_random_kernel(_draw), builtin=False, foldable=False)


def _infer_batch_norm(op: Op, x: Tensor, scale: Tensor, *rest: Tensor):
    shape = need_shape(op, x)
    channels = (shape[-1],)
    return [(shape, x.dtype)] + [(channels, "float32")] * (len(op.outputs) - 1)


def fused_batch_norm(op: Op, x, scale, offset, mean, variance):
    eps = op.attrs.get("epsilon", 1e-3)
    if op.attrs.get("is_training"):
        axes = tuple(range(x.ndim - 1))
        mean = x.mean(axis=axes, dtype=np.float64)
        variance = x.var(axis=axes, dtype=np.float64)
    inv = scale / np.sqrt(variance.astype(np.float64) + eps)
    y = ((x - mean) * inv + offset).astype(x.dtype)
    extra = [np.asarray(mean, np.float32), np.asarray(variance, np.float32)]
    extra += [np.zeros_like(extra[0])] * (len(op.outputs) - 3)
    return (y, *extra)


register("FusedBatchNorm", infer=_infer_batch_norm, kernel=fused_batch_norm, builtin=False)
