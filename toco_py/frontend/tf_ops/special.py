"""Special functions TFLite has no builtin for, as builtin compositions: Lgamma.

Lgamma is log|Gamma(x)|, by Lanczos' approximation (Numerical Recipes' gammln: g = 5, six
terms) for x >= 1/2 and the reflection formula below it:
    lgamma(z) = (z + 1/2) log(z + 11/2) - (z + 11/2) + log(sum_j d_j / (z + j)),  j = 0..6
    lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x)                              (x < 1/2)
where the series sqrt(2 pi) (c_0 + sum_j c_j / (z + j)) / z is written in partial fractions,
so that one ADD, one DIV and one SUM over a trailing axis of 7 evaluate it. |sin(pi x)| is
sin(pi |x - round(x)|): x - round(x) is exact in float32, so the sine stays accurate next to
the poles at the non-positive integers (where the result is +inf, as TensorFlow's).
23 ops, where TF's converter makes 58.

Measured against math.lgamma on 200001 float32 points per range (tests/test_fft.py's
test_lgamma_accuracy repeats it on fewer). The approximation itself, in float64, is off by at
most 5e-14 on (0, 10] and 1e-12 relative on [-100, 100]; the float64 run of these ops (the
tolerance policy's truth) is off by the float32 rounding of their constants, 5e-7 relative.
Max error relative to max(|lgamma(x)|, 1), float32 in LiteRT:
    range                    our 23 ops   TF converter's 58   TF's own kernel
    (0, 0.5]                 1.5e-6       1.5e-6              1.2e-7
    (0.5, 2]                 2.1e-6       2.2e-6              6.2e-8
    (2, 10]                  3.0e-6       2.7e-6              2.0e-7
    (10, 100]                6.3e-7       5.6e-7              1.8e-7
    (-10, 0), no integers    6.8e-6       4.5e-6              2.8e-7
    (-100, -10]              8.1e-7       5.2e-7              2.2e-7
    within 0.001 of -3       7.5e-7       7.1e-7              1.3e-7
Near the zeros at 1 and 2 the error is the rounding of two terms of about 3.7 that cancel.
+inf and -inf give NaN (inf - inf), as TF's converter's composition does (TensorFlow: +inf).
Quantized, the series is lost (terms of up to 190 that cancel to about 40; its smallest
numerators round to 0): a mean error of 1.25 times the output's range on the op coverage
graph, where TF's converter's int8 model fails to invoke. So its ops stay float in int8
models (Op.float_in_int8), between a DEQUANTIZE and a QUANTIZE, unless --int8_only.
"""
from __future__ import annotations

import math

import numpy as np

from ..context import NodeContext
from .compose import element_type, scalar
from .registry import tf_op

# Numerical Recipes' gammln coefficients c_0..c_6 and sqrt(2 pi).
_C0 = 1.000000000190015
_C = (76.18009172947146, -86.50532032941677, 24.01409824083091, -1.231739572450155,
      0.1208650973866179e-2, -0.5395239384953e-5)
_SQRT_2PI = 2.5066282746310005
# sqrt(2 pi) (c_0 + sum_j c_j / (z + j)) / z = sum_{j=0..6} d_j / (z + j).
_D = (_SQRT_2PI * (_C0 + sum(c / j for j, c in enumerate(_C, start=1))),
      *(-_SQRT_2PI * c / j for j, c in enumerate(_C, start=1)))


def _into(ctx: NodeContext, suffix: str) -> list[str]:
    """The outputs of one step of the composition: a fresh tensor."""
    return [ctx.temp(suffix)]


def _lanczos(ctx: NodeContext, z: str) -> str:
    """lgamma(z) for z >= 1/2."""
    t = ctx.emit("ADD", [z, scalar(ctx, "g_plus_half", 5.5)], outputs=_into(ctx, "t")).outputs[0]
    log_t = ctx.emit("LOG", [t], outputs=_into(ctx, "log_t")).outputs[0]
    z_half = ctx.emit("ADD", [z, scalar(ctx, "half", 0.5)], outputs=_into(ctx, "z_plus_half")).outputs[0]
    power = ctx.emit("MUL", [z_half, log_t], outputs=_into(ctx, "power")).outputs[0]
    stirling = ctx.emit("SUB", [power, t], outputs=_into(ctx, "stirling")).outputs[0]
    dtype = element_type(ctx)
    column = ctx.emit("EXPAND_DIMS", [z, ctx.const("last_axis", np.array(-1, np.int32))],
                      outputs=_into(ctx, "z_column")).outputs[0]
    shifted = ctx.emit("ADD", [column, ctx.const("offsets", np.arange(len(_D), dtype=dtype))],
                       outputs=_into(ctx, "z_plus_j")).outputs[0]
    fractions = ctx.emit("DIV", [ctx.const("numerators", np.array(_D, dtype)), shifted],
                         outputs=_into(ctx, "fractions")).outputs[0]
    series = ctx.emit("SUM", [fractions, ctx.const("series_axis", np.array([-1], np.int32))],
                      {"keep_dims": False}, outputs=_into(ctx, "series")).outputs[0]
    log_series = ctx.emit("LOG", [series], outputs=_into(ctx, "log_series")).outputs[0]
    return ctx.emit("ADD", [stirling, log_series], outputs=_into(ctx, "lgamma_z")).outputs[0]


@tf_op("Lgamma")
def lgamma(ctx: NodeContext) -> None:
    x = ctx.input(0)
    reflect = ctx.emit("LESS", [x, scalar(ctx, "half", 0.5)], outputs=_into(ctx, "reflect")).outputs[0]
    one_minus_x = ctx.emit("SUB", [scalar(ctx, "one", 1), x], outputs=_into(ctx, "one_minus_x")).outputs[0]
    z = ctx.emit("SELECT_V2", [reflect, one_minus_x, x], outputs=_into(ctx, "z")).outputs[0]
    lgamma_z = _lanczos(ctx, z)
    # log(pi / |sin(pi x)|) - lgamma(1 - x), with |sin(pi x)| = sin(pi |x - round(x)|).
    nearest = ctx.emit("ROUND", [x], outputs=_into(ctx, "nearest_integer")).outputs[0]
    offset = ctx.emit("SUB", [x, nearest], outputs=_into(ctx, "offset")).outputs[0]
    distance = ctx.emit("ABS", [offset], outputs=_into(ctx, "distance")).outputs[0]
    angle = ctx.emit("MUL", [distance, scalar(ctx, "pi", math.pi)], outputs=_into(ctx, "angle")).outputs[0]
    sine = ctx.emit("SIN", [angle], outputs=_into(ctx, "sine")).outputs[0]
    log_sine = ctx.emit("LOG", [sine], outputs=_into(ctx, "log_sine")).outputs[0]
    log_ratio = ctx.emit("SUB", [scalar(ctx, "log_pi", math.log(math.pi)), log_sine],
                         outputs=_into(ctx, "log_ratio")).outputs[0]
    reflected = ctx.emit("SUB", [log_ratio, lgamma_z], outputs=_into(ctx, "reflected")).outputs[0]
    ctx.emit("SELECT_V2", [reflect, reflected, lgamma_z])
    ctx.keep_float_in_int8("Lgamma's series: terms up to 190 that cancel, whose smallest int8 "
                           "rounds to 0")
