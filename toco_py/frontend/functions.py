"""TF2 function calls inlined before the import. PartitionedCall and StatefulPartitionedCall
(and a node whose op is a function's name) become the called function's nodes, named under
the calling node; a functional If / StatelessIf / Case becomes TF1 Switch/Merge around both
branches' nodes, as TensorFlow's own lowering does, so that a predicate constant at
conversion time takes one branch (passes/resolve_switch.py) and any other stays the
control-flow error it is today."""
from __future__ import annotations

from ..errors import TocoError
from .context import split_ref
from .graphdef import CONTROL_CHARS
from .proto import AttrValue, NodeDef

_CALLS = ("PartitionedCall", "StatefulPartitionedCall")
# A library whose functions call others several times each grows exponentially when inlined.
MAX_INLINED_NODES = 1 << 22
# Deeper call chains than real models have; the inlining recurses once per level.
MAX_CALL_DEPTH = 100
_IFS = ("If", "StatelessIf")
_CASES = ("Case", "StatelessCase")

# A function body names a node's outputs "node:output_arg:index". These ops have several
# output args (one tensor each), in this order; every other op has one (a tensor or a list),
# so the index alone places the output.
_BATCH_NORM = ("y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2")
_OUTPUT_ARGS = {
    "FusedBatchNorm": _BATCH_NORM, "FusedBatchNormV2": _BATCH_NORM,
    "FusedBatchNormV3": _BATCH_NORM + ("reserve_space_3",),
    "Switch": ("output_false", "output_true"), "RefSwitch": ("output_false", "output_true"),
    "Merge": ("output", "value_index"), "RefMerge": ("output", "value_index"),
    "TopK": ("values", "indices"), "TopKV2": ("values", "indices"),
    "Unique": ("y", "idx"), "UniqueWithCounts": ("y", "idx", "count"),
    "NonMaxSuppressionV4": ("selected_indices", "valid_outputs"),
    "NonMaxSuppressionV5": ("selected_indices", "selected_scores", "valid_outputs"),
    "MaxPoolWithArgmax": ("output", "argmax"),
    "QuantizeV2": ("output", "output_min", "output_max"),
    "BroadcastGradientArgs": ("r0", "r1"),
}


def inline_functions(gd) -> list:
    """The graph's nodes with every function call inlined (gd's own nodes when it calls
    none)."""
    library = getattr(gd, "library", None)
    functions = {f.signature.name: f for f in library.function} if library is not None else {}
    if not any(_is_call(node, functions) for node in gd.node):
        return list(gd.node)
    return _Inliner(functions, gd.node).nodes


def _is_call(node, functions) -> bool:
    return node.op in _CALLS or node.op in _IFS or node.op in _CASES or node.op in functions


def _callees(node, functions) -> list[str]:
    """The functions a node calls (none for an ordinary op)."""
    if node.op in _CALLS:
        keys = ("f",)
    elif node.op in _IFS:
        keys = ("then_branch", "else_branch")
    elif node.op in _CASES:
        return [f.name for f in node.attr["branches"].list.func] if "branches" in node.attr else []
    else:
        return [node.op] if node.op in functions else []
    return [node.attr[k].func.name for k in keys
            if k in node.attr and node.attr[k].WhichOneof("value") == "func"]


def func_attr(node, key: str) -> str:
    """The name of the function in the node's attr `key`."""
    value = node.attr.get(key)
    if value is None or value.WhichOneof("value") != "func":
        raise TocoError(f"node {node.name!r} ({node.op}) has no function in its {key!r} attr; "
                        "the GraphDef is malformed")
    return value.func.name


def _node(name: str, op: str, inputs: list[str], **attrs) -> NodeDef:
    node = NodeDef(name=name, op=op, input=inputs)
    for key, value in attrs.items():
        node.attr[key].CopyFrom(value)
    return node


def _types(types) -> AttrValue:
    value = AttrValue()
    value.list.type.extend(types)
    return value


def _reaches(tensor: str, targets: set[str], nodes: dict) -> bool:
    """Whether `tensor` reads a node in `targets`, through the data inputs of `nodes`."""
    stack, seen = [split_ref(tensor)[0]], set()
    while stack:
        name = stack.pop()
        if name in targets:
            return True
        if name in seen or name not in nodes:
            continue
        seen.add(name)
        stack.extend(split_ref(ref)[0] for ref in nodes[name].input if not ref.startswith("^"))
    return False


def _check_body(name: str, function) -> None:
    """What graphdef.py checks of the graph's own nodes, for a function's."""
    seen: set[str] = set()
    for node in function.node_def:
        if not node.name or not node.op or CONTROL_CHARS.search(node.name) or CONTROL_CHARS.search(node.op):
            raise TocoError(f"function {name!r} has a node with no name or op, or with control "
                            "characters in them; the GraphDef's function library is malformed")
        if node.name in seen:
            raise TocoError(f"function {name!r} has two nodes named {node.name!r}; the GraphDef's "
                            "function library is malformed")
        seen.add(node.name)


