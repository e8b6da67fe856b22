"""A TF1 cond whose predicate is only known at run time (Switch ... Merge, also what a TF2
functional If becomes when inlined) -> one IF op with a then and an else subgraph.

The Merges that read the same predicate's Switches through overlapping branches are one cond
(a tf.cond of several outputs). Each branch is the set of ops between the Switches' outputs
on its side (output 1: true, 0: false) and the Merges' inputs; it becomes a subgraph whose
inputs are the Switches' data inputs (in one order for both branches) and whose outputs are
the Merges' inputs on its side. A cond nested in a branch goes first: a branch that still
holds a Merge or another predicate's Switch waits for the next sweep.

Left alone (and refused later as control flow, by name): a Merge of a while loop (fed by
NextIteration), a branch whose values escape the cond other than through its Merges, a
Merge whose value_index output is read."""
from __future__ import annotations

from collections.abc import Iterator

from ..ir import Graph, Op, Tensor
from .base import Pass

_THEN, _ELSE = 1, 0  # Switch outputs: output_false, output_true


class _Cond:
    """The Switches and branch ops of one cond, found from its Merges."""

    def __init__(self, graph: Graph, pred: str) -> None:
        self.graph, self.pred = graph, pred
        self.merges: list[Op] = []
        self.switches: list[Op] = []
        self.branch_ops: dict[int, list[Op]] = {_THEN: [], _ELSE: []}

    def side_of_merge_input(self, name: str, branch: set[int]) -> int | None:
        """Walks back from a Merge input to the Switches it reads, adding the ops passed (by
        id) to `branch`; returns the side (None: a constant, which either side may produce).
        Fails (ValueError) on anything that is not a plain branch of this cond."""
        sides: set[int] = set()
        stack = [name]
        visited: set[str] = set()
        while stack:
            tensor = stack.pop()
            if tensor in visited or not tensor:
                continue
            visited.add(tensor)
            producer = self.graph.producer(tensor)
            if producer is None:
                if self.graph.tensors[tensor].is_const:
                    continue
                raise ValueError("a branch reads a graph input outside a Switch")
            if producer.type == "Switch":
                if producer.inputs[1] != self.pred:
                    raise ValueError("a branch holds another predicate's Switch")
                sides.add(producer.outputs.index(tensor))
                if all(producer is not s for s in self.switches):
                    self.switches.append(producer)
                continue
            if producer.type == "Merge":
                raise ValueError("a nested cond is not converted yet")
            branch.add(id(producer))
            stack.extend(producer.inputs)
        if len(sides) > 1:
            raise ValueError("a branch reads both sides of a Switch")
        return sides.pop() if sides else None


def _find(graph: Graph, merge: Op) -> _Cond | None:
    """The cond `merge` closes, with every Merge of the same predicate whose branches touch
    its Switches; None when it is not a convertible cond."""
    if len(merge.inputs) != 2 or (len(merge.outputs) > 1 and graph.consumers(merge.outputs[1])):
        return None
    pred = _predicate(graph, merge)
    if pred is None or graph.const_value(pred) is not None:
        return None
    cond = _Cond(graph, pred)
    pending = [merge]
    while pending:
        m = pending.pop()
        if any(m is known for known in cond.merges):
            continue
        if len(m.inputs) != 2 or (len(m.outputs) > 1 and graph.consumers(m.outputs[1])):
            return None
        cond.merges.append(m)
        try:
            sides = []
            for name in m.inputs:
                ops: set[int] = set()
                sides.append((cond.side_of_merge_input(name, ops), ops))
        except ValueError:
            return None
        (a, ops_a), (b, ops_b) = sides
        if a is None and b is None or a == b:
            return None
        a = 1 - b if a is None else a
        for side, ops in ((a, ops_a), (1 - a, ops_b)):
            for op in graph.ops:
                if id(op) in ops and all(op is not known for known in cond.branch_ops[side]):
                    cond.branch_ops[side].append(op)
        # Other Merges reading this cond's Switches belong to it.
        for switch in cond.switches:
            for out in switch.outputs:
                for reader in _downstream_merges(graph, out):
                    if all(reader is not m for m in cond.merges):
                        pending.append(reader)
    return cond if _closed(graph, cond) and not _loops_back(graph, cond) else None


def _predicate(graph: Graph, merge: Op) -> str | None:
    """The predicate of the first Switch found walking back from the Merge's inputs."""
    stack, seen = list(merge.inputs), set()
    while stack:
        name = stack.pop()
        if not name or name in seen:
            continue
        seen.add(name)
        producer = graph.producer(name)
        if producer is None or producer.type == "Merge":
            continue
        if producer.type == "Switch":
            return producer.inputs[1]
        stack.extend(producer.inputs)
    return None


def _readers_downstream(graph: Graph, names: list[str], stops_at) -> Iterator[Op]:
    """The ops that read the tensors, then those that read theirs, and so on; an op for which
    stops_at(op) holds is given but not walked past."""
    stack, seen = list(names), set()
    while stack:
        tensor = stack.pop()
        if tensor in seen:
            continue
        seen.add(tensor)
        for reader in graph.consumers(tensor):
            yield reader
            if not stops_at(reader):
                stack.extend(reader.outputs)


def _downstream_merges(graph: Graph, name: str) -> list[Op]:
    return [op for op in _readers_downstream(graph, [name], lambda op: op.type in ("Merge", "Switch"))
            if op.type == "Merge"]


