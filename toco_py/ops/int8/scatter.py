"""Quantized scatter and diagonal writes: LiteRT's kernels copy (SCATTER_ND adds) the raw
integers whatever the params say, as the float kernels do on them (DYNAMIC_UPDATE_SLICE's
operand and update share the output's params: the "shared_params" trait). MATRIX_DIAG and SCATTER_ND
start from the raw integer 0, which means 0 only for a zero point of 0 (the quantizer gives
them one: the "zero_fill" trait)."""
from __future__ import annotations

from ..registry import register_int8
from .movement import moving_kernel

for _name in ("MATRIX_DIAG", "MATRIX_SET_DIAG", "SCATTER_ND", "SPARSE_TO_DENSE", "DYNAMIC_UPDATE_SLICE"):
    register_int8(_name, moving_kernel(_name, equal_params=False))
