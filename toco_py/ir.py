"""The one intermediate representation that carries a model through every stage.

A Graph holds tensors by name and ops in topological order. Ops refer to tensors by
name; the empty string stands for an absent optional input (TFLite's -1).
"""
from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from operator import is_, lt

import numpy as np

from .errors import ConversionError


@dataclass
class QuantParams:
    """real = scale * (q - zero_point), per tensor or per channel along `axis`."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1


@dataclass
class Tensor:
    name: str
    # None: rank unknown. A dimension of -1: size unknown.
    shape: tuple[int, ...] | None = None
    dtype: str = "float32"
    data: np.ndarray | None = None
    quant: QuantParams | None = None
    # Observed or declared (fake-quant) range, kept for the quantizer.
    min_max: tuple[float, float] | None = None
    # TFLite's is_variable: state an op updates in place (an LSTM's), zero at the start and
    # kept from one invoke to the next; it is no graph input, and no op writes it but one
    # that sets it at each invoke (fuse_lstm's FILL of zeros, or its copy of a state input).
    # Nothing reads it after the op updates it (LiteRT's XNNPACK may run such a read early).
    variable: bool = False
    # A constant the .tflite stores sparse: its layout (tflite/sparsity.SparseFormat), in which
    # the writer encodes `data`; `data` itself is always the dense value.
    sparsity: object | None = None

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def static_shape(self) -> bool:
        return self.shape is not None and all(d >= 0 for d in self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape is not None else -1


@dataclass
class Op:
    type: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict = field(default_factory=dict)
    # Where the op came from (a TF node name), for messages.
    name: str = ""
    # Why the op computes in float in an int8 model ("" when int8 can hold it): a part of a
    # composition whose intermediate values int8 cannot represent (the quantizer's note says so).
    float_in_int8: str = field(default="", compare=False)
    # False once the op has left its graph (lets passes skip ops removed mid-sweep).
    alive: bool = field(default=True, compare=False, repr=False)

    def __repr__(self) -> str:
        return f"{self.type}({self.name or ','.join(self.outputs)})"


def const_tensor(name: str, value: np.ndarray) -> Tensor:
    value = np.asarray(value)
    if not value.flags.c_contiguous:
        value = value.copy(order="C")  # (np.ascontiguousarray would make scalars 1-D)
    return Tensor(name, tuple(value.shape), value.dtype.name, value)


# Spacing of the order keys given to ops (see Graph._place).
_KEY_GAP = 1 << 32


class _Stale(Exception):
    """The structure maps disagree with the ops (edited directly without invalidate())."""


class InvariantError(AssertionError):
    """A rewrite left the graph malformed: a bug of ours, never the model's (see
    Graph.checkpoint)."""


# The debug checks after every rewrite (Graph.checkpoint): each costs a walk over the whole
# graph, so they are off for users and on in the test suite. Read once, at import.
_checking = os.environ.get("TOCO_CHECK_INVARIANTS", "") not in ("", "0")


def enable_invariant_checks(on: bool = True) -> None:
    """Turns the checks after every rewrite on or off (TOCO_CHECK_INVARIANTS=1 at import: on)."""
    global _checking
    _checking = on


def invariant_checks_enabled() -> bool:
    return _checking


def _structure_of(ops: list[Op]) -> tuple[dict, dict, dict, dict]:
    """The structure maps of an op list, built from scratch: (producers, readers, order keys,
    linked inputs/outputs), as Graph keeps them."""
    producers: dict[str, Op] = {}
    users: dict[str, list[Op]] = {}
    order: dict[int, int] = {}
    linked: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for i, op in enumerate(ops):
        order[id(op)] = i * _KEY_GAP
        linked[id(op)] = (tuple(op.inputs), tuple(op.outputs))
        for out in op.outputs:
            producers[out] = op
        for name in op.inputs:
            if name:
                lst = users.setdefault(name, [])
                if not lst or lst[-1] is not op:
                    lst.append(op)
    return producers, users, order, linked


# The op types that change the model's state (resource variables, initializers run), which
# remove_dead keeps though nothing reads them: the ops registry adds those of the
# "side_effects" trait as it registers them (this module cannot import the registry).
SIDE_EFFECT_TYPES: set[str] = set()


class Graph:
    def __init__(self) -> None:
        self.tensors: dict[str, Tensor] = {}
        self._ops: list[Op] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        # A model of several subgraphs: all of them in file order, this list shared by each
        # (subgraphs[0] is the entry point); IF, WHILE and CALL_ONCE name theirs by index.
        # Empty for a model of one graph.
        self.subgraphs: list[Graph] = []
        self.name = ""  # the subgraph's name in the file ("" writes "main" / "subgraph_K")
        # Why a pass left an op as it is (a partial match), for -v: text -> the op.
        self.remarks: dict[str, Op] = {}
        # Structure maps, built lazily and then kept up to date by the Graph methods (add_op,
        # remove_op, replace_op, replace_uses, set_inputs, set_outputs, ...): the producer
        # and the readers (in graph order) of each tensor, and per op (by id) an order key
        # increasing along self.ops and the inputs/outputs the maps hold for it. Code that
        # edits op.inputs / op.outputs of an op in the graph, or the list self.ops, in place
        # must call invalidate() afterwards (assigning graph.ops does so by itself).
        self._producers: dict[str, Op] | None = None
        self._consumers: dict[str, list[Op]] | None = None
        self._order: dict[int, int] | None = None
        self._linked: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] | None = None

    @property
    def ops(self) -> list[Op]:
        """The ops in topological order."""
        return self._ops

    @ops.setter
    def ops(self, ops: list[Op]) -> None:
        self._ops = ops
        self.invalidate()

    def invalidate(self) -> None:
        """Drops the structure maps; the next query rebuilds them from the ops."""
        self._producers = None
        self._consumers = None
        self._order = None
        self._linked = None

    # ---- tensors -------------------------------------------------------------

    def add_tensor(self, tensor: Tensor) -> Tensor:
        if tensor.name in self.tensors:
            raise ValueError(f"tensor {tensor.name!r} already exists")
        self.tensors[tensor.name] = tensor
        return tensor

    def add_const(self, base_name: str, value: np.ndarray) -> str:
        """Adds a constant under a fresh name derived from base_name; returns the name."""
        name = self.unique_name(base_name)
        self.add_tensor(const_tensor(name, value))
        return name

    def remark(self, text: str, op: Op) -> None:
        self.remarks[text] = op

    def unique_name(self, base: str) -> str:
        if base not in self.tensors:
            return base
        i = 1
        while f"{base}_{i}" in self.tensors:
            i += 1
        return f"{base}_{i}"

    def tensor(self, name: str) -> Tensor:
        try:
            return self.tensors[name]
        except KeyError:
            raise ConversionError(f"tensor {name!r} does not exist in the graph") from None

    def const_value(self, name: str) -> np.ndarray | None:
        t = self.tensors.get(name)
        return None if t is None else t.data

    # ---- structure queries ---------------------------------------------------

    def producer(self, tensor_name: str) -> Op | None:
        if self._producers is None:
            self._build_maps()
        return self._producers.get(tensor_name)

    def consumers(self, tensor_name: str) -> list[Op]:
        """Ops reading the tensor, each once, in graph order (the graph's own list: do not
        modify it, nor keep it across edits)."""
        if self._consumers is None:
            self._build_maps()
        return self._consumers.get(tensor_name, [])

    # ---- structure maps ------------------------------------------------------

    def _build_maps(self) -> None:
        self._producers, self._consumers, self._order, self._linked = _structure_of(self._ops)

    def _key(self, op: Op) -> int:
        return self._order[id(op)]

    def _place(self, start: int, count: int) -> None:
        """Gives the `count` ops just put at self.ops[start:] order keys between those of
        their neighbours (renumbering every op when there is no room left)."""
        if not count:
            return
        ops, order = self._ops, self._order
        end = start + count
        lo = order[id(ops[start - 1])] if start > 0 else None
        hi = order[id(ops[end])] if end < len(ops) else None
        if lo is None:
            lo = (hi if hi is not None else 0) - (count + 1) * _KEY_GAP
        if hi is None:
            hi = lo + (count + 1) * _KEY_GAP
        step = (hi - lo) // (count + 1)
        if step < 1:
            for i, op in enumerate(ops):
                order[id(op)] = i * _KEY_GAP
            return
        for j in range(count):
            order[id(ops[start + j])] = lo + (j + 1) * step

    def _link_inputs(self, op: Op) -> None:
        key = self._order[id(op)]
        for name in dict.fromkeys(op.inputs):
            if name:
                lst = self._consumers.setdefault(name, [])
                if not lst or self._order[id(lst[-1])] < key:
                    lst.append(op)
                else:
                    lst.insert(bisect_left(lst, key, key=self._key), op)

    def _unlink_inputs(self, op: Op, inputs: tuple[str, ...]) -> None:
        key = self._order[id(op)]
        for name in dict.fromkeys(inputs):
            if name:
                lst = self._consumers.get(name)
                if not lst:
                    raise _Stale
                i = bisect_left(lst, key, key=self._key)
                if i == len(lst) or lst[i] is not op:
                    raise _Stale
                del lst[i]
                if not lst:
                    del self._consumers[name]

    def _link(self, op: Op) -> None:
        self._linked[id(op)] = (tuple(op.inputs), tuple(op.outputs))
        for out in op.outputs:
            self._producers[out] = op
        self._link_inputs(op)

    def _unlink(self, op: Op) -> None:
        inputs, outputs = self._linked.pop(id(op))
        for out in outputs:
            if self._producers.get(out) is op:
                del self._producers[out]
        self._unlink_inputs(op, inputs)
        del self._order[id(op)]

    def _splice(self, i: int, removed: list[Op], added: list[Op]) -> None:
        """self.ops[i:i+len(removed)] = added, keeping the structure maps up to date."""
        self._ops[i : i + len(removed)] = added
        if self._order is None:
            return
        try:
            for op in removed:
                self._unlink(op)
            self._place(i, len(added))
            for op in added:
                self._link(op)
        except (_Stale, KeyError):
            self.invalidate()

    def set_inputs(self, op: Op, names: Iterable[str]) -> None:
        """Replaces op's inputs (the way passes rewire an op in the graph)."""
        names = list(names)
        linked = self._linked.get(id(op)) if self._linked is not None else None
        if linked is None:
            op.inputs = names
            return
        try:
            self._unlink_inputs(op, linked[0])
            op.inputs = names
            self._linked[id(op)] = (tuple(names), linked[1])
            self._link_inputs(op)
        except (_Stale, KeyError):
            op.inputs = names
            self.invalidate()

    def set_input(self, op: Op, index: int, name: str) -> None:
        names = list(op.inputs)
        names[index] = name
        self.set_inputs(op, names)

    def set_outputs(self, op: Op, names: Iterable[str]) -> None:
        """Replaces the tensors op writes."""
        names = list(names)
        linked = self._linked.get(id(op)) if self._linked is not None else None
        if linked is None:
            op.outputs = names
            return
        for out in linked[1]:
            if self._producers.get(out) is op:
                del self._producers[out]
        op.outputs = names
        self._linked[id(op)] = (linked[0], tuple(names))
        for out in names:
            self._producers[out] = op

    # ---- mutation ------------------------------------------------------------

    def add_op(self, op: Op, before: Op | None = None) -> Op:
        """Inserts op before `before` (or at the end); callers keep topological order."""
        i = len(self._ops) if before is None else self._index(before)
        self._splice(i, [], [op])
        return op

    def remove_op(self, op: Op) -> None:
        self._splice(self._index(op), [op], [])
        op.alive = False

    def replace_op(self, old: Op, new_ops: Iterable[Op]) -> None:
        i = self._index(old)
        new_ops = list(new_ops)
        self._splice(i, [old], new_ops)
        old.alive = any(o is old for o in new_ops)

    def replace_uses(self, old: str, new: str) -> None:
        """Rewires every consumer (and the graph outputs) of tensor `old` to read `new`."""
        for op in list(self.consumers(old)):
            self.set_inputs(op, [new if n == old else n for n in op.inputs])
        self.outputs = [new if n == old else n for n in self.outputs]

    def bypass(self, op: Op, input_index: int = 0, output_index: int = 0) -> None:
        """Removes an op that passes one input through unchanged.

        When the output is a graph output the op's input takes over that role; if the input
        is itself a graph input or output, the op is kept as a name-preserving alias would
        be needed, so callers must check `can_bypass` first.
        """
        src, dst = op.inputs[input_index], op.outputs[output_index]
        if dst in self.outputs:
            # Keep the user-visible output name: rename the source tensor instead.
            self._rename_tensor(src, dst, drop_existing=True)
            self.remove_op(op)
            return
        self.remove_op(op)
        self.replace_uses(dst, src)
        self.tensors.pop(dst, None)

    def can_bypass(self, op: Op, input_index: int = 0, output_index: int = 0) -> bool:
        src, dst = op.inputs[input_index], op.outputs[output_index]
        if dst not in self.outputs:
            return True
        # Renaming the source to the output name (its other readers follow the rename) is
        # only safe if the source is a plain intermediate produced by an op.
        return (
            src not in self.inputs
            and src not in self.outputs
            and not self.tensors[src].is_const
            and self.producer(src) is not None
        )

    def drop_unused(self, names: Iterable[str]) -> None:
        """Deletes these tensors if nothing reads them any more, so that replaced weights are
        freed at once rather than at the end of a sweep (keeps peak memory down)."""
        for name in names:
            if name and name in self.tensors and name not in self.outputs and name not in self.inputs \
                    and not self.consumers(name) and self.producer(name) is None:
                self._forget(name)

    def _forget(self, name: str) -> None:
        """Deletes a tensor; a constant viewing a mapped file also gives its pages back."""
        t = self.tensors.pop(name)
        if t.data is not None and t.data.base is not None:
            from .memory import release_file_pages

            release_file_pages(t.data)

    def _rename_tensor(self, old: str, new: str, drop_existing: bool = False) -> None:
        if drop_existing:
            self.tensors.pop(new, None)
        t = self.tensors.pop(old)
        t.name = new
        self.tensors[new] = t
        for op in list(self._ops):
            if old in op.inputs:
                self.set_inputs(op, [new if n == old else n for n in op.inputs])
            if old in op.outputs:
                self.set_outputs(op, [new if n == old else n for n in op.outputs])
        self.inputs = [new if n == old else n for n in self.inputs]
        self.outputs = [new if n == old else n for n in self.outputs]

    def _index(self, op: Op) -> int:
        if self._order is None:
            self._build_maps()
        key = self._order.get(id(op))
        if key is not None:
            try:
                i = bisect_left(self._ops, key, key=self._key)
            except KeyError:
                i = -1
            if 0 <= i < len(self._ops) and self._ops[i] is op:
                return i
        for i, o in enumerate(self._ops):
            if o is op:
                self.invalidate()  # self.ops was edited in place: the maps are stale
                return i
        raise ValueError(f"{op!r} is not in the graph")

    # ---- whole-graph maintenance ----------------------------------------------

    def remove_dead(self) -> int:
        """Drops ops and tensors that no graph output depends on, and that change no state of
        the model (_has_effects). Returns ops removed."""
        needed = set(self.outputs)
        keep: list[Op] = []
        for op in reversed(self.ops):
            if any(o in needed for o in op.outputs) or self._has_effects(op):
                keep.append(op)
                needed.update(n for n in op.inputs if n)
        removed = len(self.ops) - len(keep)
        kept = {id(op) for op in keep}
        for op in self.ops:
            op.alive = id(op) in kept
        keep.reverse()
        self.ops = keep
        live = needed | set(self.inputs)
        for op in self.ops:
            live.update(op.outputs)
            # TFLite's Operator.intermediates (an integer LSTM's gate scales): no op reads them.
            live.update(op.attrs.get("intermediates", ()))
        for name in [n for n in self.tensors if n not in live]:
            self._forget(name)
        return removed

    def _has_effects(self, op: Op) -> bool:
        """The op changes the model's state (a resource variable, an initializer run): its
        type is one of SIDE_EFFECT_TYPES, or it runs a subgraph holding such an op, at any depth."""
        seen: set[int] = set()
        todo = [op]
        while todo:
            current = todo.pop()
            if current.type in SIDE_EFFECT_TYPES:
                return True
            for key, index in current.attrs.items():
                if key.endswith("_subgraph_index") and index not in seen and index < len(self.subgraphs):
                    seen.add(index)
                    todo.extend(self.subgraphs[index].ops)
        return False

    def toposort(self) -> None:
        """Restores topological order (stable: keeps the existing order where it is valid)."""
        self.invalidate()
        produced_by = {out: op for op in self.ops for out in op.outputs}
        placed: set[int] = set()
        order: list[Op] = []
        state: dict[int, int] = {}

        for root in self.ops:
            if id(root) in placed:
                continue
            stack = [(root, False)]
            while stack:
                op, expanded = stack.pop()
                key = id(op)
                if key in placed:
                    continue
                if expanded:
                    placed.add(key)
                    order.append(op)
                    continue
                if state.get(key) == 1:
                    raise ConversionError(f"the graph has a cycle through {op!r}")
                state[key] = 1
                stack.append((op, True))
                for name in reversed(op.inputs):
                    dep = produced_by.get(name)
                    if dep is not None and id(dep) not in placed:
                        stack.append((dep, False))
        self.ops = order

    # ---- invariants ------------------------------------------------------------

    def validate(self) -> None:
        """Raises ConversionError on the first broken structure fact (structure_problems)."""
        problems = self.structure_problems()
        if problems:
            raise ConversionError(problems[0])

    def structure_problems(self, fresh: tuple | None = None) -> list[str]:
        """What breaks the facts of a well-formed graph: each op once in the list and not
        marked removed; every tensor an op names exists (the empty name: an absent input);
        each tensor written by one op at most, and no graph input or constant by any; ops in
        topological order; every graph output computed. Read off the structure maps rebuilt
        from the ops (`fresh`, as _structure_of gives them), so that each check is one pass
        over a map, not over every op input."""
        ops, tensors, inputs = self._ops, self.tensors, set(self.inputs)
        producers, users, order, linked = fresh or _structure_of(ops)
        problems = [f"graph input {n!r} has no tensor" for n in self.inputs if n not in tensors]
        if len(linked) != len(ops):
            problems += [f"{op!r} is in the op list twice"
                         for i, op in enumerate(ops) if any(o is op for o in ops[:i])]
        problems += [f"{op!r} is in the op list but marked removed" for op in ops if not op.alive]
        if sum(len(op.outputs) for op in ops) != len(producers):
            problems += [f"{name!r} is written by {producers[name]!r} and another op"
                         for name in producers if sum(name in op.outputs for op in ops) > 1]
        for name, op in producers.items():
            if name not in tensors:
                problems.append(f"{op!r} writes {name!r}, which has no tensor")
            elif name in inputs or tensors[name].data is not None:
                problems.append(f"{op!r} writes {name!r}, a graph input or constant")
        for name, readers in users.items():
            op, writer = readers[0], producers.get(name)  # (readers in graph order)
            if name not in tensors:
                problems.append(f"{op!r} reads {name!r}, which has no tensor")
            elif writer is None and name not in inputs and tensors[name].data is None \
                    and not tensors[name].variable \
                    or writer is not None and order[id(writer)] >= order[id(op)]:
                problems.append(f"{op!r} reads {name!r} before it is defined")
        for name in self.outputs:
            if name not in tensors:
                problems.append(f"graph output {name!r} has no tensor")
            elif name not in producers and name not in inputs and tensors[name].data is None:
                problems.append(f"graph output {name!r} is never computed")
        return problems

    def map_problems(self, fresh: tuple | None = None) -> list[str]:
        """Where the incrementally kept structure maps differ from maps rebuilt from the ops
        (`fresh`, as _structure_of gives them); nothing while they are dropped: the next
        query rebuilds them."""
        if self._order is None:
            return []
        producers, users, _, linked = fresh or _structure_of(self._ops)
        if self._maps_agree(producers, users, linked):
            return []
        problems = []
        for name in [*producers, *(n for n in self._producers if n not in producers)]:
            kept, actual = self._producers.get(name), producers.get(name)
            if kept is not actual:
                problems.append(f"the maps say {kept!r} writes {name!r}, the ops say {actual!r}")
        for name in [*users, *(n for n in self._consumers if n not in users)]:
            kept, actual = self._consumers.get(name, []), users.get(name, [])
            if len(kept) != len(actual) or any(a is not b for a, b in zip(kept, actual)):
                problems.append(f"the maps say {kept} read {name!r}, the ops say {actual}")
        for op in self._ops:
            kept = self._linked.get(id(op))
            if kept != linked[id(op)]:
                problems.append(f"{op!r} was edited behind the graph's back (the maps hold its "
                                f"inputs/outputs as {kept}, it has {linked[id(op)]})")
        if len(self._linked) != len(linked) or len(self._order) != len(linked):
            problems.append("the maps hold ops that are no longer in the graph")
        keys = [self._order.get(id(op)) for op in self._ops]
        if None in keys or any(a >= b for a, b in zip(keys, keys[1:])):
            problems.append("the order keys do not increase along the op list")
        return problems

    def _maps_agree(self, producers: dict, users: dict, linked: dict) -> bool:
        """The kept maps equal these rebuilt ones, ops compared by identity: map_problems'
        quick answer, in C loops (the checks run after every rewrite)."""
        kept_users = [self._consumers.get(name, ()) for name in users]
        try:
            keys = list(map(self._order.__getitem__, map(id, self._ops)))
        except KeyError:
            return False
        return (self._linked == linked and len(self._order) == len(keys) and all(map(lt, keys, keys[1:]))
                and self._producers.keys() == producers.keys()
                and all(map(is_, map(self._producers.__getitem__, producers), producers.values()))
                and self._consumers.keys() == users.keys()
                and list(map(len, kept_users)) == list(map(len, users.values()))
                and all(map(is_, chain.from_iterable(kept_users), chain.from_iterable(users.values()))))

    def checkpoint(self, rewrite: str, at: Op | None = None) -> None:
        """With the debug checks on (enable_invariant_checks), raises InvariantError if the
        graph broke an invariant, naming the rewrite just applied and the op it was tried at,
        the way TOCO checks its model after the transformations."""
        if not _checking:
            return
        fresh = _structure_of(self._ops)
        problems = self.structure_problems(fresh) + self.map_problems(fresh)
        if problems:
            where = f" at {at!r}" if at is not None else ""
            more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
            raise InvariantError(f"{rewrite}{where} broke the graph's invariants: "
                                 f"{'; '.join(problems[:5])}{more}")
        if self._order is None:
            # Kept from now on, so that the next check sees an edit made behind their back.
            self._producers, self._consumers, self._order, self._linked = fresh
