"""TF1 while loops -> the functional form the importer converts to WHILE (frontend/loops.py).

A TF1 tf.while_loop is a frame of nodes: per loop variable an Enter (its initial value) ->
Merge (with the NextIteration of the next value) -> Switch on the LoopCond (output 1 runs the
body, output 0 leaves through the Exit); Enter nodes marked is_constant bring loop invariants
in. Each outermost frame becomes one node standing for a While, with two function calls over
placeholders, one per loop variable and then one per invariant (the WHILE carries the
invariants through unchanged, as TF's own functionalization does):
- cond: the nodes computing the LoopCond's input from the Merges and the invariants;
- body: the nodes computing each NextIteration's input from the Switches' output 1 (and the
  invariants), then the invariants themselves.
The Exits become Identity nodes reading the While's outputs. A frame nested in the body is
part of the body's call, and converted when the body is imported. Loop variables that
nothing after the loop reads have no Exit (freezing prunes them), and need none."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConversionError
from .context import split_ref, tensor_name
from .loops import FunctionCall
from .proto import AttrValue, NodeDef
from .tensor_arrays import flow_type

ENTERS = ("Enter", "RefEnter")
EXITS = ("Exit", "RefExit")
MERGES = ("Merge", "RefMerge")
SWITCHES = ("Switch", "RefSwitch")
NEXT_ITERATIONS = ("NextIteration", "RefNextIteration")
# The op of the node that stands for a TF1 loop (Importer maps it with the Loop's calls).
TF1_WHILE = "_TF1While"


@dataclass
class Loop:
    """A TF1 while loop in functional form."""
    frame: str
    cond: FunctionCall
    body: FunctionCall


def functionalize_frames(nodes: list, library) -> tuple[list, dict[str, Loop]]:
    """The nodes with each outermost TF1 loop replaced by a TF1_WHILE node, and {that node's
    name: its Loop}."""
    frames: dict[str, list] = {}
    for node in nodes:
        if node.op in ENTERS:
            frames.setdefault(_frame_name(node), []).append(node)
    if not frames:
        return nodes, {}
    by_name = {node.name: node for node in nodes}
    readers = _readers(nodes)
    members = {frame: _members(frame, enters, by_name, readers) for frame, enters in frames.items()}
    loops: dict[str, Loop] = {}
    replaced: dict[str, NodeDef] = {}
    removed: set[str] = set()
    for frame, enters in frames.items():
        if any(enters[0].name in inner for other, inner in members.items() if other != frame):
            continue  # nested: converted with the body that holds it
        builder = _FrameBuilder(frame, enters, members[frame], by_name, readers, library)
        loop_node, exits = builder.build()
        loops[loop_node.name] = Loop(frame, builder.cond, builder.body)
        removed |= set(members[frame])
        replaced[loop_node.name] = loop_node
        replaced.update((exit.name, exit) for exit in exits)
    _check_reads_from_outside(nodes, removed, replaced, members)
    kept = [replaced.pop(n.name, n) for n in nodes if n.name not in removed or n.name in replaced]
    return kept + list(replaced.values()), loops


def _frame_name(node) -> str:
    return node.attr["frame_name"].s.decode("utf-8", "replace") if "frame_name" in node.attr else ""


def _readers(nodes: list) -> dict[str, list[str]]:
    """node name -> the nodes reading any of its outputs, through data or control edges."""
    readers: dict[str, list[str]] = {}
    for node in nodes:
        for ref in node.input:
            readers.setdefault(split_ref(ref.lstrip("^"))[0], []).append(node.name)
    return readers


def _members(frame: str, enters: list, by_name: dict, readers: dict) -> dict[str, int]:
    """{node: depth} of the nodes inside the frame: forward from its Enters, through the
    frames nested in it (depth > 0), up to and including its own Exits (depth 0)."""
    inside: dict[str, int] = {}
    stack = [(enter.name, 0) for enter in enters]
    while stack:
        name, depth = stack.pop()
        if name in inside or name not in by_name:
            continue
        inside[name] = depth
        op = by_name[name].op
        if op in EXITS and depth == 0:
            continue  # leaves the frame
        for reader in readers.get(name, ()):
            inner = by_name[reader].op in ENTERS and _frame_name(by_name[reader]) != frame
            stack.append((reader, depth + inner - (op in EXITS)))
    return inside


def _check_reads_from_outside(nodes: list, removed: set, replaced: dict, members: dict) -> None:
    """Outside a loop, only its Exits' values exist: any other read of a node inside it is a
    frame this converter cannot follow."""
    for node in nodes:
        if node.name in removed:
            continue
        for ref in node.input:
            source = split_ref(ref)[0]
            if ref.startswith("^") or source not in removed or source in replaced:
                continue
            frame = next(f for f, inside in members.items() if source in inside)
            raise ConversionError(
                f"TF1 while loop {frame!r}: node {node.name!r} outside the loop reads {source!r} "
                "inside it, not through an Exit; the frame cannot become a WHILE")


class _FrameBuilder:
    """The function calls of one outermost frame and the nodes replacing it."""

    def __init__(self, frame: str, enters: list, inside: dict, by_name: dict, readers: dict, library):
        self.frame, self.inside, self.by_name, self.library = frame, inside, by_name, library
        own = [name for name, depth in inside.items() if depth == 0]
        self.loop_cond = self._one(own, ("LoopCond",), "LoopCond")
        self.variables = [self._variable(by_name[n], readers) for n in own if self._is_variable(n)]
        self.variables.sort(key=lambda v: [e.name for e in enters].index(v.enter.name))
        # A loop variable's Merge and Switch, read only as the stops of the walks.
        self.plumbing = {v.merge.name for v in self.variables} | {v.switch.name for v in self.variables}
        self.invariants: list = []  # constant Enters, in the order the calls first read them
        self.cond: FunctionCall | None = None
        self.body: FunctionCall | None = None

    def fail(self, node, why: str) -> ConversionError:
        return ConversionError(f"TF1 while loop {self.frame!r}: node {node.name!r} ({node.op}) "
                               f"{why}; the frame cannot become a WHILE")

    def _one(self, names: list, ops: tuple, what: str):
        found = [self.by_name[n] for n in names if self.by_name[n].op in ops]
        if len(found) != 1:
            raise ConversionError(f"TF1 while loop {self.frame!r} has {len(found)} {what} nodes, "
                                  "not one; the frame is malformed")
        return found[0]

    def _is_variable(self, name: str) -> bool:
        node = self.by_name[name]
        return node.op in MERGES and any(
            self.by_name.get(split_ref(ref)[0]) is not None
            and self.by_name[split_ref(ref)[0]].op in NEXT_ITERATIONS for ref in node.input)

    def _variable(self, merge, readers: dict) -> _Variable:
        data = [split_ref(ref)[0] for ref in merge.input if not ref.startswith("^")]
        sources = [self.by_name[n] for n in data if n in self.by_name]
        enter = next((s for s in sources if s.op in ENTERS), None)
        step = next((s for s in sources if s.op in NEXT_ITERATIONS), None)
        if enter is None or len(data) != 2 or enter.attr["is_constant"].b:
            raise self.fail(merge, "merges a NextIteration with something other than the loop "
                                   "variable's Enter")
        switches = [self.by_name[r] for r in readers.get(merge.name, ())
                    if self.by_name[r].op in SWITCHES and self.inside.get(r) == 0]
        if len(switches) != 1 or split_ref(switches[0].input[1])[0] != self.loop_cond.name:
            raise self.fail(merge, "is a loop variable's Merge without its one Switch on the "
                                   "LoopCond")
        switch = switches[0]
        exits = [self.by_name[r] for r in readers.get(switch.name, ()) if self.by_name[r].op in EXITS]
        return _Variable(enter, merge, switch, step, exits[0] if exits else None)

    def build(self) -> tuple[NodeDef, list[NodeDef]]:
        merges = {v.merge.name: i for i, v in enumerate(self.variables)}
        bodies = {f"{v.switch.name}:1": i for i, v in enumerate(self.variables)}
        cond_nodes = self._collect([self.loop_cond.input[0]], merges)
        body_nodes = self._collect([v.step.input[0] for v in self.variables], {**merges, **bodies})
        self.cond = self._call("cond", cond_nodes, merges, [self.loop_cond.input[0]])
        outputs = [v.step.input[0] for v in self.variables] + [e.name for e in self.invariants]
        self.body = self._call("body", body_nodes, {**merges, **bodies}, outputs)
        types = [self._carried_type(e).type for e in [v.enter for v in self.variables] + self.invariants]
        loop = NodeDef(name=self._unique(f"{self.frame}/while"), op=TF1_WHILE,
                       input=[v.enter.input[0] for v in self.variables] + [e.input[0] for e in self.invariants])
        loop.attr["T"].list.type.extend(types)
        exits = []
        for i, variable in enumerate(self.variables):
            if variable.exit is not None:
                exit = NodeDef(name=variable.exit.name, op="Identity", input=[f"{loop.name}:{i}"])
                exit.attr["T"].type = types[i]
                exits.append(exit)
        return loop, exits

    def _carried_type(self, enter) -> AttrValue:
        """What an Enter brings into the loop: its value's dtype, the array's for a
        TensorArray's flow (an int32 TensorArray's flow is float32 in TensorFlow)."""
        name, index = split_ref(enter.input[0])
        source = self.by_name.get(name)
        kind = None if source is None else flow_type(source, index)
        return enter.attr["T"] if kind is None else AttrValue(type=kind)

    def _unique(self, name: str) -> str:
        candidate, k = name, 0
        while candidate in self.by_name:
            k += 1
            candidate = f"{name}_{k}"
        return candidate

    def _collect(self, outputs: list[str], stops: dict[str, int]) -> list:
        """The nodes the outputs need inside the frame, walking back to the loop variables
        (stops) and the invariant Enters, in no particular order."""
        found: dict[str, object] = {}
        stack = [tensor_name(ref) for ref in outputs]
        while stack:
            ref = stack.pop()
            name = split_ref(ref)[0]
            if ref in stops or name in found:
                continue
            node = self.by_name.get(name)
            if node is None:
                continue  # the importer names the missing node
            data = [r for r in node.input if not r.startswith("^")]
            if name not in self.inside:
                if data or node.op != "Const":
                    raise self.fail(node, "is read inside the loop without an Enter")
                found[name] = node  # a constant, the same in every context
                continue
            if self.inside[name] == 0 and node.op in ENTERS:
                if not node.attr["is_constant"].b:
                    raise self.fail(node, "brings a value into the loop that is not a loop "
                                          "variable's initial value nor an invariant")
                if node not in self.invariants:
                    self.invariants.append(node)
                continue
            if self.inside[name] == 0 and (node.op in EXITS + NEXT_ITERATIONS + ("LoopCond",)
                                           or name in self.plumbing):
                raise self.fail(node, f"(output {split_ref(ref)[1]}) is read inside the loop's "
                                      "own cond or body")
            found[name] = node
            stack.extend(tensor_name(r) for r in data)
        return list(found.values())

    def _call(self, key: str, nodes: list, stops: dict[str, int], outputs: list[str]) -> FunctionCall:
        """A call of the loop's `key` function on placeholders: one per loop variable, then
        one per invariant; outputs that are placeholders read through an Identity (an input
        named as an output cannot be imported)."""
        prefix = self._unique(f"{self.frame}/{key}")
        places = []
        for i, variable in enumerate(self.variables):
            places.append(_placeholder(f"{prefix}/var_{i}", self._carried_type(variable.enter)))
        for j, enter in enumerate(self.invariants):
            places.append(_placeholder(f"{prefix}/invariant_{j}", self._carried_type(enter)))
        rename = {ref: places[i].name for ref, i in stops.items()}
        rename.update({e.name: places[len(self.variables) + j].name
                       for j, e in enumerate(self.invariants)})
        body = [_reading(node, rename) for node in nodes]
        results = []
        for k, ref in enumerate(outputs):
            name = rename.get(tensor_name(ref))
            if name is None:
                results.append(tensor_name(ref))
                continue
            through = NodeDef(name=f"{prefix}/output_{k}", op="Identity", input=[name])
            body.append(through)
            results.append(through.name)
        return FunctionCall(places + body, self.library, [p.name for p in places], results)


@dataclass
class _Variable:
    enter: object
    merge: object
    switch: object
    step: object  # the NextIteration
    exit: object | None


def _placeholder(name: str, dtype: AttrValue) -> NodeDef:
    node = NodeDef(name=name, op="Placeholder")
    node.attr["dtype"].type = dtype.type
    return node


def _reading(node, rename: dict[str, str]) -> NodeDef:
    """A copy of node whose data inputs read the renamed tensors, its control inputs dropped
    (they only order the nodes inside the frame)."""
    copy = NodeDef(name=node.name, op=node.op,
                   input=[rename.get(tensor_name(r), r) for r in node.input if not r.startswith("^")])
    for key, value in node.attr.items():
        copy.attr[key].CopyFrom(value)
    return copy
