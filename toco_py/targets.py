"""What each deployment target can run, op by op: the tables behind `toco-py check`.

- tflite: every op with a TFLite builtin (the full LiteRT runtime has a kernel for each).
- tflite-micro: the builtins TensorFlow Lite Micro registers: the ops whose definition has
  the "tflm" trait (ops/registry.py).
- codegen: the ops and variants (float, int8, int16) `toco-py codegen` has C lowerings for; read
  from the codegen registry at run time, so it follows new lowerings without an edit here.

The "tflm" traits reflect tflite-micro TFLM_VERSION (its tflite_micro.__version__). They were
derived from the installed `tflite-micro` wheel, not from memory: for every BuiltinOperator
code of the schema, a one-op model (tests/support/tiny_tflite.py's tiny_model with that opcode) was
handed to `tflite_micro.runtime.Interpreter.from_bytes`, whose op resolver registers every
kernel TFLM has; codes for which it printed "Didn't find op for builtin opcode" (on the C
stderr) have no kernel, all others do (a kernel that rejects the dummy tensors is still
registered). tests/test_op_tables.py repeats the probe, so a new tflite-micro that adds or
drops a kernel fails that test until the traits (and TFLM_VERSION) are updated.
TFLM kernels also limit the tensor types (mostly float32, int8 and int16); the trait is by
op only.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .naming import node_name, op_kind

if TYPE_CHECKING:  # the CLI imports TARGETS at startup: no numpy or op registry for that
    from .ir import Graph, Op

TARGETS = ("tflite", "tflite-micro", "codegen")

# tflite_micro.__version__ of the wheel the "tflm" traits were probed with.
TFLM_VERSION = "0.dev20261023182759-g8f6596d"


def has_builtin(op: Op) -> bool:
    from .ops import REGISTRY

    return op.type != "CUSTOM" and op.type in REGISTRY and REGISTRY[op.type].builtin


def unsupported_on(graph: Graph, target: str) -> dict[str, list[str]]:
    """Op label -> node names, for every op of the graph the target cannot run. Labels are op
    kinds, with ' (int8)' or ' (int16)' for a quantized variant codegen lacks."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}")
    missing = _codegen_missing if target == "codegen" else _runtime_missing
    found: dict[str, list[str]] = {}
    for j, op in enumerate(graph.ops):
        label = missing(graph, op, target)
        if label is not None:
            # A .tflite op with no output (ASSIGN_VARIABLE, CALL_ONCE) has no name: its index.
            found.setdefault(label, []).append(node_name(op) or f"operator {j}")
    return found


def _runtime_missing(graph: Graph, op: Op, target: str) -> str | None:
    from .ops import has_trait

    if not has_builtin(op):
        return op_kind(op)
    if target == "tflite-micro" and not has_trait(op.type, "tflm"):
        return op.type
    if target == "tflite-micro" and op.type == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        from .ops.lstm import tflm_gap

        gap = tflm_gap(op)
        return f"{op.type} (with {gap})" if gap else None
    return None


def _codegen_missing(graph: Graph, op: Op, target: str) -> str | None:
    # Imported here: the codegen registry loads every lowering module, which only this
    # target needs.
    from .codegen import all_lowerings  # noqa: F401  (registers the lowerings)
    from .codegen.lowering import find_lowering, variant_of

    if find_lowering(graph, op) is not None or op.type == "DENSIFY":
        return None  # (a DENSIFY's sparse constant the bundle stores dense: codegen/bundle.py)
    variant = variant_of(graph, op)
    return op_kind(op) + (f" ({variant})" if variant != "float" else "")
