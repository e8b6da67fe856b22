"""FFT and complex ops: RFFT and RFFT2D -> RFFT2D, ComplexAbs / Real / Imag -> COMPLEX_ABS /
REAL / IMAG (ops/fft.py). TF's converter writes a 1-D RFFT as an RFFT2D of height 1 between
two reshapes (legalize_tf.cc, ConvertRfftToRfft2d); so does this mapper (EXPAND_DIMS and
SQUEEZE, which squeeze_to_reshape makes RESHAPEs once shapes are known)."""
from __future__ import annotations

import numpy as np

from ...errors import ConversionError
from ...ops.fft import fft_lengths
from ..context import NodeContext
from .registry import tf_op

_COMPLEX_PARTS = {"ComplexAbs": "COMPLEX_ABS", "Real": "REAL", "Imag": "IMAG"}


def _fft_length(ctx: NodeContext, count: int) -> tuple[int, ...]:
    """The node's constant fft_length; its input must be float32 (LiteRT's RFFT2D takes no
    other type)."""
    where = f"node {ctx.name!r} ({ctx.node.op})"
    if ctx.dtype_attr("Treal", "float32") != "float32":
        raise ConversionError(f"{where}: input of type {ctx.dtype_attr('Treal')}; LiteRT's RFFT2D "
                              "takes float32 (cast the signal to float32)")
    return fft_lengths(where, ctx.require_const(1, "fft_length"), count)


@tf_op("RFFT")
def rfft(ctx: NodeContext) -> None:
    (length,) = _fft_length(ctx, 1)
    rows = ctx.temp("rows")
    ctx.emit("EXPAND_DIMS", [ctx.input(0), ctx.const("row_axis", np.array(-2, np.int32))], outputs=[rows])
    spectrum = ctx.temp("spectrum")
    ctx.emit("RFFT2D", [rows, ctx.const("fft_length_2d", np.array([1, length], np.int32))],
             outputs=[spectrum])
    ctx.emit("SQUEEZE", [spectrum], {"squeeze_dims": [-2]})


@tf_op("RFFT2D")
def rfft2d(ctx: NodeContext) -> None:
    lengths = _fft_length(ctx, 2)
    ctx.emit("RFFT2D", [ctx.input(0), ctx.const("fft_length", np.array(lengths, np.int32))])


@tf_op(*_COMPLEX_PARTS)
def complex_part(ctx: NodeContext) -> None:
    ctx.emit(_COMPLEX_PARTS[ctx.node.op], [ctx.input(0)])
