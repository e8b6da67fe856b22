"""The tensors of different subgraphs that are one value at run time, and so take one set of
int8 parameters: LiteRT's WHILE copies the raw buffers of its inputs into the cond and body
subgraphs' inputs, the body's outputs back into them and the last into its outputs; IF copies
its inputs after the condition into the branch's inputs and the branch's outputs into its own;
READ_VARIABLE and ASSIGN_VARIABLE of one variable (VAR_HANDLE's container and shared_name) read
and write one buffer. None of them requantizes, so a WHILE's input i, the cond's and body's
input i, the body's output i and the WHILE's output i share one dtype and one set of params,
chosen from the union of their ranges (which covers every iteration and every branch run
during calibration); the same for an IF and its branches, and for a variable's reads and
writes. Integer tensors (loop counters) keep their type and are not grouped."""
from __future__ import annotations

from collections.abc import Callable

from ..ir import Graph, QuantParams
from .params import activation_params

Range = tuple[float, float]
# (subgraph index, tensor name); a variable is (-1, "container/shared_name").
Member = tuple[int, str]


class _Groups:
    """Union-find over members."""

    def __init__(self) -> None:
        self.parent: dict[Member, Member] = {}

    def find(self, m: Member) -> Member:
        self.parent.setdefault(m, m)
        while self.parent[m] != m:
            self.parent[m] = self.parent[self.parent[m]]
            m = self.parent[m]
        return m

    def join(self, *members: Member) -> None:
        root = self.find(members[0])
        for m in members[1:]:
            self.parent[self.find(m)] = root

    def sets(self) -> list[list[Member]]:
        by_root: dict[Member, list[Member]] = {}
        for m in self.parent:
            by_root.setdefault(self.find(m), []).append(m)
        return list(by_root.values())


def shared_groups(graphs: list[Graph]) -> list[list[Member]]:
    """The float32 tensors of the subgraphs that must share params, in groups of two or more."""
    groups = _Groups()
    for s, g in enumerate(graphs):
        handles = {op.outputs[0]: (-1, f"{op.attrs.get('container', '')}/{op.attrs.get('shared_name', '')}")
                   for op in g.ops if op.type == "VAR_HANDLE"}
        for op in g.ops:
            if op.type == "WHILE":
                cond, body = op.attrs["cond_subgraph_index"], op.attrs["body_subgraph_index"]
                for i, (start, end) in enumerate(zip(op.inputs, op.outputs)):
                    groups.join((s, start), (cond, graphs[cond].inputs[i]), (body, graphs[body].inputs[i]),
                                (body, graphs[body].outputs[i]), (s, end))
            elif op.type == "IF":
                for key in ("then_subgraph_index", "else_subgraph_index"):
                    b = op.attrs[key]
                    for outer, inner in zip(op.inputs[1:], graphs[b].inputs):
                        groups.join((s, outer), (b, inner))
                    for outer, inner in zip(op.outputs, graphs[b].outputs):
                        groups.join((s, outer), (b, inner))
            elif op.type == "READ_VARIABLE" and op.inputs[0] in handles:
                groups.join(handles[op.inputs[0]], (s, op.outputs[0]))
            elif op.type == "ASSIGN_VARIABLE" and op.inputs[0] in handles:
                groups.join(handles[op.inputs[0]], (s, op.inputs[1]))
    found = []
    for members in groups.sets():
        floats = [(s, n) for s, n in members if s >= 0 and graphs[s].tensors[n].dtype == "float32"]
        if len(floats) > 1:
            found.append(floats)
    return found


def shared_params(graphs: list[Graph], ranges: list[dict[str, Range]], default_range: Range | None = None,
                  choose: Callable[[float, float], QuantParams] = activation_params,
                  ) -> tuple[list[dict[str, Range]], list[dict[str, QuantParams]]]:
    """Each subgraph's ranges with every grouped tensor's widened to its group's union, and
    the params (chosen by `choose`) each subgraph's grouped tensors must carry. A member's range is its calibrated
    one, else its fake-quant one, else the default; a group with no range at all is left out
    (the quantizer names the tensor)."""
    widened = [dict(r) for r in ranges]
    pins: list[dict[str, QuantParams]] = [{} for _ in graphs]
    for members in shared_groups(graphs):
        known = [r for r in (_member_range(graphs, ranges, m, default_range) for m in members) if r]
        if not known:
            continue
        union = (min(lo for lo, _ in known), max(hi for _, hi in known))
        params = choose(*union)
        for s, name in members:
            widened[s][name] = union
            pins[s][name] = params
    return widened, pins


def _member_range(graphs: list[Graph], ranges: list[dict[str, Range]], member: Member,
                  default_range: Range | None) -> Range | None:
    s, name = member
    t = graphs[s].tensors[name]
    if t.is_const and t.data.size:
        return float(t.data.min()), float(t.data.max())
    return t.min_max or ranges[s].get(name) or default_range