class _Inliner:
    def __init__(self, functions: dict, nodes) -> None:
        self.functions = functions
        self.used = {n.name for n in nodes}
        self.nodes: list = []
        self.sizes: dict[str, int] = {}
        for node in nodes:
            for name in _callees(node, functions):
                if self._size(name, ()) > MAX_INLINED_NODES:
                    raise TocoError(
                        f"inlining function {name!r} (called by {node.name!r}) makes more than "
                        f"{MAX_INLINED_NODES} nodes: its functions call others too many times "
                        "over; the GraphDef is malformed or too large")
        for node in nodes:
            if _is_call(node, functions):
                self._expand(node, [tensor for tensor in node.input if not tensor.startswith("^")])
            else:
                self.nodes.append(node)

    def _size(self, name: str, stack: tuple) -> int:
        """How many nodes inlining function `name` makes (0 for a function the library lacks:
        the inlining names it with its caller); fails on a function that calls itself."""
        if name in stack:
            cycle = " -> ".join(stack[stack.index(name):] + (name,))
            raise TocoError(f"function {name!r} calls itself ({cycle}); the GraphDef's function "
                            "library is malformed")
        if len(stack) > MAX_CALL_DEPTH:
            raise TocoError(f"function {stack[0]!r} nests calls more than {MAX_CALL_DEPTH} deep "
                            f"(down to {name!r}); the GraphDef's function library is malformed")
        if name not in self.sizes:
            body = self.functions[name].node_def if name in self.functions else ()
            self.sizes[name] = len(body) + sum(self._size(callee, stack + (name,))
                                               for node in body for callee in _callees(node, self.functions))
        return self.sizes[name]

    def _fresh(self, name: str) -> str:
        """name, or name_1, name_2 ... when the graph already has a node of that name."""
        fresh, count = name, 0
        while fresh in self.used:
            count += 1
            fresh = f"{name}_{count}"
        self.used.add(fresh)
        return fresh

    def _expand(self, node, inputs: list[str]) -> None:
        """Replaces the call `node` (its data inputs `inputs`, graph references) by the nodes
        computing its outputs and a node of its name that forwards them."""
        tout = node.attr["Tout"].list.type if "Tout" in node.attr else ()
        if node.op in _IFS:
            then_fn, else_fn = func_attr(node, "then_branch"), func_attr(node, "else_branch")
            if not inputs:
                raise TocoError(f"node {node.name!r} ({node.op}) has no predicate input; the GraphDef is malformed")
            outputs = self._cond(node, node.name, inputs[0], inputs[1:],
                                 lambda prefix, args: self._inline(then_fn, prefix, args, node),
                                 lambda prefix, args: self._inline(else_fn, prefix, args, node))
        elif node.op in _CASES:
            branches = [f.name for f in node.attr["branches"].list.func] if "branches" in node.attr else []
            if not branches or not inputs:
                raise TocoError(f"node {node.name!r} ({node.op}) has no branches or no branch index; "
                                "the GraphDef is malformed")
            if len(branches) > MAX_CALL_DEPTH:  # lowered to a chain of conds, one level each
                raise TocoError(f"node {node.name!r} ({node.op}) has {len(branches)} branches; "
                                f"toco-py converts a Case of at most {MAX_CALL_DEPTH}")
            outputs = self._case(node, node.name, inputs[0], inputs[1:], branches)
        else:
            name = func_attr(node, "f") if node.op in _CALLS else node.op
            outputs = self._inline(name, node.name, inputs, node)
        controls = [tensor for tensor in node.input if tensor.startswith("^")]
        if outputs:
            self.nodes.append(_node(node.name, "IdentityN", outputs + controls, T=_types(tout)))
        else:  # a call for its side effects only (an assert): others may wait on it
            self.nodes.append(_node(node.name, "NoOp", controls))

    def _inline(self, name: str, prefix: str, inputs: list[str], caller) -> list[str]:
        """Adds the nodes of function `name`, reading `inputs`, under `prefix`; returns the
        references of its outputs."""
        function = self.functions.get(name)
        if function is None:
            raise TocoError(f"node {caller.name!r} calls function {name!r}, which the GraphDef's "
                            "function library does not define; the GraphDef is malformed")
        signature = function.signature
        if any(arg.number_attr or arg.type_list_attr for arg in signature.input_arg):
            raise TocoError(f"function {name!r} takes a list of tensors as one argument, which "
                            "toco-py cannot inline; freeze the model with its functions inlined")
        if len(inputs) != len(signature.input_arg):
            raise TocoError(f"node {caller.name!r} calls function {name!r} with {len(inputs)} "
                            f"inputs; it takes {len(signature.input_arg)}; the GraphDef is malformed")
        _check_body(name, function)
        args = {arg.name: ref for arg, ref in zip(signature.input_arg, inputs)}
        ops = {n.name: n.op for n in function.node_def}
        renamed = {n.name: self._fresh(f"{prefix}/{n.name}") for n in function.node_def}
        reads: dict[str, str] = {}  # node -> the output arg name read of it (ops not in _OUTPUT_ARGS)

        def graph_ref(ref: str) -> str:
            control = ref.startswith("^")
            body = ref[1:] if control else ref
            if body in args:
                target = args[body]
                return ("^" + split_ref(target)[0]) if control else target
            node, _, rest = body.partition(":")
            if node not in renamed:
                raise TocoError(f"function {name!r} reads {body!r}, which is neither one of its "
                                "nodes nor one of its arguments; the GraphDef is malformed")
            if control:
                return "^" + renamed[node]
            arg, _, index = rest.rpartition(":")
            index = int(index) if index.isdigit() else 0
            listed = _OUTPUT_ARGS.get(ops[node], ())
            if arg in listed:
                return f"{renamed[node]}:{listed.index(arg) + index}"
            # An op of one output arg: the index alone places the output. Two arg names
            # read of one node mean an op of several that the table lacks.
            if reads.setdefault(node, arg) != arg:
                raise TocoError(f"function {name!r} reads outputs {reads[node]!r} and {arg!r} of node "
                                f"{node!r}, a {ops[node]} op whose outputs toco-py cannot place")
            return f"{renamed[node]}:{index}"

        for body_node in function.node_def:
            node = NodeDef()
            node.CopyFrom(body_node)
            node.name = renamed[body_node.name]
            node.ClearField("device")
            del node.input[:]
            node.input.extend(graph_ref(ref) for ref in body_node.input)
            if _is_call(node, self.functions):
                self._expand(node, [ref for ref in node.input if not ref.startswith("^")])
            else:
                self.nodes.append(node)
        missing = [arg.name for arg in signature.output_arg if arg.name not in function.ret]
        if missing:
            raise TocoError(f"function {name!r} returns no tensor for its output {missing[0]!r}; "
                            "the GraphDef's function library is malformed")
        return [graph_ref(function.ret[arg.name]) for arg in signature.output_arg]

    def _cond(self, caller, name: str, pred: str, inputs: list[str], then_fn, else_fn) -> list[str]:
        """TF1 control flow for `pred ? then_fn(inputs) : else_fn(inputs)`: each input passes a
        Switch on pred into the branches, whose outputs meet in Merges. A branch output
        computed from constants alone passes a Switch too, so that it dies with its branch
        (TensorFlow ties it to the branch with a control edge, which the import drops)."""
        tin = caller.attr["Tin"].list.type if "Tin" in caller.attr else ()
        tout = caller.attr["Tout"].list.type if "Tout" in caller.attr else ()

        def switch(label: str, tensor: str, dtype) -> str:
            attrs = {"T": AttrValue(type=dtype)} if dtype is not None else {}
            return self._add(_node(self._fresh(f"{name}/{label}"), "Switch", [tensor, pred], **attrs))

        def dtype(types, i: int):
            return types[i] if i < len(types) else None

        switched = [switch(f"switch_{i}", tensor, dtype(tin, i)) for i, tensor in enumerate(inputs)]
        start = len(self.nodes)
        then_out = then_fn(f"{name}/then", [f"{s}:1" for s in switched])
        else_out = else_fn(f"{name}/else", switched)
        if len(then_out) != len(else_out):
            raise TocoError(f"node {caller.name!r} ({caller.op}): its branches return "
                            f"{len(then_out)} and {len(else_out)} tensors; the GraphDef is malformed")
        branch_nodes = {n.name: n for n in self.nodes[start:]}

        def gated(tensor: str, side: int, label: str, kind) -> str:
            if _reaches(tensor, set(switched), branch_nodes):
                return tensor
            return switch(label, tensor, kind) + (":1" if side else "")

        merged = []
        for i, (then, other) in enumerate(zip(then_out, else_out)):
            kind = dtype(tout, i)
            ins = [gated(other, 0, f"else_out_{i}", kind), gated(then, 1, f"then_out_{i}", kind)]
            attrs = {"T": AttrValue(type=kind)} if kind is not None else {}
            merged.append(self._add(_node(self._fresh(f"{name}/merge_{i}"), "Merge", ins,
                                          N=AttrValue(i=2), **attrs)))
        return merged

    def _case(self, caller, name: str, index: str, inputs: list[str], branches: list[str]) -> list[str]:
        """Case as a chain of conds: index == 0 ? branch 0 : index == 1 ? ... : the last branch
        (which also takes an index out of range, as TensorFlow's Case does)."""
        first = branches[0]
        if len(branches) == 1:
            return self._inline(first, name, inputs, caller)
        value = AttrValue()
        value.tensor.dtype = AttrValue(type="DT_INT32").type
        value.tensor.tensor_shape.SetInParent()
        value.tensor.int_val.append(len(caller.attr["branches"].list.func) - len(branches))
        const = self._add(_node(self._fresh(f"{name}/branch"), "Const", [], value=value,
                                dtype=AttrValue(type="DT_INT32")))
        pred = self._add(_node(self._fresh(f"{name}/is_branch"), "Equal", [index, const],
                               T=AttrValue(type="DT_INT32")))
        return self._cond(caller, name, pred, inputs,
                          lambda prefix, args: self._inline(first, prefix, args, caller),
                          lambda prefix, args: self._case(caller, prefix, index, args, branches[1:]))

    def _add(self, node) -> str:
        self.nodes.append(node)
        return node.name
