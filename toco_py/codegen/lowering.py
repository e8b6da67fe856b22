"""From IR ops to kernel calls: the registry of lowerings and the context they work in.

A lowering turns one op into C calls, `fn(ctx) -> None`, calling `ctx.call(family,
function, *args)` for each kernel call (none for an op the plan made free). Lowerings are
registered per op type and variant: "float" for ops on float (or plain integer) tensors,
"int8" for ops on quantized tensors, "int16" for the 16x8 ones (int16 activations).
Adding the int8 kernels of a family means registering `@lowering("CONV_2D",
variant="int8")` functions beside the float ones; they compute per-channel multipliers
and shifts in Python and pass them with `ctx.table(ctype, values, what)` — the emitter
does not change.

Arguments are C expressions: `ctx.pointer(name)` gives a tensor's data (a weight array
or a place in the arena), `ctx.packed(t, lanes)` a constant filter repacked for the
kernels, `ctx.lut(t, axis, lanes)` a clustered one as packed indices and tables (when that
is smaller), `ctx.dims(name)` its shape, `ctx.int_array` and `ctx.float_array` option
arrays, `ctx.table` a named array, `ctx.float_literal` a float option. Everything derived
from the model lands in NAME_weights.c (constants.py); NAME.c holds the calls.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import lut
from ..errors import TocoError
from ..ir import Graph, Op, Tensor
from ..ops.common import Bounds, activation_bounds
from ..ops.quantize_ops import activation_dtype
from . import cformat, nonzero_lut
from .constants import ConstTable, block_order, pack_blocks
from .model_plan import tensor_key
from .planner import MemoryPlan

# The C structs of clustered filters by element type, and their index widths (the kernels'
# tk_lut_index reads indices that never span two bytes).
LUT_TYPES = {"int8": "tk_weights_s8", "float32": "tk_weights_f32"}
LUT_BITS = (2, 4, 8)
# Option arrays (shapes, flags ...) are named const arrays in NAME_weights.c, each written
# once, rather than compound literals in the call: those have automatic storage, and
# MobileNetV2's invoke spent 3 KB of stack on them.


def smallest_lut(data: np.ndarray, channel_axis: int,
                 order: np.ndarray | None) -> lut.LutTensor | nonzero_lut.NonzeroLut | None:
    """The clustered filter's smallest packed form, with indices of every element (TFLM's
    LutTensor) or of the nonzero ones, if it is smaller than the tensor. order: the flat
    indices of data in the kernel's reading order (None: as it is)."""
    axes = (None, channel_axis)
    dense = lut.smallest(data, axes, LUT_BITS)
    sparse = nonzero_lut.smallest(data, axes, LUT_BITS, order)
    if sparse is not None and sparse.nbytes < (data.nbytes if dense is None else dense.nbytes):
        return sparse
    if dense is not None and order is not None:
        dense.indices = lut.pack_indices(lut.unpack_indices(dense.indices, dense.bits, data.size)[order], dense.bits)
    return dense


class CodegenError(TocoError):
    """The model cannot be turned into a C bundle as it is."""


Lowering = Callable[["OpContext"], None]
_LOWERINGS: dict[tuple[str, str], Lowering] = {}


def lowering(*op_types: str, variant: str = "float") -> Callable[[Lowering], Lowering]:
    def register(fn: Lowering) -> Lowering:
        for op_type in op_types:
            if (op_type, variant) in _LOWERINGS:
                raise ValueError(f"{op_type} ({variant}) has two lowerings")
            _LOWERINGS[(op_type, variant)] = fn
        return fn
    return register


def variant_of(graph: Graph, op: Op) -> str:
    """The lowering variant of the op: "int16" when it runs its 16x8 kernel (on int16
    activations), "int8" when it runs its other quantized kernel, else "float"."""
    dtype = activation_dtype(graph, op)
    return "float" if dtype is None else ("int16" if dtype == "int16" else "int8")


def find_lowering(graph: Graph, op: Op) -> Lowering | None:
    return _LOWERINGS.get((op.type, variant_of(graph, op)))


def op_label(index: int, op: Op) -> str:
    kind = op.attrs.get("custom_code", op.type) if op.type == "CUSTOM" else op.type
    return f"#{index} {kind}"


