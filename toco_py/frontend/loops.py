"""TF2 functional while loops: a While / StatelessWhile node (its cond and body functions in
the GraphDef's function library) -> one WHILE op whose cond and body subgraphs are those
functions, each imported as a graph of its own: inputs the loop variables, outputs the
cond's bool (or the body's next loop variables).

TFLite's WHILE keeps each loop variable's shape and dtype across iterations, so the
subgraphs take the While's input shapes (TensorFlow's shape invariants may leave sizes open;
the ones the loop starts from are what it converts to), and a body that changes a loop
variable's shape or dtype is refused: the loop's shapes never settle."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..errors import ConversionError, TocoError
from ..ir import Graph
from ..ops.control_flow import check_settled
from ..ops.converter_only import PASSTHROUGH
from ..passes.propagate_shapes import propagate_shapes
from .array_elements import grown_by_body, settle_elements
from .context import NodeContext
from .functions import func_attr
from .proto import AttrValue, NodeDef
from .tensors import dtype_enum, dtype_name

WHILE_OPS = ("While", "StatelessWhile")


class OpenLoopShape(ConversionError):
    """A loop variable has no static shape where its loop starts. Met in a loop nested in a
    body imported as a probe (frontend/array_elements.py), it is the enclosing loop's open
    TensorArray that the enclosing loop reports."""


@dataclass
class FunctionCall:
    """A GraphDef of one call of a library function on placeholders, as the importer reads
    one: importing it with the placeholders as inputs and the call's outputs as outputs
    imports the function's body (the inliner translates its "node:output_arg:index" names)."""
    node: list
    library: object
    inputs: list[str]
    outputs: list[str]


class LoopImporter(Protocol):
    """What importing a loop needs of the importer (frontend/importer.Importer)."""
    # TensorArray node -> the element shape its writes show, where the graph leaves it open.
    known_elements: dict[str, tuple]

    def import_call(self, call: FunctionCall, shapes: list[tuple], keep_unknown: bool = False) -> Graph:
        """The call's function imported, given its input shapes (keep_unknown: which may
        hold -1 sizes), as a subgraph of the model."""

    def infer_upstream(self, names: list[str]) -> dict:
        """{tensor: (shape, dtype)} for those the conversion's passes find shapes of when run
        on the part of the graph upstream of them."""


def _call(node, library, key: str) -> FunctionCall:
    """A call of the While's `key` function (cond or body) on one placeholder per loop variable."""
    name = func_attr(node, key)
    functions = {f.signature.name: f for f in library.function} if library is not None else {}
    if name not in functions:
        raise TocoError(f"node {node.name!r} calls function {name!r}, which the GraphDef's "
                        "function library does not define; the GraphDef is malformed")
    signature = functions[name].signature
    prefix = f"{node.name}/{key}"
    args = []
    for i, arg in enumerate(signature.input_arg):
        args.append(NodeDef(name=f"{prefix}/arg_{i}", op="Placeholder"))
        args[-1].attr["dtype"].CopyFrom(AttrValue(type=arg.type))
    call = NodeDef(name=prefix, op="PartitionedCall", input=[a.name for a in args])
    call.attr["f"].func.name = name
    call.attr["Tout"].list.type.extend(arg.type for arg in signature.output_arg)
    outputs = [f"{prefix}:{i}" for i in range(len(signature.output_arg))]
    return FunctionCall(args + [call], library, [a.name for a in args], outputs)


def _check_carriable(ctx: NodeContext, graph: Graph, calls: dict[str, tuple[FunctionCall, str]]) -> None:
    """Every loop variable is a plain tensor: a variant one (a TensorArray or TensorList) only
    as the tensor [size, *element] the import made of it (frontend/tensor_arrays.py), which
    the cond and body then take in its dtype."""
    types = ctx.node.attr["T"].list.type if "T" in ctx.node.attr else ()
    for i, name in enumerate(ctx.inputs):
        kind = dtype_name(types[i]) if i < len(types) else None
        if kind not in ("variant", "resource"):
            continue
        producer = graph.producer(name)
        dtype = graph.tensors[name].dtype
        if kind == "resource" or dtype in (None, "variant", "resource") or (
                producer is not None and producer.type == "CUSTOM"):
            raise ConversionError(
                f"node {ctx.name!r} ({ctx.node.op}): loop variable {i} ({name!r}) is a {kind} "
                "tensor (a TensorList toco-py cannot make a tensor; a resource: a variable's "
                "handle), which toco-py does not carry through a loop; make the loop carry plain "
                "tensors or TensorArrays written by index")
        for call, _ in calls.values():
            for node in call.node:
                if node.name == call.inputs[i]:
                    node.attr["dtype"].type = dtype_enum(dtype)


def _static_shapes(ctx: NodeContext, graph: Graph, importer: LoopImporter, body: FunctionCall) -> list[tuple]:
    """The loop variables' shapes where the loop starts; each must be known: from the shape
    rules on the graph so far, else from the conversion's passes on the part upstream (a
    size computed from constants), a TensorArray's open element shape from its writes."""
    propagate_shapes(graph)
    shapes = {name: graph.tensors[name].shape for name in ctx.inputs}
    unknown = [name for name, shape in shapes.items()
               if (shape is None or any(d < 0 for d in shape)) and not _grows(graph, name)]
    settled: bool | TocoError = False
    if unknown:
        for name, (shape, dtype) in importer.infer_upstream(unknown).items():
            shapes[name] = shape
            graph.tensors[name].dtype = dtype  # what the shape rules could not tell either
        settled = settle_elements(ctx, graph, importer, body, shapes)
        if settled is True:
            return _static_shapes(ctx, graph, importer, body)
    for i, name in enumerate(ctx.inputs):
        shape = shapes[name]
        if (shape is None or any(d < 0 for d in shape)) and not _grows(graph, name):
            if isinstance(settled, TocoError) and not isinstance(settled, OpenLoopShape):
                raise settled
            _check_array_element(ctx, graph, i, name)
            raise OpenLoopShape(
                f"node {ctx.name!r} ({ctx.node.op}): loop variable {i} ({name!r}) has no static "
                f"shape where the loop starts ({'unknown' if shape is None else list(shape)}); "
                "TFLite's WHILE needs one: give fixed input shapes with --input_shapes")
        graph.tensors[name].shape = tuple(shape)
    return [(-1,) + tuple(shapes[name])[1:] if _grows(graph, name) else tuple(shapes[name])
            for name in ctx.inputs]


