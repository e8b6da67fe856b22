"""Loop variables of a functional While that only collect values nothing reads -> dropped
before import. Control flow v2 builds them for gradients: a Keras LSTM layer's loop in a TF1
graph carries one EmptyTensorList per value its backward pass would need, each iteration's
body pushing onto it (TensorListPushBack), the While's output for it read by nothing. Such a
list grows as the loop runs, which toco-py does not carry; unread, it changes nothing.

A loop variable goes when: the While's output for it is read by no node; it starts as an
EmptyTensorList; the body reads it only to push one value onto it and returns that; the cond
does not read it. The While node, its T and output_shapes, and the body and cond functions
(signatures, returns) lose it; readers of later outputs are renumbered. A body or
cond that another node also calls is left as it is.
"""
from __future__ import annotations

from collections import Counter

from .context import split_ref
from .proto import FunctionDef, NodeDef

WHILES = ("While", "StatelessWhile")


def _node_of(ref: str) -> str:
    """The node a function body's reference names ('node:output_arg:index', an argument)."""
    return ref.partition(":")[0]


def _ref(ref: str) -> tuple[str, int]:
    """(node, output index) of a graph node's input, control inputs ('^node') included."""
    return split_ref(ref.lstrip("^"))


def _reads(function: FunctionDef, name: str) -> list:
    """The nodes of `function` reading `name` (an argument, or a node's output prefix)."""
    return [n for n in function.node_def if any(i == name or i.startswith(name + ":") for i in n.input)]


def _pushes_only(body: FunctionDef, k: int) -> str | None:
    """The name of the TensorListPushBack that is all the body does with argument k, or None."""
    arg = body.signature.input_arg[k].name
    readers = _reads(body, arg)
    if len(readers) != 1 or readers[0].op != "TensorListPushBack" or readers[0].input[0] != arg:
        return None
    push = readers[0]
    returned = body.ret.get(body.signature.output_arg[k].name, "")
    if _node_of(returned) != push.name or _reads(body, push.name):
        return None
    if sum(_node_of(r) == push.name for r in body.ret.values()) != 1:
        return None
    return push.name


def _drop_args(function: FunctionDef, dead: list[int], outputs: bool) -> None:
    """Removes arguments (and, for a body, the matching outputs) `dead` from the signature.
    (Our FunctionDef message reads the signature, nodes and returns; arg attrs are not read.)"""
    kept = [a for k, a in enumerate(function.signature.input_arg) if k not in dead]
    del function.signature.input_arg[:]
    function.signature.input_arg.extend(kept)
    if outputs:
        gone = [function.signature.output_arg[k].name for k in dead]
        kept = [a for k, a in enumerate(function.signature.output_arg) if k not in dead]
        del function.signature.output_arg[:]
        function.signature.output_arg.extend(kept)
        for name in gone:
            del function.ret[name]


def _drop_list_entries(node: NodeDef, key: str, dead: list[int], count: int) -> None:
    if key not in node.attr:
        return
    listed = node.attr[key].list
    for field in ("type", "shape"):
        values = getattr(listed, field)
        if len(values) == count:
            kept = [v for k, v in enumerate(values) if k not in dead]
            del values[:]
            values.extend(kept)


def drop_dead_accumulators(nodes: list, library) -> list:
    """The nodes, each While's dead accumulators dropped (see the module doc)."""
    if library is None or not any(node.op in WHILES for node in nodes):
        return nodes
    functions = {f.signature.name: f for f in library.function}
    calls = Counter(value.func.name for node in nodes for value in node.attr.values() if value.func.name)
    read = {_ref(i) for node in nodes for i in node.input if not i.startswith("^")}
    producers = {node.name: node for node in nodes}
    renumber: dict[str, list[int]] = {}
    changed: dict[str, NodeDef] = {}
    orphans: set[str] = set()
    for node in nodes:
        if node.op not in WHILES:
            continue
        body, cond = (functions.get(node.attr[key].func.name) for key in ("body", "cond"))
        if body is None or cond is None or calls[body.signature.name] != 1 or calls[cond.signature.name] != 1:
            continue
        count = len(body.signature.input_arg)
        if len(body.signature.output_arg) != count or len(cond.signature.input_arg) != count \
                or len(node.input) < count or any(i.startswith("^") for i in node.input[:count]):
            continue  # (malformed: the import says so)
        pushes = {k: _pushes_only(body, k) for k in range(count)
                  if (node.name, k) not in read
                  and getattr(producers.get(_ref(node.input[k])[0]), "op", None) == "EmptyTensorList"
                  and not _reads(cond, cond.signature.input_arg[k].name)}
        dead = [k for k, push in pushes.items() if push is not None]
        if not dead:
            continue
        dropped = {pushes[k] for k in dead}
        kept_nodes = [n for n in body.node_def if n.name not in dropped]
        del body.node_def[:]
        body.node_def.extend(kept_nodes)
        _drop_args(body, dead, outputs=True)
        _drop_args(cond, dead, outputs=False)
        new = NodeDef()
        new.CopyFrom(node)
        kept_inputs = [i for k, i in enumerate(node.input) if k not in dead]
        del new.input[:]
        new.input.extend(kept_inputs)
        for key in ("T", "output_shapes", "_output_shapes"):
            _drop_list_entries(new, key, dead, count)
        changed[node.name] = new
        renumber[node.name] = [k - sum(d < k for d in dead) for k in range(count)]
        orphans.update(_ref(node.input[k])[0] for k in dead)
    if not changed:
        return nodes
    kept = [_renumbered(changed.get(node.name, node), renumber) for node in nodes]
    return _without_orphans(kept, orphans)


def _without_orphans(nodes: list, orphans: set[str]) -> list:
    """The nodes without the dropped lists' EmptyTensorLists, and the constants only they
    read, once nothing reads them (else they would pass for the graph's outputs)."""
    by_name = {node.name: node for node in nodes}
    gone: set[str] = set()
    while orphans:
        read = {_ref(i)[0] for node in nodes if node.name not in gone for i in node.input}
        free = {n for n in orphans if n not in read and by_name.get(n) is not None
                and by_name[n].op in ("EmptyTensorList", "Const")}
        gone |= free
        orphans = {_ref(i)[0] for n in free for i in by_name[n].input}
    return [node for node in nodes if node.name not in gone]


def _renumbered(node: NodeDef, renumber: dict[str, list[int]]) -> NodeDef:
    """The node reading the Whiles' outputs at their new positions."""
    refs = [_ref(i) for i in node.input]
    if not any(name in renumber and not i.startswith("^") for (name, _), i in zip(refs, node.input)):
        return node
    new = NodeDef()
    new.CopyFrom(node)
    for k, ((name, index), ref) in enumerate(zip(refs, node.input)):
        if name in renumber and not ref.startswith("^"):
            new.input[k] = f"{name}:{renumber[name][index]}" if renumber[name][index] else name
    return new
