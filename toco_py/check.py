"""`toco-py check`: which ops of a model a target cannot run, after every rewrite.

A .pb goes through the frontend and all passes (not the writer), so ops the passes remove
(CheckNumerics, a dropout whose keep_prob defaults to 1, ...) are never reported; a .tflite
is checked as it is, every subgraph of it (a model runs only if the target runs the ops of
each subgraph its IF, WHILE and CALL_ONCE ops call). Each unsupported op comes with the
nodes that use it and a hint.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .api import graph_from_graphdef
from .ir import Graph
from .naming import node_name
from .preflight import CONTROL_FLOW_CAUSE, CONTROL_FLOW_FIX, CUSTOM_OPS_HINT, is_control_flow
from .targets import TFLM_VERSION, unsupported_on

CONTROL_FLOW_HINT = f"{CONTROL_FLOW_CAUSE}: {CONTROL_FLOW_FIX}"
RANDOM_HINT = ("random values are only removed when nothing uses them (e.g. dropout with "
               "keep_prob 1); feed the noise as an input instead")
# Erf and Erfc inside a GELU fuse into the GELU builtin (passes/fuse_gelu.py); what is left
# is an error function on its own.
ERF_HINT = ("TFLite has no error function; only a GELU written with it converts (tf.nn.gelu, "
            "or 0.5*x*(1+tf.math.erf(x/sqrt(2))) with exact constants and no intermediate used "
            "elsewhere, becomes the GELU builtin). Else " + CUSTOM_OPS_HINT)
# Replacements for ops users commonly meet; anything else gets the generic hint of its target.
SPECIFIC_HINTS = {
    "Erf": ERF_HINT,
    "Erfc": ERF_HINT,
    "RandomUniform": RANDOM_HINT,
    "RandomStandardNormal": RANDOM_HINT,
    "TruncatedNormal": RANDOM_HINT,
    "FusedBatchNorm": "freeze the graph in inference mode (is_training=False) so the "
                      "statistics are constants",
    "FakeQuant": "give the fake-quant node constant min/max",
}
TFLM_HINTS = {
    "TILE": "let the consumer broadcast, or use tf.broadcast_to (BROADCAST_TO)",
    "SELECT": "use tf.where with broadcastable operands (SELECT_V2)",
    "POW": "write small integer powers as multiplications (x*x)",
    # Any spelling of GELU converts to GELU (tanh form included): only another function avoids it.
    "GELU": "use an activation it has, e.g. x*tf.sigmoid(1.702*x) (LOGISTIC, MUL), a close "
            "approximation of GELU",
    "RELU_N1_TO_1": "clip with tf.minimum/tf.maximum (MINIMUM, MAXIMUM)",
    "RELU_0_TO_1": "clip with tf.minimum/tf.maximum (MINIMUM, MAXIMUM)",
}


@dataclass
class Finding:
    op: str            # op kind: TFLite builtin name, or the TF op that has none
    nodes: list[str]   # the TF node names (or, in a .tflite, output tensors) that use it
    hint: str
    control_flow: bool = False

    def as_json(self) -> dict:
        return {"op": self.op, "count": len(self.nodes), "nodes": self.nodes, "hint": self.hint,
                "control_flow": self.control_flow}


@dataclass
class SubgraphCheck:
    """One subgraph of a model of several: its ops and the op labels the target lacks."""
    index: int
    name: str
    op_count: int
    unsupported: list[str]

    def as_json(self) -> dict:
        return {"index": self.index, "name": self.name, "op_count": self.op_count,
                "supported": not self.unsupported, "unsupported": self.unsupported}


@dataclass
class CheckReport:
    model: str
    target: str
    op_count: int      # over every subgraph
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    subgraphs: list[SubgraphCheck] = field(default_factory=list)  # empty for one subgraph

    @property
    def supported(self) -> bool:
        return not self.findings

    def as_json(self) -> dict:
        report = {"model": self.model, "target": self.target, "supported": self.supported,
                  "op_count": self.op_count,
                  "unsupported": [f.as_json() for f in self.findings], "notes": self.notes}
        if self.subgraphs:  # one-subgraph reports stay as they always were
            report["subgraphs"] = [s.as_json() for s in self.subgraphs]
        if self.target == "tflite-micro":
            report["tflm_version"] = TFLM_VERSION
        return report


def check_file(path: str, target: str, input_arrays=None, output_arrays=None,
               input_shapes=None) -> CheckReport:
    from .tensor_io import is_tflite, load_tflite

    if is_tflite(path):
        graph, notes = load_tflite(path)[0], []
    else:
        from .frontend.graphdef import load_graphdef

        graph, notes, _ = graph_from_graphdef(load_graphdef(path), input_arrays, output_arrays,
                                              input_shapes)
    return check_graph(graph, path, target, notes)


def check_graph(graph: Graph, model: str, target: str, notes: list[str] | None = None) -> CheckReport:
    """Every subgraph of the graph's model; an op's nodes are listed over all of them, each
    outside the main subgraph followed by "(in SUBGRAPH NAME)"."""
    graphs = graph.subgraphs or [graph]
    nodes_of: dict[str, list[str]] = {}
    subgraphs = []
    for s, sub in enumerate(graphs):
        found = unsupported_on(sub, target)
        for op, nodes in found.items():
            nodes_of.setdefault(op, []).extend(nodes if s == 0 else [f"{n} (in {sub.name})" for n in nodes])
        subgraphs.append(SubgraphCheck(s, sub.name, len(sub.ops), sorted(found)))
    findings = [Finding(op, nodes, hint_for(op, target), is_control_flow(_base(op)))
                for op, nodes in sorted(nodes_of.items())]
    if target == "codegen":
        findings += _codegen_loops(graph)
    return CheckReport(model, target, sum(len(sub.ops) for sub in graphs), findings,
                       list(notes or []), subgraphs if len(graphs) > 1 else [])


def _codegen_loops(graph: Graph) -> list[Finding]:
    """The WHILEs codegen has kernels for but refuses: loop variables whose size changes as the
    loop runs (-1 sizes, as a growing TensorArray has); the hint is codegen's error."""
    from .codegen.lower_control import loop_shape_problems

    problems = loop_shape_problems(graph)
    if not problems:
        return []
    graphs = graph.subgraphs or [graph]
    nodes = [node_name(op) + (f" (in {graphs[s].name})" if s else "") for s, op, _ in problems]
    return [Finding("WHILE (loop variables change shape)", nodes, problems[0][2].removeprefix("codegen: "))]