def _grows(graph: Graph, name: str) -> bool:
    """A TensorArray of dynamic size (raw_rnn's outputs), or one an enclosing loop carries so
    (an input of this subgraph of size -1: loops give no other tensor one): the loop carries
    it at whatever size it has grown to, so the subgraphs take it as [-1, *element]."""
    producer = graph.producer(name)
    while producer is not None and producer.type in PASSTHROUGH:
        name, producer = producer.inputs[0], graph.producer(producer.inputs[0])
    if producer is None:
        shape = graph.tensors[name].shape
        return name in graph.inputs and bool(shape) and shape[0] < 0 and all(d >= 0 for d in shape[1:])
    return producer.type == "TensorArray" and producer.attrs.get("dynamic_size", False)


def _check_array_element(ctx: NodeContext, graph: Graph, i: int, name: str) -> None:
    """A loop variable that is a TensorArray (or TensorList) whose element shape the graph
    leaves open (its batch size, say), or whose size is no constant, has no static shape,
    whatever the input shapes: say which."""
    producer = graph.producer(name)
    if producer is None or producer.type != "TensorArray":
        return
    element = producer.attrs.get("element_shape")
    if element is not None and all(d >= 0 for d in element):
        raise OpenLoopShape(
            f"node {ctx.name!r}: loop variable {i} is TensorArray {producer.name!r}, whose size is "
            "not a constant (it depends on what the graph computes from its inputs); TFLite's "
            "WHILE needs it static: give the TensorArray a fixed size (tf.TensorArray(dtype, size=n))")
    raise OpenLoopShape(
        f"node {ctx.name!r}: loop variable {i} is TensorArray {producer.name!r}, whose element "
        f"shape the graph leaves open ({'unknown' if element is None else list(element)}); "
        "TFLite's WHILE needs it static: give the TensorArray its element_shape, or build the "
        "graph with static shapes (a fixed batch size, e.g. placeholder shape [2, 5, 3] rather "
        "than [None, 5, 3])")


def _subgraph(ctx: NodeContext, call: FunctionCall, key: str, name: str, shapes: list[tuple],
              importer: LoopImporter) -> Graph:
    if len(call.inputs) != len(shapes):
        raise TocoError(f"node {ctx.name!r} ({ctx.node.op}) passes {len(shapes)} loop variables to "
                        f"its {key} function, which takes {len(call.inputs)}; the GraphDef is malformed")
    # -1 sizes are a growing TensorArray's, which the subgraph takes at any size.
    sub = importer.import_call(call, shapes, keep_unknown=any(d < 0 for s in shapes for d in s))
    sub.name = name
    propagate_shapes(sub)
    return sub


def add_functional_while(ctx: NodeContext, library, importer: LoopImporter) -> None:
    """Maps While / StatelessWhile `ctx.node` (its functions in `library`) into ctx.graph."""
    calls = {key: (_call(ctx.node, library, key), func_attr(ctx.node, key)) for key in ("cond", "body")}
    add_while(ctx, calls, importer)


def add_while(ctx: NodeContext, calls: dict[str, tuple[FunctionCall, str]],
              importer: LoopImporter) -> None:
    """Maps the loop `ctx.node` stands for into ctx.graph: WHILE and its two subgraphs,
    appended to the model's. calls: "cond" and "body" -> (the function's call, the name its
    subgraph takes)."""
    graph = ctx.graph
    _check_carriable(ctx, graph, calls)
    shapes = _static_shapes(ctx, graph, importer, calls["body"][0])
    if not graph.subgraphs:
        graph.subgraphs.append(graph)
    before = len(graph.subgraphs)
    body = _subgraph(ctx, calls["body"][0], "body", calls["body"][1], shapes, importer)
    if len(body.outputs) != len(shapes):
        raise TocoError(f"node {ctx.name!r} ({ctx.node.op}): its body function returns "
                        f"{len(body.outputs)} tensors for {len(shapes)} loop variables; the "
                        "GraphDef is malformed")
    grown = grown_by_body(body, shapes)
    if grown:  # TensorLists of dynamic size: the subgraphs take them at any size
        del graph.subgraphs[before:]
        shapes = [(-1,) + shape[1:] if i in grown else shape for i, shape in enumerate(shapes)]
        body = _subgraph(ctx, calls["body"][0], "body", calls["body"][1], shapes, importer)
    cond = _subgraph(ctx, calls["cond"][0], "cond", calls["cond"][1], shapes, importer)
    if len(cond.outputs) != 1:
        raise TocoError(f"node {ctx.name!r} ({ctx.node.op}): its cond function returns "
                        f"{len(cond.outputs)} tensors, not one bool; the GraphDef is malformed")
    check_settled(f"node {ctx.name!r} ({ctx.node.op})", ctx.inputs, body)
    models = graph.subgraphs
    models.extend((cond, body))
    ctx.emit("WHILE", list(ctx.inputs),
             {"cond_subgraph_index": len(models) - 2, "body_subgraph_index": len(models) - 1},
             outputs=ctx.outputs(len(ctx.inputs), "T"))
