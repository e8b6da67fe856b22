"""Importing this module registers every lowering. A new family of lowerings (for example
the int8 variants, `@lowering("CONV_2D", variant="int8")`) is a new module listed here;
its kernels go into kernels/<family>.c, which the emitter copies when a call names it."""
from . import (  # noqa: F401
    lower_control,
    lower_int8_math,
    lower_int8_movement,
    lower_int8_nn,
    lower_int16,
    lower_lstm,
    lower_math,
    lower_movement,
    lower_nn,
    lower_quantize,
    lower_state,
)