def _closed(graph: Graph, cond: _Cond) -> bool:
    """Branch values leave the cond only through its Merges, and the Switches feed only
    the branches."""
    inside = {id(op) for ops in cond.branch_ops.values() for op in ops} | {id(m) for m in cond.merges}
    if {id(op) for op in cond.branch_ops[_THEN]} & {id(op) for op in cond.branch_ops[_ELSE]}:
        return False
    for op in [*cond.branch_ops[_THEN], *cond.branch_ops[_ELSE], *cond.switches]:
        for out in op.outputs:
            if out in graph.outputs or any(id(r) not in inside for r in graph.consumers(out)):
                return False
    return True


def _loops_back(graph: Graph, cond: _Cond) -> bool:
    """A Merge's value reaches one of the cond's Switches: a TF1 while loop's frame (Merge,
    Switch on LoopCond, NextIteration back to the Merge), not a cond."""
    switches = {id(s) for s in cond.switches}
    outputs = [out for m in cond.merges for out in m.outputs]
    return any(id(op) in switches for op in _readers_downstream(graph, outputs, lambda op: False))


def _branch(graph: Graph, cond: _Cond, side: int, inputs: list[str], name: str) -> Graph:
    """The subgraph of one side: the Switches' data inputs in, the Merges' inputs out."""
    sub = Graph()
    sub.name = name
    renamed: dict[str, str] = {}
    for switch in cond.switches:
        source = switch.inputs[0]
        if graph.tensors[source].is_const:
            # A constant switched into the branch (frozen weights, a batch norm's moving
            # statistics) stays a constant there, for the passes to fold.
            renamed[switch.outputs[side]] = source
            t = graph.tensors[source]
            if source not in sub.tensors:
                sub.add_tensor(Tensor(source, t.shape, t.dtype, t.data, t.quant, t.min_max))
        else:
            renamed[switch.outputs[side]] = f"{source}/{name}"
    for source in inputs:
        local = f"{source}/{name}"
        t = graph.tensors[source]
        sub.add_tensor(Tensor(local, t.shape, t.dtype))
        sub.inputs.append(local)
    for op in cond.branch_ops[side]:
        for n in op.inputs:
            if n and n not in renamed and n not in sub.tensors:
                t = graph.tensors[n]
                sub.add_tensor(Tensor(n, t.shape, t.dtype, t.data, t.quant, t.min_max))
        for n in op.outputs:
            t = graph.tensors[n]
            sub.add_tensor(Tensor(n, t.shape, t.dtype, None, t.quant, t.min_max))
        sub.add_op(Op(op.type, [renamed.get(n, n) for n in op.inputs], list(op.outputs), dict(op.attrs),
                      op.name))
    for merge in cond.merges:
        out = merge.inputs[0 if _side_input(graph, cond, merge, 0) == side else 1]
        if out not in renamed and out not in sub.tensors:  # a constant returned as it is
            t = graph.tensors[out]
            sub.add_tensor(Tensor(out, t.shape, t.dtype, t.data))
        sub.outputs.append(renamed.get(out, out))
    return sub


def _side_input(graph: Graph, cond: _Cond, merge: Op, k: int) -> int:
    """The side Merge input k comes from."""
    inside_then = {o for op in cond.branch_ops[_THEN] for o in op.outputs}
    inside_else = {o for op in cond.branch_ops[_ELSE] for o in op.outputs}
    name = merge.inputs[k]
    if name in inside_then:
        return _THEN
    if name in inside_else:
        return _ELSE
    producer = graph.producer(name)
    if producer is not None and producer.type == "Switch":
        return producer.outputs.index(name)
    return 1 - _side_input(graph, cond, merge, 1 - k)


def cond_to_if(graph: Graph, op: Op) -> bool:
    if op.type != "Merge" or not op.alive:
        return False
    cond = _find(graph, op)
    if cond is None:
        return False
    inputs = list(dict.fromkeys(s.inputs[0] for s in cond.switches if not graph.tensors[s.inputs[0]].is_const))
    base = (op.name or op.outputs[0]).rsplit("/", 1)[0]
    if not graph.subgraphs:
        graph.subgraphs.append(graph)
    models = graph.subgraphs
    indices = {}
    for side, label in ((_THEN, "then"), (_ELSE, "else")):
        sub = _branch(graph, cond, side, inputs, f"{base}_{label}")
        sub.subgraphs = models
        indices[side] = len(models)
        models.append(sub)
    outputs = [m.outputs[0] for m in cond.merges]
    if_op = Op("IF", [cond.pred, *inputs], outputs,
               {"then_subgraph_index": indices[_THEN], "else_subgraph_index": indices[_ELSE]}, op.name)
    # In place of the first Merge, before every reader of the cond's outputs.
    order = {id(o): i for i, o in enumerate(graph.ops)}
    first = min(cond.merges, key=lambda m: order[id(m)])
    removed = [*cond.branch_ops[_THEN], *cond.branch_ops[_ELSE], *cond.switches,
               *(m for m in cond.merges if m is not first)]
    graph.replace_op(first, [if_op])
    for dead in removed:
        graph.remove_op(dead)
    graph.toposort()
    graph.remove_dead()
    return True


PASS = Pass("cond_to_if", cond_to_if)
