"""The stages of the conversion and the passes each runs, in order."""
from __future__ import annotations

from collections.abc import Callable

from ..ir import Graph
from . import (
    check_while_shapes,
    cond_to_if,
    dedupe_ops,
    drop_fake_quant,
    emulate_fake_quant,
    fold_constants,
    fold_dilated_conv,
    fold_lerp,
    fold_lstm_transposes,
    fold_pack_of_unpack,
    fold_pad_into_conv,
    fold_reshape_into_reduction,
    fold_zero_product,
    fuse_activation,
    fuse_affine_into_following,
    fuse_bias_add,
    fuse_gelu,
    fuse_hard_swish,
    fuse_l2_normalization,
    fuse_lstm,
    fuse_lstm_loop,
    fuse_mul_into_affine,
    fuse_softmax,
    hoist_concat_out_of_pack,
    legalize_concat,
    legalize_random_uniform,
    legalize_strided_slice,
    like_to_fill,
    lower_band_part,
    lower_batch_norm,
    lower_block_lstm,
    lower_einsum,
    lower_roll,
    lower_tensor_arrays,
    materialize_conv_bias,
    materialize_identity,
    merge_constants,
    merge_reshapes,
    merge_transposes,
    minmax_to_relu,
    prune_while,
    remove_identity_gather,
    remove_identity_reshape,
    remove_identity_slice,
    remove_identity_transpose,
    remove_passthrough,
    remove_tile,
    remove_trivial_arithmetic,
    resolve_merge,
    resolve_random,
    resolve_select,
    resolve_switch,
    sink_loop_constants,
    sink_transpose,
    split_reverse_axes,
    squeeze_to_reshape,
)
from .driver import PassLog, run_stage

STAGES = {
    # Drop what only matters in training.
    "cleanup": [remove_passthrough.PASS, prune_while.PASS],
    # Make everything that can be known at conversion time a constant.
    "resolve": [remove_tile.PASS, fold_constants.PASS, resolve_switch.PASS, resolve_merge.PASS,
                resolve_random.PASS, resolve_select.PASS, remove_trivial_arithmetic.PASS,
                fold_zero_product.PASS, drop_fake_quant.PASS, remove_passthrough.PASS,
                dedupe_ops.PASS, sink_loop_constants.PASS, prune_while.PASS,
                # (here, so that fold_zero_product drops what a zero initial state multiplies)
                lower_block_lstm.PASS],
    # TF-only ops -> TFLite builtins (TensorArrays first: the branches cond_to_if makes take
    # their inputs' shapes as they are then).
    "legalize": [lower_tensor_arrays.PASS, cond_to_if.PASS, emulate_fake_quant.PASS,
                 legalize_concat.PASS, legalize_random_uniform.PASS, legalize_strided_slice.PASS,
                 split_reverse_axes.PASS, like_to_fill.PASS, lower_band_part.PASS,
                 lower_batch_norm.PASS, lower_einsum.PASS, lower_roll.PASS,
                 squeeze_to_reshape.PASS, merge_reshapes.PASS, remove_identity_reshape.PASS,
                 remove_identity_slice.PASS, remove_identity_gather.PASS,
                 fold_reshape_into_reduction.PASS, merge_transposes.PASS,
                 remove_identity_transpose.PASS, sink_transpose.PASS, minmax_to_relu.PASS,
                 fold_dilated_conv.PASS, fold_constants.PASS],
    # Fewer, bigger ops.
    "fuse": [fuse_softmax.PASS, fuse_l2_normalization.PASS, fuse_hard_swish.PASS, fuse_gelu.PASS,
             fuse_bias_add.PASS, fuse_mul_into_affine.PASS, fuse_affine_into_following.PASS,
             # (fuse_lstm before a RELU cell's last activation fuses into its ADD)
             fuse_lstm.PASS, fold_lstm_transposes.PASS, fuse_activation.PASS,
             # (after fuse_lstm, which reads the steps one by one)
             hoist_concat_out_of_pack.PASS, fold_pack_of_unpack.PASS, fold_lerp.PASS,
             fold_pad_into_conv.PASS, remove_trivial_arithmetic.PASS,
             fold_constants.PASS],
    # A WHILE of LSTM cells -> the fused ops (after "fuse" has run in its body).
    "fuse_loops": [fuse_lstm_loop.PASS],
    "finalize": [check_while_shapes.PASS, materialize_conv_bias.PASS, materialize_identity.PASS, merge_constants.PASS],
}


# Activation fake-quant nodes are dropped, their ranges kept for the int8 quantizer, or
# emulated, so that the float model computes what TensorFlow computes.
FAKE_QUANT_PASSES = {"drop": drop_fake_quant.PASS, "emulate": emulate_fake_quant.PASS}


def run_all(graph: Graph, log: PassLog | None = None,
            after_pass: Callable[[str, Graph], None] | None = None, fake_quant: str = "emulate",
            fuse_rnn: bool = True) -> None:
    """fake_quant: "emulate" or "drop" (see FAKE_QUANT_PASSES); fuse_rnn: whether LSTM cells
    become UNIDIRECTIONAL_SEQUENCE_LSTM (float and int8 alike)."""
    skipped = [p for mode, p in FAKE_QUANT_PASSES.items() if mode != fake_quant]
    if len(skipped) == len(FAKE_QUANT_PASSES):
        raise ValueError(f"fake_quant={fake_quant!r}: use one of {', '.join(FAKE_QUANT_PASSES)}")
    if not fuse_rnn:
        skipped += [fuse_lstm.PASS, fuse_lstm_loop.PASS]
    for stage, passes in STAGES.items():
        chosen = [p for p in passes if p not in skipped]
        run_stage(graph, stage, chosen, log, after_pass)
        # Then inside the subgraphs (the branches cond_to_if made), each keeping its interface.
        for sub in graph.subgraphs[1:]:
            run_stage(sub, stage, chosen, log, after_pass)
