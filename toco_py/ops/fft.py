"""The FFT and complex family: RFFT2D (real input -> complex64 spectrum) and the complex ->
real readers COMPLEX_ABS, REAL and IMAG, as LiteRT's rfft2d.cc and complex_support.cc run
them.

RFFT2D transforms the inner two axes of a float32 tensor of rank >= 2 with a constant int32
fft_length [height, width], each a power of two (LiteRT's fft2d library takes no other):
the inner two axes are cropped or zero-padded to it, and the output keeps width // 2 + 1
frequencies of the inner axis, in TensorFlow's order (np.fft.rfft2's). LiteRT computes in
float64 and rounds once to complex64; so does the kernel here (complex128 when the
interpreter runs the model in float64). No kernel here has an int8 form: LiteRT has none,
and the int8 quantizer keeps these ops in float (quantize/full_integer.py).
"""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Op, Tensor
from .common import infer_same, need_const, need_shape
from .registry import register

# The complex type of each real type, and back.
_COMPLEX = {"float32": "complex64", "float64": "complex128"}
_REAL = {v: k for k, v in _COMPLEX.items()}


def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def fft_lengths(where: str, value: np.ndarray, count: int = 2) -> tuple[int, ...]:
    """The `count` lengths of an fft_length constant, refused unless LiteRT's RFFT2D takes
    them; `where` names the node for the message."""
    lengths = tuple(int(v) for v in np.ravel(value))
    if len(lengths) != count or not all(map(is_power_of_two, lengths)):
        raise ConversionError(f"{where}: fft_length {list(lengths)} must be {count} power(s) of "
                              "two (LiteRT's RFFT2D takes no other lengths); pad the signal to "
                              "a power-of-two length")
    return lengths


def _where(op: Op) -> str:
    return f"node {op.name!r} ({op.type})"


def _infer_rfft2d(op: Op, x: Tensor, fft_length: Tensor):
    shape = need_shape(op, x)
    if len(shape) < 2 or x.dtype != "float32":
        raise ConversionError(f"{_where(op)}: input of type {x.dtype} and rank "
                              f"{len(shape)}; LiteRT's RFFT2D takes float32 of rank 2 or more")
    height, width = fft_lengths(_where(op), need_const(op, fft_length, "fft_length"))
    return shape[:-2] + (height, width // 2 + 1), "complex64"


def _rfft2d(op: Op, x: np.ndarray, fft_length: np.ndarray) -> np.ndarray:
    height, width = fft_lengths(_where(op), fft_length)
    spectrum = np.fft.rfft2(x.astype(np.float64), s=(height, width))
    return spectrum.astype(_COMPLEX[x.dtype.name])


def _rfft2d_terms(op: Op, x: np.ndarray, fft_length: np.ndarray) -> int:
    height, width = fft_lengths(_where(op), fft_length)
    return height * width


def _rfft2d_squares(op: Op, x: np.ndarray, fft_length: np.ndarray) -> np.ndarray:
    """Each output sums the (cropped) slice's values times unit twiddles: the squared terms
    sum to the slice's sum of squares, the same for every frequency of the slice."""
    height, width = fft_lengths(_where(op), fft_length)
    kept = np.asarray(x, np.float64)[..., :height, :width]
    energy = np.sum(kept * kept, axis=(-2, -1), keepdims=True)
    return np.broadcast_to(energy, x.shape[:-2] + (height, width // 2 + 1))


def _infer_complex_part(op: Op, x: Tensor):
    if x.dtype not in _REAL:
        raise ConversionError(f"{_where(op)}: input of type {x.dtype}; it takes "
                              "complex64 or complex128")
    shape, _ = infer_same(op, x)
    return shape, _REAL[x.dtype]


def _complex_part(fn):
    def kernel(op: Op, x: np.ndarray) -> np.ndarray:
        return np.asarray(fn(x)).astype(_REAL[x.dtype.name])
    return kernel


# The rounding the tolerance policy allows is a float32 sum's, as TensorFlow's own RFFT kernels
# compute (LiteRT's float64 is far inside it).
register("RFFT2D", infer=_infer_rfft2d, kernel=_rfft2d, sum_length=_rfft2d_terms,
         squares=_rfft2d_squares)
# Not "elementwise": sink_transpose would move a TRANSPOSE onto their complex input, and
# LiteRT's TRANSPOSE takes no complex type.
register("COMPLEX_ABS", infer=_infer_complex_part, kernel=_complex_part(np.abs))
register("REAL", infer=_infer_complex_part, kernel=_complex_part(np.real))
register("IMAG", infer=_infer_complex_part, kernel=_complex_part(np.imag))
