"""Which ops of a graph stay in float when it is quantized to integers, and why (the
quantizer's notes say it): kept by name (--keep_float, --accuracy_target), no kernel in the
scheme, no scheme for an LSTM variant, kept as TensorFlow's converter keeps them, reading
a constant integers cannot hold, or lying between float ops."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import TocoError
from ..ir import Graph, Op
from ..ops import REGISTRY, has_trait
from . import lstm
from .schemes import INT16X8, Scheme

if TYPE_CHECKING:
    from .full_integer import Int8Options


# Why an op stays in float (the notes say it).
NO_KERNEL = "no {scheme} kernel; --int8_only refuses"
NO_SCHEME = "no {scheme} scheme for"  # then what lstm.unsupported says
AS_TENSORFLOW = "as TensorFlow's converter keeps them; --int8_only quantizes them"
NON_FINITE = "reads a constant with inf or NaN, which int8 has no level for"
BETWEEN_FLOATS = ("only float ops write its inputs and read its outputs: quantized, it would add rounding "
                  "and nothing else")


def other_schemes(graph: Graph, options: Int8Options) -> dict[int, Scheme]:
    """The scheme of each op (by id) computed in another than the model's."""
    return {id(op): INT16X8 for op in graph.ops if named_in(op, options.int16_ops)}


def float_reasons(graph: Graph, options: Int8Options) -> dict[int, str]:
    """Why each op (by id) that stays in float does: kept by name, the reasons float_reason
    gives, lying between float ops, or being the writer of a variable a float op updates."""
    schemes = other_schemes(graph, options)
    reasons = {id(op): (named_in(op, options.keep_float)
                        or float_reason(graph, op, options.int8_only, schemes.get(id(op), options.scheme)))
               for op in graph.ops}
    for op in between_floats(graph, reasons):
        reasons[id(op)] = BETWEEN_FLOATS
    # The variable tensors a float op updates (an LSTM's state) stay float, and so do their
    # writers (the FILLs that zero them): a DEQUANTIZE between would update a copy.
    for op in graph.ops:
        for name in op.inputs if reasons[id(op)] else ():
            writer = graph.producer(name) if name and graph.tensors[name].variable else None
            if writer is not None:
                reasons[id(writer)] = reasons[id(op)]
    return {key: reason for key, reason in reasons.items() if reason}


def between_floats(graph: Graph, reasons: dict[int, str | None]) -> list[Op]:
    """The element-wise ops computing on float values whose every computed input comes from an
    op kept in float and whose every output only ops kept in float read (none the model's
    output). Kept in float, they save a QUANTIZE and a DEQUANTIZE and lose no precision:
    basic-pitch's epsilon added to a float SQUARE before a float LOG was rounded away in 16x8,
    and the LOG of the zeros left was -inf. Ops with weights stay quantized: their weights are
    a quarter the size, their kernels faster."""
    def float_op(op: Op | None) -> bool:
        return op is not None and bool(reasons.get(id(op)))

    found = []
    for op in graph.ops:
        if reasons[id(op)] or not (has_trait(op.type, "elementwise") or has_trait(op.type, "broadcasting")):
            continue
        computed = [n for n in op.inputs if n and not graph.tensors[n].is_const]
        outputs = [n for n in op.outputs if n]
        if (computed and all(float_op(graph.producer(n)) for n in computed)
                and all(graph.tensors[n].dtype == "float32" for n in computed + outputs)
                and not any(n in graph.outputs for n in outputs)
                and all(graph.consumers(n) and all(map(float_op, graph.consumers(n))) for n in outputs)):
            found.append(op)
    return found


def named_in(op: Op, names: dict[str, str]) -> str | None:
    """What `names` says of the op, by its name or its first output's (Int8Options.keep_float,
    int16_ops), or None."""
    return names.get(op.name) or (names.get(op.outputs[0]) if op.outputs else None)


def check_kept_names(graphs: list[Graph], keep: dict[str, str]) -> None:
    named = {name for g in graphs for op in g.ops for name in (op.name, *op.outputs[:1])}
    unknown = [name for name in keep if name not in named]
    if unknown:
        raise TocoError(f"--keep_float: no op named {', '.join(map(repr, unknown))}; name ops as the "
                        "quantizer's notes and `toco-py inspect` of the float model do")


def float_reason(graph: Graph, op: Op, int8_only: bool, scheme: Scheme) -> str | None:
    """Why the op stays in float, or None: it computes on float values and has no int8
    kernel, is one TensorFlow keeps in float or part of a composition int8 cannot hold
    (Op.float_in_int8; both unless int8_only), or reads a float constant
    int8 cannot hold (IsInf's EQUAL with infinity). QUANTIZE and DEQUANTIZE convert between
    the two; ops on integers only, and ops that read only a shape and write no float (SHAPE;
    but ZEROS_LIKE writes its input's type), have nothing to quantize."""
    if op.type in ("QUANTIZE", "DEQUANTIZE") or has_trait(op.type, "runs_model"):
        return None  # IF, WHILE and the variable ops hand values on as they are (pin_shared)
    tensors = [graph.tensors[n] for n in op.inputs + op.outputs if n]
    if any(t.is_const and t.dtype == "float32" and not np.all(np.isfinite(t.data)) for t in tensors):
        return NON_FINITE
    if has_trait(op.type, "shape_only"):
        tensors = [graph.tensors[n] for n in op.outputs]
    if not any(t.dtype == "float32" and not t.is_const for t in tensors):
        return None
    if op.float_in_int8 and not int8_only:
        return f"{op.float_in_int8}; --int8_only quantizes them"
    if scheme.kernel(REGISTRY.get(op.type)) is None:
        return NO_KERNEL.format(scheme=scheme.name)
    unsupported = lstm.unsupported(graph, op)
    if unsupported:
        return f"{NO_SCHEME.format(scheme=scheme.name)} {unsupported}; --int8_only refuses"
    return AS_TENSORFLOW if has_trait(op.type, "float_in_int8") and not int8_only else None
