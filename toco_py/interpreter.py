"""Runs an IR graph with the numpy kernels of toco_py.ops: the reference interpreter behind
`toco-py run` and `toco-py validate`, and the calibration engine of the quantizer. A model of
several subgraphs runs them as its IF, WHILE and CALL_ONCE ops say, with resource variables
that keep their values from one run to the next (Model)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import TocoError
from .ir import Graph, Op
from .naming import node_name, op_kind
from .ops import CUSTOM_OPS, definition, has_trait
from .ops.hybrid import is_hybrid
from .ops.quantize_ops import activation_dtype, quant_attrs, runs_quantized


class _Dead:
    """The value on the branch a TF1 Switch did not take (only in graphs straight from a .pb)."""

    def __repr__(self) -> str:
        return "<dead branch>"


DEAD = _Dead()


def missing_kernels(graph: Graph, kernels: list[Callable | None] | None = None) -> list[str]:
    """'#index TYPE' for every op the interpreter cannot run. kernels: each op's
    kernel_for, when already found. An op running subgraphs or variables (the "runs_model"
    trait) runs within its model; the ops of its subgraphs are checked in theirs."""
    if kernels is None:
        kernels = [kernel_for(graph, op) for op in graph.ops]
    missing = []
    for i, (op, kernel) in enumerate(zip(graph.ops, kernels)):
        if kernel is None and op.type not in ("Switch", "Merge") and not has_trait(op.type, "runs_model"):
            opdef = definition(op)
            missing.append(f"#{i} {op_kind(op)}{_variant(graph, op) if opdef and opdef.kernel else ''}")
    return missing


def _variant(graph: Graph, op: Op) -> str:
    """Which of its kernels an op with a float kernel lacks."""
    return " (16x8)" if activation_dtype(graph, op) == "int16" else " (quantized)"


def _missing_message(graph: Graph, missing: list[str]) -> str:
    """One line naming what the interpreter cannot run, by op index and kind; a custom op's
    indices are grouped under its code, and the custom ops the interpreter runs are named."""
    custom: dict[str, list[str]] = {}
    entries: list = []
    for entry in missing:
        index, kind = entry.split(" ", 1)
        if graph.ops[int(index[1:])].type != "CUSTOM":
            entries.append(entry)
        elif kind not in custom:
            custom[kind] = [index]
            entries.append(kind)
        else:
            custom[kind].append(index)
    listed = ", ".join(e if e not in custom else
                       f"{' '.join(custom[e][:3])}{' ...' if len(custom[e]) > 3 else ''} {e}"
                       for e in entries)
    if not custom:
        return f"the interpreter has no kernel for: {listed}"
    return (f"the interpreter has no kernel for: {listed} (custom op{'s' if len(custom) > 1 else ''} "
            f"{', '.join(custom)}; the custom ops it runs: {', '.join(sorted(CUSTOM_OPS)) or 'none'})")


def kernel_for(graph: Graph, op: Op, model: Model | None = None) -> Callable | None:
    """The op's kernel as run_op calls it; an op that runs subgraphs or reaches variables
    (the "runs_model" trait) has one only within a model."""
    opdef = definition(op)
    if opdef is None:
        return None
    if "runs_model" in opdef.traits:
        return None if model is None else lambda op_, *arrays: opdef.kernel(op_, model, *arrays)
    if is_hybrid(graph, op):
        hybrid = opdef.hybrid_kernel
        return lambda op_, *arrays: hybrid(op_, graph, *arrays)
    if runs_quantized(graph, op):
        quantized = opdef.int16_kernel if activation_dtype(graph, op) == "int16" else opdef.int8_kernel
        if quantized is None:
            return None
        return lambda op_, *arrays: quantized(op_, graph, *arrays)
    return opdef.kernel


class Model:
    """What the subgraphs of one Interpreter share, kept from one run() to the next as
    LiteRT's interpreter keeps it: an interpreter per subgraph, the resource variables'
    values by handle, and the initializer subgraphs CALL_ONCE has run."""

    def __init__(self, graph: Graph, float64: bool) -> None:
        graphs = graph.subgraphs or [graph]
        # Handles numbered as LiteRT numbers them: by (container, shared_name), in the order
        # of the VAR_HANDLE ops of every subgraph.
        self._handles: dict[tuple[str, str], int] = {}
        for sub in graphs:
            for op in sub.ops:
                if op.type == "VAR_HANDLE":
                    key = (op.attrs.get("container", ""), op.attrs.get("shared_name", ""))
                    self._handles.setdefault(key, len(self._handles))
        self.on_op: Callable | None = None  # the running run()'s
        self.reset()
        self.interpreters = [None if sub is graph else Interpreter(sub, float64, model=self, index=s)
                             for s, sub in enumerate(graphs)]

    def reset(self) -> None:
        self.variables: dict[int, object] = {}
        self.initialized: set[int] = set()
        # The variable tensors' values (Tensor.variable), by (subgraph, name).
        self.variable_tensors: dict[tuple[int, str], np.ndarray] = {}

    def snapshot(self) -> tuple[dict[int, object], set[int], dict]:
        """The variables' values and the initializers run, for restore() (the tolerance
        policy carries several runs' states through a sequence on one interpreter). A value is
        never changed in place (assign stores a new array), so the dict's copy suffices."""
        return dict(self.variables), set(self.initialized), dict(self.variable_tensors)

    def restore(self, state: tuple[dict[int, object], set[int], dict]) -> None:
        variables, initialized, tensors = state
        self.variables, self.initialized = dict(variables), set(initialized)
        self.variable_tensors = dict(tensors)

    def variable_tensor(self, index: int, graph: Graph, name: str, float64: bool) -> np.ndarray:
        """A variable tensor's value: as last updated, else zero as LiteRT resets it
        (ResetVariableTensor fills an int8 one with its zero point)."""
        key = (index, name)
        if key not in self.variable_tensors:
            t = graph.tensors[name]
            if t.shape is None or not t.static_shape:
                raise TocoError(f"variable tensor {name!r} has no static shape")
            zero = int(t.quant.zero_point.ravel()[0]) if t.quant is not None and t.dtype == "int8" else 0
            self.variable_tensors[key] = widened(np.full(t.shape, zero, t.dtype), float64)
        return self.variable_tensors[key]

    def call(self, index: int, args: list) -> list:
        """Subgraph `index` run on these values of its inputs: the values of its outputs."""
        interp = self.interpreters[index]
        if interp is None:
            raise TocoError(f"subgraph {index} is the entry point; no op may run it")
        graph = interp.graph
        if len(args) != len(graph.inputs):
            raise TocoError(f"subgraph {index} ({graph.name}) takes {len(graph.inputs)} inputs, "
                            f"given {len(args)}")
        values = interp.execute(dict(zip(graph.inputs, args)), False, self.on_op)
        return [values[n] for n in graph.outputs]

    def call_once(self, index: int) -> None:
        """Runs initializer subgraph `index` the first time only (per interpreter)."""
        if index not in self.initialized:
            self.call(index, [])
            self.initialized.add(index)

    def handle(self, container: str, shared_name: str) -> int:
        return self._handles[(container, shared_name)]

    def read(self, handle: int):
        if handle not in self.variables:
            name = next((k[1] for k, v in self._handles.items() if v == handle), str(handle))
            raise TocoError(f"variable {name!r} is read before any value is assigned to it; the "
                            "model must assign it first (TF's converter does in a CALL_ONCE "
                            "initializer subgraph)")
        return self.variables[handle]

    def assign(self, handle: int, value) -> None:
        self.variables[handle] = np.array(value)  # a copy: the tensor assigned may change


