"""How messages, reports and pictures name an op: the kind users know it by and the node it
came from. Below every layer that reports ops (passes, interpreter, targets, inspect)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI imports targets (and so this) at startup: no numpy for that
    from .ir import Op


def op_kind(op: Op) -> str:
    """The name users know an op by: a custom op's code (the TF op that had no mapping)."""
    return op.attrs.get("custom_code", "CUSTOM") if op.type == "CUSTOM" else op.type


def node_name(op: Op) -> str:
    """The TF node an op came from; ops read from a .tflite have none, so their first output."""
    return op.name or (op.outputs[0] if op.outputs else "")
