"""What a TF-op mapper sees of the node it maps and of the graph being built."""
from __future__ import annotations

import numpy as np

from ..errors import ConversionError
from ..ir import Graph, Op, Tensor
from .tensors import attr_value

_MISSING = object()
# More outputs than any real node has: a corrupt count would otherwise name millions.
MAX_OUTPUTS = 1 << 16
# The AttrValue field that holds each kind of scalar attribute a mapper reads.
_FIELDS = {bool: "b", int: "i", float: "f", str: "s"}
_HOLDS = {"s": "a string", "i": "an int", "f": "a float", "b": "a bool", "type": "a type",
          "shape": "a shape", "tensor": "a tensor", "list": "a list", "func": "a function",
          "placeholder": "a placeholder", None: "nothing"}


def _list_of(av, field: str) -> list | None:
    """The values of an AttrValue holding a list of `field` ("i" ints, "f" floats) or an
    empty list, else None."""
    others = ("s", "i", "f", "b", "type", "shape", "tensor", "func")
    if av.WhichOneof("value") != "list" or any(len(getattr(av.list, f)) for f in others if f != field):
        return None
    return list(getattr(av.list, field))


def split_ref(ref: str) -> tuple[str, int]:
    """A tensor reference ('node', 'node:0', 'node:2', as in NodeDef inputs and the array
    flags) -> (node name, output index). A suffix that is not a decimal number ('x:foo') is
    part of the node name; an empty one ('x:') means output 0."""
    head, sep, index = ref.rpartition(":")
    if sep and head and (index == "" or (index.isascii() and index.isdigit())):
        return head, int(index or 0)
    return ref, 0


def tensor_name(ref: str) -> str:
    """A NodeDef input reference ('node', 'node:0', 'node:2') -> the IR tensor name."""
    return output_name(*split_ref(ref))


def output_name(node_name: str, index: int) -> str:
    return node_name if index == 0 else f"{node_name}:{index}"