def _base(label: str) -> str:
    return label.split(" (")[0]


def hint_for(label: str, target: str) -> str:
    op = _base(label)
    if is_control_flow(op):
        return CONTROL_FLOW_HINT
    if op in SPECIFIC_HINTS:
        return SPECIFIC_HINTS[op]
    if not op.isupper():  # a TF op name: no TFLite builtin at all
        return CUSTOM_OPS_HINT
    if target == "tflite-micro" and " (with " in label:  # a kernel that lacks a variant (targets.py)
        return (f"TFLM {TFLM_VERSION}'s {op} kernel does not compute {label.split(' (with ', 1)[1][:-1]}: "
                "use a variant without it, or register your own kernel")
    if target == "tflite-micro":
        how = TFLM_HINTS.get(op, "rewrite with ops TFLM has")
        return f"TFLM {TFLM_VERSION} has no {op} kernel: {how}, or register your own kernel"
    if target == "codegen":
        return ("toco-py codegen has no C kernel for it: rewrite with ops it lowers, or run the "
                ".tflite with LiteRT")
    return CUSTOM_OPS_HINT


def print_report(report: CheckReport) -> None:
    from .report import print_table

    if report.subgraphs:
        print_table(f"{report.model}: {len(report.subgraphs)} subgraphs", ["#", "name", "ops", "unsupported"],
                    [(s.index, s.name, s.op_count, ", ".join(s.unsupported) or "-") for s in report.subgraphs])
        print()
    if report.supported:
        where = f" of {len(report.subgraphs)} subgraphs" if report.subgraphs else ""
        print(f"{report.model}: all {report.op_count} ops{where} are supported on {report.target}")
        return
    target = report.target + (f" (TFLM {TFLM_VERSION})" if report.target == "tflite-micro" else "")
    rows = [(f.op, _names(f.nodes), f.hint) for f in report.findings]
    print_table(f"{report.model}: {len(report.findings)} op types unsupported on {target}",
                ["op", "nodes", "hint"], rows)


def _names(nodes: list[str], shown: int = 4) -> str:
    more = f", ... ({len(nodes)} in all)" if len(nodes) > shown else ""
    return ", ".join(nodes[:shown]) + more


def check_command(model: str, target: str, as_json: bool, cut: dict) -> bool:
    """`toco-py check`: prints the report; returns whether everything is supported."""
    import json

    import click

    report = check_file(model, target, **cut)
    for note in report.notes:
        click.echo(note, err=True)
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
    else:
        print_report(report)
    return report.supported
