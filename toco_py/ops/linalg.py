"""Converter-only linear algebra ops, with shape rules and kernels so that folding and the
interpreter can run them until a pass writes them as builtins: Einsum (two operands; float64
kernel; passes/lower_einsum.py: TRANSPOSE / RESHAPE / BATCH_MATMUL) and MatrixBandPart
(passes/lower_band_part.py: one SELECT_V2 with a constant mask)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import need_shape
from .registry import register

_FIX = "write it with tf.matmul, tf.transpose and tf.reshape"


@dataclass(frozen=True)
class Contraction:
    """A two-operand einsum as one batched matmul: each label's role and size."""
    a: str
    b: str
    out: str
    batch: str
    free_a: str
    free_b: str
    contracted: str
    sizes: dict


def _expand_ellipsis(op: Op, term: str, rank: int, letters: str) -> str:
    if "..." not in term:
        return term
    width = rank - (len(term) - 3)
    if width < 0:
        raise ConversionError(f"{op!r}: einsum term {term!r} names more axes than its rank {rank}")
    return term.replace("...", letters[len(letters) - width:])


def contraction(op: Op, sa: tuple[int, ...], sb: tuple[int, ...]) -> Contraction:
    """Reads the equation; refuses what one BATCH_MATMUL cannot compute."""
    equation = op.attrs.get("equation", "").replace(" ", "")
    if "->" not in equation or equation.count(",") != 1:
        raise ConversionError(f"{op!r}: einsum {equation!r} is not a two-operand equation with "
                              f"an explicit output; {_FIX}")
    lhs, out = equation.split("->")
    a, b = lhs.split(",")
    unused = "".join(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in equation)
    width = max(len(sa) - len(a.replace("...", "")), len(sb) - len(b.replace("...", "")), 0)
    a, b = _expand_ellipsis(op, a, len(sa), unused), _expand_ellipsis(op, b, len(sb), unused)
    out = out.replace("...", unused[len(unused) - width:])
    if len(a) != len(sa) or len(b) != len(sb) or any(len(set(t)) != len(t) for t in (a, b, out)):
        raise ConversionError(f"{op!r}: einsum {equation!r} repeats a label or does not match "
                              f"the operand ranks {len(sa)} and {len(sb)}; {_FIX}")
    sizes: dict[str, int] = {}
    for labels, shape in ((a, sa), (b, sb)):
        for label, size in zip(labels, shape):
            known = sizes.setdefault(label, size)
            if known < 0:
                sizes[label] = size
            elif 0 <= size != known:
                raise ConversionError(f"{op!r}: einsum {equation!r} gives label {label!r} sizes "
                                      f"{sizes[label]} and {size} (no broadcasting); {_FIX}")
    if any(label not in out for label in set(a) ^ set(b)) or any(label not in a + b for label in out):
        raise ConversionError(f"{op!r}: einsum {equation!r} sums over an axis of one operand only "
                              f"or names an output axis no operand has; {_FIX}")
    return Contraction(a, b, out, batch="".join(c for c in out if c in a and c in b),
                       free_a="".join(c for c in a if c not in b), free_b="".join(c for c in b if c not in a),
                       contracted="".join(c for c in a if c in b and c not in out), sizes=sizes)


def _infer_einsum(op: Op, a: Tensor, b: Tensor):
    c = contraction(op, need_shape(op, a), need_shape(op, b))
    return tuple(c.sizes[label] for label in c.out), a.dtype


def _einsum(op: Op, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    c = contraction(op, a.shape, b.shape)
    out = np.einsum(f"{c.a},{c.b}->{c.out}", a.astype(np.float64), b.astype(np.float64))
    return np.asarray(out).astype(a.dtype)


def _contracted_length(op: Op, a: np.ndarray, b: np.ndarray) -> int:
    c = contraction(op, a.shape, b.shape)
    return max(1, int(np.prod([c.sizes[label] for label in c.contracted])))


register("Einsum", builtin=False, infer=_infer_einsum, kernel=_einsum, squares="sum",
         sum_length=_contracted_length)


# ---- MatrixBandPart ----------------------------------------------------------------------

def band_mask(op: Op, rows: int, cols: int, num_lower, num_upper) -> np.ndarray:
    """True where TensorFlow's band part keeps the value: a negative bound keeps that whole
    triangle."""
    lower, upper = (int(np.ravel(v)[0]) for v in (num_lower, num_upper))
    if lower > rows or upper > cols:
        # TensorFlow's kernel fails on these at run time.
        raise ConversionError(f"{op!r}: band bounds ({lower}, {upper}) exceed the matrix size "
                              f"{rows}x{cols}; use -1 to keep a whole triangle")
    i, j = np.arange(rows)[:, None], np.arange(cols)[None, :]
    return ((lower < 0) | (i - j <= lower)) & ((upper < 0) | (j - i <= upper))


def _infer_band_part(op: Op, x: Tensor, num_lower: Tensor, num_upper: Tensor):
    shape = need_shape(op, x)
    if len(shape) < 2:
        raise ConversionError(f"{op!r}: needs a matrix (rank 2 or more), has shape {list(shape)}")
    if min(shape[-2:]) >= 0 and num_lower.data is not None and num_upper.data is not None:
        band_mask(op, *shape[-2:], num_lower.data, num_upper.data)
    return shape, x.dtype


def _band_part(op: Op, x: np.ndarray, num_lower: np.ndarray, num_upper: np.ndarray) -> np.ndarray:
    return np.where(band_mask(op, *x.shape[-2:], num_lower, num_upper), x, np.zeros((), x.dtype))


register("MatrixBandPart", builtin=False, infer=_infer_band_part, kernel=_band_part, traits={"moves_data"})