class NodeContext:
    def __init__(self, graph: Graph, node, consts: dict[str, np.ndarray]) -> None:
        self.graph = graph
        self.node = node
        self.name = node.name
        self._consts = consts
        self.inputs = [tensor_name(i) for i in node.input if not i.startswith("^")]
        self.emitted: list[Op] = []

    def input(self, i: int) -> str:
        if i >= len(self.inputs):
            raise ConversionError(f"node {self.name!r} ({self.node.op}) needs input {i}, has {len(self.inputs)}")
        return self.inputs[i]

    # A mapper relies on the kind of each attribute it reads: another kind (a list where an
    # int belongs) is a malformed node, said so here, never a TypeError inside the mapper.

    def attr(self, key: str, default=_MISSING, kind: type | None = None):
        """A scalar attribute stored as `kind` (bool, int, float or str; by default the
        default's type)."""
        return self._value(key, _FIELDS[kind or type(default)], default)

    def dtype_attr(self, key: str, default=_MISSING) -> str:
        """A type attribute (T, DstT, out_type, ...) as an IR dtype name."""
        return self._value(key, "type", default)

    def ints_attr(self, key: str, default=_MISSING, count: int | None = None) -> list[int]:
        """A list-of-ints attribute (strides, squeeze_dims, ...), of `count` values if given."""
        return [int(v) for v in self._list_attr(key, "i", "ints", default, count)]

    def floats_attr(self, key: str, default=_MISSING) -> list[float]:
        """A list-of-floats attribute (Bucketize's boundaries)."""
        return [float(v) for v in self._list_attr(key, "f", "floats", default, None)]

    def strings_attr(self, key: str, default=_MISSING) -> list[str]:
        """A list-of-strings attribute (_UnaryOpsComposition's op_names)."""
        return [v.decode(errors="replace") for v in self._list_attr(key, "s", "strings", default, None)]

    def _list_attr(self, key: str, field: str, what: str, default, count: int | None) -> list:
        av = self._stored(key, None, default)
        values = default if av is None else _list_of(av, field)
        if values is None or (count is not None and len(values) != count):
            size = f"have {count} values" if count is not None else "be a list"
            got = values if values is not None else (
                "other values" if av.WhichOneof("value") == "list" else _HOLDS[av.WhichOneof("value")])
            raise ConversionError(f"node {self.name!r}: {key} must {size} ({what}), has {got}")
        return values

    def _value(self, key: str, field: str, default):
        av = self._stored(key, field, default)
        return default if av is None else attr_value(av)

    def _stored(self, key: str, field: str | None, default):
        """The AttrValue of `key`, which must hold `field` (None: anything); None when it is
        absent and has a default."""
        if key not in self.node.attr:
            if default is _MISSING:
                raise ConversionError(f"node {self.name!r} ({self.node.op}) has no attribute {key!r}")
            return None
        av = self.node.attr[key]
        stored = av.WhichOneof("value")
        if field is not None and stored != field:
            raise ConversionError(f"node {self.name!r} ({self.node.op}): attribute {key!r} holds "
                                  f"{_HOLDS.get(stored, stored)}, not {_HOLDS[field]}; the graph is malformed")
        return av

    def const_input(self, i: int) -> np.ndarray | None:
        """The value of input i when it is a constant (seen through Identity chains)."""
        return self._consts.get(self.input(i))

    def require_const(self, i: int, what: str) -> np.ndarray:
        value = self.const_input(i)
        if value is None:
            raise ConversionError(
                f"node {self.name!r} ({self.node.op}): its {what} must be a constant")
        return value

    def for_node(self, node) -> NodeContext:
        """A context for another node mapped into the same graph (a node this one stands for)."""
        return NodeContext(self.graph, node, self._consts)

    def output(self, index: int = 0) -> str:
        return output_name(self.name, index)

    def outputs(self, count: int, attr: str) -> list[str]:
        """The names of the node's `count` outputs, a count read from attr `attr`."""
        if not 1 <= count <= MAX_OUTPUTS:
            raise ConversionError(f"node {self.name!r} ({self.node.op}): {attr}={count} outputs is "
                                  f"out of range (1 to {MAX_OUTPUTS}); the graph is malformed")
        return [self.output(i) for i in range(count)]

    def temp(self, suffix: str) -> str:
        """A fresh tensor for an intermediate result of this node's lowering."""
        name = self.graph.unique_name(f"{self.name}/{suffix}")
        self.graph.add_tensor(Tensor(name))
        return name

    def const(self, suffix: str, value) -> str:
        return self.graph.add_const(f"{self.name}/{suffix}", np.asarray(value))

    def emit(self, type_: str, inputs: list[str], attrs: dict | None = None,
             outputs: list[str] | None = None) -> Op:
        outputs = outputs if outputs is not None else [self.output(0)]
        for name in outputs:
            if name not in self.graph.tensors:
                self.graph.add_tensor(Tensor(name))
        op = self.graph.add_op(Op(type_, list(inputs), outputs, dict(attrs or {}), self.name))
        self.emitted.append(op)
        return op

    def keep_float_in_int8(self, why: str) -> None:
        """The ops this node became compute in float in int8 models (a composition whose
        intermediate values int8 cannot hold); `why` goes into the quantizer's note."""
        for op in self.emitted:
            op.float_in_int8 = why

    def spatial(self, key: str, unit_batch_channel: bool = False) -> tuple[int, int]:
        """The height and width entries of an NHWC 4-value attr (strides, dilations, ksize;
        default all 1). unit_batch_channel: the batch and channel entries must be 1."""
        values = self.ints_attr(key, [1, 1, 1, 1], count=4)
        if unit_batch_channel and (values[0] != 1 or values[3] != 1):
            raise ConversionError(f"node {self.name!r}: {key} {values} must be 1 on the batch "
                                  "and channel axes")
        return values[1], values[2]

    def data_format_nhwc(self) -> None:
        fmt = self.attr("data_format", "NHWC")
        if fmt not in ("NHWC", "NDHWC"):
            raise ConversionError(
                f"node {self.name!r} ({self.node.op}) uses data_format {fmt}; TFLite needs NHWC. "
                "Export the graph with channels-last layout.")
