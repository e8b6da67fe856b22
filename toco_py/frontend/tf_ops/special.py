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
int8 quantizes every op but ROUND and SIN, and loses the series (terms of up to 190 that
cancel to about 40; its smallest numerators round to 0): a mean error of 1.25 times the
output's range on the op coverage graph, where TF's converter's int8 model fails to invoke.
Keep Lgamma out of int8 models.
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


def _step(ctx: NodeContext, type_: str, inputs: list[str], suffix: str, attrs: dict | None = None) -> str:
    return ctx.emit(type_, inputs, attrs, outputs=[ctx.temp(suffix)]).outputs[0]


def _lanczos(ctx: NodeContext, z: str) -> str:
    """lgamma(z) for z >= 1/2."""
    t = _step(ctx, "ADD", [z, scalar(ctx, "g_plus_half", 5.5)], "t")
    log_t = _step(ctx, "LOG", [t], "log_t")
    z_half = _step(ctx, "ADD", [z, scalar(ctx, "half", 0.5)], "z_plus_half")
    power = _step(ctx, "MUL", [z_half, log_t], "power")
    stirling = _step(ctx, "SUB", [power, t], "stirling")
    dtype = element_type(ctx)
    column = _step(ctx, "EXPAND_DIMS", [z, ctx.const("last_axis", np.array(-1, np.int32))], "z_column")
    shifted = _step(ctx, "ADD", [column, ctx.const("offsets", np.arange(len(_D), dtype=dtype))], "z_plus_j")
    fractions = _step(ctx, "DIV", [ctx.const("numerators", np.array(_D, dtype)), shifted], "fractions")
    series = _step(ctx, "SUM", [fractions, ctx.const("series_axis", np.array([-1], np.int32))],
                   "series", {"keep_dims": False})
    log_series = _step(ctx, "LOG", [series], "log_series")
    return _step(ctx, "ADD", [stirling, log_series], "lgamma_z")


@tf_op("Lgamma")
def lgamma(ctx: NodeContext) -> None:
    x = ctx.input(0)
    reflect = _step(ctx, "LESS", [x, scalar(ctx, "half", 0.5)], "reflect")
    one_minus_x = _step(ctx, "SUB", [scalar(ctx, "one", 1), x], "one_minus_x")
    z = _step(ctx, "SELECT_V2", [reflect, one_minus_x, x], "z")
    lgamma_z = _lanczos(ctx, z)
    # log(pi / |sin(pi x)|) - lgamma(1 - x), with |sin(pi x)| = sin(pi |x - round(x)|).
    nearest = _step(ctx, "ROUND", [x], "nearest_integer")
    offset = _step(ctx, "SUB", [x, nearest], "offset")
    distance = _step(ctx, "ABS", [offset], "distance")
    angle = _step(ctx, "MUL", [distance, scalar(ctx, "pi", math.pi)], "angle")
    sine = _step(ctx, "SIN", [angle], "sine")
    log_sine = _step(ctx, "LOG", [sine], "log_sine")
    log_ratio = _step(ctx, "SUB", [scalar(ctx, "log_pi", math.log(math.pi)), log_sine], "log_ratio")
    reflected = _step(ctx, "SUB", [log_ratio, lgamma_z], "reflected")
    ctx.emit("SELECT_V2", [reflect, reflected, lgamma_z])