class Interpreter:
    """float64=True runs the float32 tensors of the model in float64 (the exact result the
    float tolerance policy measures float32 runs against); integer arithmetic is unchanged,
    and ops that emulate the runtime's float32 steps (OpDef.float32_only, hybrid kernels) are
    fed float32 as a float32 runtime would feed them.

    A model of several subgraphs (graph.subgraphs) runs each subgraph its ops name; its
    resource variables keep their values from one run() to the next (reset() forgets them)."""

    def __init__(self, graph: Graph, float64: bool = False, model: Model | None = None,
                 index: int = 0) -> None:
        self.model = model if model is not None else Model(graph, float64)
        self.index = index  # the graph's place among the model's subgraphs
        kernels = [kernel_for(graph, op, self.model) for op in graph.ops]
        missing = missing_kernels(graph, kernels)
        if missing:
            where = f"subgraph {index} ({graph.name}): " if index else ""
            raise TocoError(where + _missing_message(graph, missing))
        self.graph = graph
        for op in graph.ops:
            quant_attrs(graph, op)  # QUANTIZE/DEQUANTIZE read their tensors' params from attrs
        self._kernels = kernels
        self._last_uses = _last_uses(graph)
        self.float64 = float64
        self._float32_only = [float64 and (definition(op).float32_only or is_hybrid(graph, op))
                              for op in graph.ops]
        self._constants = {n: widened(t.data, float64) for n, t in graph.tensors.items() if t.is_const}
        self._variable_tensors = {n for n, t in graph.tensors.items() if t.variable}
        self._updates_variables = [has_trait(op.type, "updates_variables") for op in graph.ops]

    def _check_input(self, name: str, value) -> np.ndarray:
        t = self.graph.tensors[name]
        value = np.asarray(value)
        if value.dtype.name != t.dtype:
            if np.can_cast(value.dtype, t.dtype, casting="same_kind") and value.dtype.kind == np.dtype(t.dtype).kind:
                value = value.astype(t.dtype)
            else:
                raise TocoError(f"input {name!r} is {t.dtype}, got {value.dtype.name} data")
        if t.shape is not None and (len(t.shape) != value.ndim or any(
                d >= 0 and d != v for d, v in zip(t.shape, value.shape))):
            raise TocoError(f"input {name!r} has shape {list(t.shape)}, got data of shape {list(value.shape)}")
        return value

    def reset(self) -> None:
        """Forgets the variables' values and which initializers ran: the next run starts as
        that of a new interpreter."""
        self.model.reset()

    def run(self, feeds: dict[str, np.ndarray], keep_all: bool = False,
            on_op: Callable[[int | tuple[int, int], Op, list, list], list | None] | None = None
            ) -> dict[str, np.ndarray]:
        """Returns the graph outputs (every tensor's value of this graph with keep_all).
        on_op(index, op, args, outputs) sees each op's inputs and results as they are computed
        (calibration uses it), in every subgraph each time it runs (every iteration of a loop,
        the branch taken), index being the op's index in this graph, or (subgraph, index) in
        another subgraph of the model; a list it returns replaces the results (the tolerance
        policy's perturbed runs use that). The results of an op that updates variable tensors
        are its outputs, then the variables' new values."""
        missing = [n for n in self.graph.inputs if n not in feeds]
        if missing:
            raise TocoError(f"no value given for input(s) {', '.join(missing)}")
        checked = {name: self._check_input(name, feeds[name]) for name in self.graph.inputs}
        self.model.on_op = on_op
        try:
            return self.execute(checked, keep_all, on_op)
        finally:
            self.model.on_op = None

    def execute(self, inputs: dict[str, object], keep_all: bool, on_op: Callable | None) -> dict[str, object]:
        """run() on values already checked (a subgraph's inputs are the values its caller
        computed, float64 in a float64 run)."""
        values: dict[str, object] = dict(self._constants)
        for name, value in inputs.items():
            values[name] = widened(value, self.float64)
        for name in self._variable_tensors:
            values[name] = self.model.variable_tensor(self.index, self.graph, name, self.float64)
        remaining = self._last_uses if not keep_all else None
        for index, (op, kernel) in enumerate(zip(self.graph.ops, self._kernels)):
            args = [values[n] if n else None for n in op.inputs]
            if self._float32_only[index]:
                args = [_narrowed(a) for a in args]
            outputs = run_op(op, kernel, args)
            if self._float32_only[index]:
                outputs = [widened(o, True) for o in outputs]  # the ops after it run in float64
            if on_op is not None:
                outputs = on_op((self.index, index) if self.index else index, op, args, outputs) or outputs
            if self._updates_variables[index]:
                outputs = self._update_variables(op, outputs, values)
            values.update(zip(op.outputs, outputs))
            if remaining is not None:
                for name in remaining.get(index, ()):
                    values.pop(name, None)  # free intermediates once nothing reads them
        if keep_all:
            return {n: v for n, v in values.items() if v is not DEAD}
        return {n: values[n] for n in self.graph.outputs}

    def _update_variables(self, op: Op, results: list, values: dict) -> list:
        """Stores the new values of the op's variable inputs, which its kernel returns after
        its outputs; the outputs alone are returned."""
        names = [n for n in op.inputs if n in self._variable_tensors]
        outputs, updates = results[:len(op.outputs)], results[len(op.outputs):]
        if len(updates) != len(names):
            raise TocoError(f"{op.type} ({node_name(op)}) updates {len(updates)} variable tensors, "
                            f"but {len(names)} of its inputs are variable tensors")
        for name, value in zip(names, updates):
            values[name] = self.model.variable_tensors[(self.index, name)] = value
        return outputs


