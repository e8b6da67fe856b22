"""TensorArrays (and TensorLists) a while loop carries whose shapes the loop's start does not
tell.

A TensorArray (or TensorList) whose element shape the graph leaves open (dynamic_rnn on an
unknown batch size records its output's elements as [-1, units]; a TF2 tf.TensorArray leaves
even their rank unknown) takes the shape of what the loop body writes into it. The body is
imported once as a probe, with the open sizes left open; what it writes into the array has
the loop's real element shape when that does not depend on the array itself (the cell's
output does not). The probe is then dropped, and the loop imported with the element shape
settled.

A TensorList of dynamic size (tf.TensorArray(dynamic_size=True) in TF2) is made as any other
and only its writes, in the body, say that they grow it (resize_if_index_out_of_bounds): the
loop then carries it as [-1, *element], as a TF1 TensorArray of dynamic size (frontend/loops.py)."""
from __future__ import annotations

from ..errors import TocoError
from ..ir import Graph
from ..ops.converter_only import PASSTHROUGH
from ..passes.propagate_shapes import propagate_shapes
from .context import NodeContext


def _open_array(graph: Graph, name: str):
    """The TensorArray op producing `name` if its element shape is open, else None."""
    producer = graph.producer(name)
    if producer is None or producer.type != "TensorArray":
        return None
    element = producer.attrs.get("element_shape")
    return producer if element is None or any(d < 0 for d in element) else None


def _array_probe(graph: Graph, array) -> tuple | None:
    """The open array's shape, its open sizes -1 (None: its elements' rank is unknown)."""
    element = array.attrs["element_shape"]
    if element is None:
        return None
    size = graph.const_value(array.inputs[0])
    return (int(size) if size is not None else -1,) + tuple(element)


def _written(body: Graph, name: str) -> str | None:
    """The value the body's last write into the array output `name` writes, if it is one."""
    producer = body.producer(name)
    while producer is not None and producer.type in PASSTHROUGH:
        producer = body.producer(producer.inputs[0])
    return producer.inputs[1] if producer is not None and producer.type == "TensorArrayWrite" else None


def settle_elements(ctx: NodeContext, graph: Graph, importer, body_call, shapes: dict) -> bool | TocoError:
    """Sets the element shape of each open TensorArray the loop carries from what the body
    writes into it (recorded in importer.known_elements for the importers after this one);
    whether it settled any, or the error that importing the body failed with (a write
    refused by name, say), which the loop reports if its shapes stay open."""
    arrays = [_open_array(graph, name) for name in ctx.inputs]
    opened = [i for i, array in enumerate(arrays) if array is not None]
    probes = [_array_probe(graph, array) if array is not None else shapes.get(name)
              for name, array in zip(ctx.inputs, arrays)]
    if not opened or any(array is None and (p is None or any(d < 0 for d in p))
                         for array, p in zip(arrays, probes)):
        return False
    before = len(graph.subgraphs)
    try:
        probe = importer.import_call(body_call, probes, keep_unknown=True)
        propagate_shapes(probe)
    except TocoError as err:
        return err
    finally:
        del graph.subgraphs[before:]
    settled = False
    for i in opened:
        value = _written(probe, probe.outputs[i]) if i < len(probe.outputs) else None
        shape = probe.tensors[value].shape if value is not None else None
        array = arrays[i]
        declared = array.attrs["element_shape"]
        if shape is None or any(s < 0 for s in shape) or declared is not None and (
                len(shape) != len(declared) or any(d >= 0 and d != s for d, s in zip(declared, shape))):
            continue
        array.attrs["element_shape"] = tuple(shape)
        importer.known_elements[array.name] = tuple(shape)
        settled = True
    return settled


def grown_by_body(body: Graph, shapes: list[tuple]) -> set[int]:
    """The loop variables (by position; shapes: the ones the body was imported with) of static
    size that the body gives back at a run-time size, grown by a TensorList write of dynamic
    size or by a loop in the body carrying it so: TensorLists of dynamic size."""
    grown = set()
    for i, name in enumerate(body.outputs):
        shape = body.tensors[name].shape
        if not shapes[i] or shapes[i][0] < 0 or not shape or shape[0] >= 0:
            continue
        producer = body.producer(name)
        while producer is not None and producer.type in PASSTHROUGH:
            producer = body.producer(producer.inputs[0])
        if producer is not None and (producer.type == "WHILE" or (
                producer.type == "TensorArrayWrite" and producer.attrs.get("resizes"))):
            grown.add(i)
    return grown