def unsupported_ops(graph: Graph) -> list[str]:
    """'#index TYPE' (with ' (int8)' or ' (int16)' for quantized ops) of every op without a
    lowering."""
    missing = []
    for i, op in enumerate(graph.ops):
        if find_lowering(graph, op) is None:
            variant = variant_of(graph, op)
            missing.append(op_label(i, op) + (f" ({variant})" if variant != "float" else ""))
    return missing


def claimed() -> frozenset[tuple[str, str]]:
    """Every (op type, variant) with a lowering (import all_lowerings first to have them all)."""
    return frozenset(_LOWERINGS)


@dataclass
class KernelCall:
    family: str      # the kernel source file, kernels/<family>.c
    function: str
    args: list[str]

    def text(self) -> str:
        return f"{self.function}({', '.join(self.args)})"


@dataclass
class CodeBlock:
    """C statements an op runs in place of kernel calls: IF, WHILE and CALL_ONCE run
    subgraphs (setting `status`, returning it when one fails); VAR_HANDLE's is a comment."""
    family: str  # the kernel file their calls need ("" for none)
    lines: list[str]
    uses_status: bool = True


@dataclass
class BundleState:
    """What the lowerings of all ops share: the const arrays of NAME_weights.c. In a model of
    several subgraphs, each subgraph has its own (graph, plan, subgraph index) and shares the
    const arrays and the model's context (model_bundle.ModelContext)."""
    graph: Graph
    plan: MemoryPlan
    prefix: str
    consts: ConstTable = None  # type: ignore[assignment]  (made here unless shared)
    model: object = None
    subgraph: int = 0

    def __post_init__(self) -> None:
        if self.consts is None:
            self.consts = ConstTable(self.prefix)

    def const_key(self, name: str) -> str:
        """The tensor's key among the const arrays: tensor names are unique per subgraph."""
        return f"subgraph {self.subgraph}: {name}" if self.subgraph else name

    def weight_symbol(self, name: str) -> str:
        t = self.graph.tensors[name]
        comment = f"{cformat.comment_text(self.const_key(name))}: {t.dtype} {list(t.shape)}"
        return self.consts.tensor(self.const_key(name), np.asarray(t.data), t.dtype, comment)