def widened(value, float64: bool):
    """A float32 array as float64 when running in float64; anything else as it is."""
    if float64 and isinstance(value, np.ndarray) and value.dtype == np.float32:
        return value.astype(np.float64)
    return value


def _narrowed(value):
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value.astype(np.float32)
    return value


def run_op(op: Op, kernel: Callable | None, args: list) -> list:
    if op.type == "Switch":
        data, pred = args
        taken = bool(np.ravel(pred)[0]) if pred is not DEAD else None
        if data is DEAD or taken is None:
            return [DEAD, DEAD]
        return [data, DEAD] if not taken else [DEAD, data]
    if op.type == "Merge":
        live = [(i, a) for i, a in enumerate(args) if a is not DEAD]
        return [live[0][1], np.int32(live[0][0])] if live else [DEAD, DEAD]
    if any(a is DEAD for a in args):
        return [DEAD] * len(op.outputs)
    try:
        result = kernel(op, *args)
    except TocoError:
        raise
    except Exception as err:  # a kernel meeting data it cannot handle: name the op
        raise TocoError(f"{op.type} ({node_name(op)}) failed: {type(err).__name__}: {err}") from err
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _last_uses(graph: Graph) -> dict[int, list[str]]:
    """op index -> tensors no later op reads (graph outputs and constants excluded)."""
    last: dict[str, int] = {}
    for i, op in enumerate(graph.ops):
        for name in op.inputs:
            if name:
                last[name] = i
    keep = set(graph.outputs) | {n for n, t in graph.tensors.items() if t.is_const}
    by_op: dict[int, list[str]] = {}
    for name, i in last.items():
        if name not in keep:
            by_op.setdefault(i, []).append(name)
    return by_op
