"""The stages of the conversion and the passes each runs, in order."""
from __future__ import annotations

from typing import Callable

from ..ir import Graph
from . import (
    fold_constants,
    fuse_activation,
    fuse_bias_add,
    fuse_mul_into_affine,
    legalize_concat,
    materialize_conv_bias,
    merge_reshapes,
    remove_identity_reshape,
    remove_passthrough,
    squeeze_to_reshape,
)
from .driver import PassLog, run_stage

STAGES = {
    "cleanup": [remove_passthrough.PASS],
    "resolve": [fold_constants.PASS],
    "legalize": [legalize_concat.PASS, squeeze_to_reshape.PASS, merge_reshapes.PASS,
                 remove_identity_reshape.PASS],
    "fuse": [fuse_bias_add.PASS, fuse_mul_into_affine.PASS, fuse_activation.PASS,
             fold_constants.PASS],
    "finalize": [materialize_conv_bias.PASS],
}


def run_all(graph: Graph, log: PassLog | None = None,
            after_pass: Callable[[str, Graph], None] | None = None) -> None:
    for stage, passes in STAGES.items():
        run_stage(graph, stage, passes, log, after_pass)