class OpContext:
    """One op being lowered: its tensors as C expressions, and the calls it makes."""

    def __init__(self, state: BundleState, index: int, op: Op) -> None:
        self.state = state
        self.graph = state.graph
        self.index = index
        self.op = op
        self.calls: list[KernelCall | CodeBlock] = []

    # ---- failing -----------------------------------------------------------------------

    def fail(self, message: str) -> CodegenError:
        """The error to raise: names the op, e.g. '#3 GATHER (emb): ...'."""
        where = f" ({self.op.name})" if self.op.name else ""
        return CodegenError(f"codegen: op {op_label(self.index, self.op)}{where}: {message}")

    # ---- tensors -----------------------------------------------------------------------

    def input(self, i: int) -> Tensor | None:
        """Input i, or None when absent (optional inputs, e.g. a conv without bias)."""
        if i >= len(self.op.inputs) or not self.op.inputs[i]:
            return None
        return self.graph.tensors[self.op.inputs[i]]

    def output(self, i: int = 0) -> Tensor:
        return self.graph.tensors[self.op.outputs[i]]

    def shape(self, t: Tensor) -> tuple[int, ...]:
        return tuple(int(d) for d in t.shape)

    def constant(self, i: int, what: str) -> np.ndarray:
        """The value of input i, which the generator needs at generation time."""
        t = self.input(i)
        if t is None or t.data is None:
            raise self.fail(f"its {what} must be a constant")
        return np.asarray(t.data)

    def require_dtype(self, tensors: list[Tensor | None], dtypes: tuple[str, ...]) -> None:
        for t in tensors:
            if t is not None and t.dtype not in dtypes:
                raise self.fail(f"tensor {t.name!r} is {t.dtype}; this kernel takes "
                                f"{' or '.join(dtypes)}")

    def require_rank(self, tensors: list[Tensor], limit: int = 6) -> None:
        for t in tensors:
            if len(t.shape) > limit:
                raise self.fail(f"tensor {t.name!r} has rank {len(t.shape)}; the kernels "
                                f"handle up to {limit}")

    # ---- C expressions ------------------------------------------------------------------

    def pointer(self, t: Tensor | None) -> str:
        """The tensor's data: its weight array, its place in the arena, or NULL if absent."""
        if t is None:
            return "NULL"
        if t.is_const and t.name not in self.state.plan.offsets:
            return self.state.weight_symbol(t.name) if t.size else "NULL"
        if t.variable and t.name not in self.state.plan.offsets:
            # (state no op writes: carried in the state buffer, model_plan.carried_tensors)
            slot = self.state.model.layout.slots[tensor_key(self.state.subgraph, t.name)]
            return f"(({cformat.C_TYPES[slot.dtype]} *)STATE({slot.offset}))"
        ctype = cformat.C_TYPES[t.dtype]
        return f"ARENA({ctype}, {self.state.plan.offsets[t.name]})"

    def output_steps(self, t: Tensor) -> str:
        """The (row, pixel) steps the kernel writes its output t with, when t is written into a
        join's output (planner.stepped_runs); NULL for a plain layout."""
        steps = self.state.plan.steps.get(t.name)
        return "NULL" if steps is None else self.int_array(list(steps))

    def packed(self, t: Tensor, lanes: int) -> str:
        """A constant filter [O, ...] as blocks of `lanes` output channels (pack_blocks)."""
        if not t.size:
            return "NULL"  # C has no empty arrays; the kernel reads nothing
        blocks = pack_blocks(np.asarray(t.data), lanes)
        comment = (f"{cformat.comment_text(t.name)}: {t.dtype} {list(t.shape)} packed as "
                   f"{list(blocks.shape)} (blocks of {lanes} output channels)")
        return self.state.consts.tensor(self.state.const_key(t.name), blocks, t.dtype, comment,
                                        layout=f"blocks{lanes}")

    def lut(self, t: Tensor, channel_axis: int, lanes: int | None, blocks: bool = False) -> str | None:
        """A constant int8 or float32 filter taking few values (clustered) as a tk_weights_s8
        or tk_weights_f32 of packed 2-, 4- or 8-bit indices and a table (one for the tensor,
        or one per output channel along channel_axis), of every element or, for a pruned
        one, of its nonzero elements, when that takes less flash than the tensor
        (smallest_lut); None otherwise (8-bit indices never do for int8). lanes: the output
        channels per block of the kernel's unpacked copy (pack_blocks), None if it reads the
        tensor as it is; blocks: the kernel reads the elements in those blocks too (else in
        the tensor's order)."""
        ctype = LUT_TYPES.get(t.dtype)
        if ctype is None or not t.is_const or not t.size:
            return None
        data = np.asarray(t.data)
        encoded = smallest_lut(data, channel_axis, block_order(data.shape, lanes) if blocks else None)
        if encoded is None:
            return None
        key = self.state.const_key(t.name)
        what = f"{cformat.comment_text(t.name)}: {t.dtype} {list(t.shape)} clustered"
        consts = self.state.consts
        layout = f" in blocks of {lanes} output channels" if blocks else ""
        sparse = isinstance(encoded, nonzero_lut.NonzeroLut)
        of = " of the nonzero elements" if sparse else ""
        indices = consts.tensor(key, encoded.indices, "uint8", f"{what}, {encoded.bits}-bit indices{of}{layout}",
                                layout="lut indices")
        per_channel = encoded.values.shape[0] > 1
        tables = f"a table per channel (axis {channel_axis})" if per_channel else "one table"
        values = consts.tensor(key, encoded.values, t.dtype, f"{what}, {tables}", layout="lut values")
        nonzero = ranks = "NULL"
        if sparse:
            consts.nonzero_luts.add(key)
            nonzero = consts.tensor(key, encoded.nonzero, "uint8", f"{what}, bitmap of the nonzero elements{layout}",
                                    layout="lut nonzero")
            ranks = consts.tensor(key, encoded.ranks, "uint32",
                                  f"{what}, nonzero elements before each {nonzero_lut.RANK_SPAN}", layout="lut ranks")
        rows = data.shape[0]
        unpacked = data.nbytes if lanes is None else -(-rows // lanes) * lanes * (data.nbytes // rows)
        consts.luts[key] = (encoded.nbytes, unpacked)
        stride = encoded.stride if per_channel else 0
        # (lanes and base: set by the kernel for each block)
        return self.struct(ctype, f"{{NULL, {indices}, {values}, {nonzero}, {ranks}, {encoded.bits}, {stride}, 0, 0}}",
                           f"filter {t.name}: packed indices and values")

    def table(self, ctype: str, values, what: str) -> str:
        """A named const array of integers in NAME_weights.c, whatever its length."""
        items = tuple(cformat.int_literal(v) for v in np.ravel(values).tolist())
        return self._named(ctype, items, what)

    def double_table(self, values, what: str) -> str:
        """A named const array of doubles in NAME_weights.c (17 digits: exact)."""
        return self._named("double", tuple(cformat.array_values(np.asarray(values), "float64")), what)

    def scratch(self, length: int) -> str:
        """Working memory of `length` bytes during the op's kernel call: the bundle's one
        scratch array, which every call needing some shares (NAME_weights.c)."""
        return self.state.consts.scratch(length, "scratch: working memory of the kernel calls")

    def struct(self, ctype: str, initializer: str, what: str) -> str:
        """A const struct in NAME_weights.c (an array of one, which the call passes as a
        pointer)."""
        return self._named(ctype, (initializer,), what)

    def _named(self, ctype: str, items: tuple[str, ...], what: str) -> str:
        comment = cformat.comment_text(f"{op_label(self.index, self.op)}: {what}")
        return self.state.consts.params(ctype, items, comment)

    def dims(self, t: Tensor) -> str:
        return self.int_array(self.shape(t))

    def shape_at_rank(self, t: Tensor, rank: int) -> tuple[int, ...]:
        """The shape padded to `rank` with 1s in front (numpy's alignment from the right)."""
        return (1,) * (rank - len(t.shape)) + self.shape(t)

    def dims_at_rank(self, t: Tensor, rank: int) -> str:
        return self.int_array(self.shape_at_rank(t, rank))

    def int_array(self, values) -> str:
        return self._array("int32_t", [cformat.int_literal(v) for v in np.ravel(values).tolist()])

    def float_array(self, values) -> str:
        return self._array("float", [cformat.float_literal(v) for v in np.ravel(values).tolist()])

    def pointer_array(self, tensors: list[Tensor], writable: bool = False) -> str:
        ctype = "void *" if writable else "const void *"
        return cformat.compound_literal(ctype, [self.pointer(t) for t in tensors])

    def _array(self, ctype: str, items: list[str]) -> str:
        if not items:
            return "NULL"  # kernels never read an empty option array
        return self._named(ctype, tuple(items), "options")

    @staticmethod
    def float_literal(value: float) -> str:
        return cformat.float_literal(value)

    @staticmethod
    def element_size(t: Tensor) -> str:
        return f"sizeof({cformat.C_TYPES[t.dtype]})"

    def activation(self) -> tuple[str, str]:
        """(min, max) of the op's fused activation clamp."""
        return self.clamp_bounds(activation_bounds(self.op))

    @staticmethod
    def clamp_bounds(bounds: Bounds) -> tuple[str, str]:
        """(min, max) C literals of a float clamp: an unbounded side is the whole float range,
        as LiteRT's CalculateActivationRange makes it."""
        lo, hi = bounds
        return ("-FLT_MAX" if lo is None else cformat.float_literal(lo),
                "FLT_MAX" if hi is None else cformat.float_literal(hi))

    # ---- output -------------------------------------------------------------------------

    def call(self, family: str, function: str, *args: str) -> None:
        self.calls.append(KernelCall(family, function, list(args)))

    def code(self, family: str, lines: list[str], uses_status: bool = True) -> None:
        self.calls.append(CodeBlock(family, lines, uses_status))


def lower_op(state: BundleState, index: int, op: Op) -> list[KernelCall | CodeBlock]:
    fn = find_lowering(state.graph, op)
    ctx = OpContext(state, index, op)
    if fn is None:
        raise ctx.fail("no C kernel for this op" +
                       (" on quantized tensors yet" if variant_of(state.graph, op) != "float" else ""))
    try:
        fn(ctx)
    except CodegenError:
        raise
    except TocoError as err:  # from the op helpers shared with the numpy kernels
        raise ctx.fail(str(err)) from None
    return ctx.calls
