"""TensorFlow's LSTM kernel ops (ops/lstm_block.py) -> element-wise cells, one per step, the
form passes/fuse_lstm.py reads and fuses (with a zero initial state, one
UNIDIRECTIONAL_SEQUENCE_LSTM). LSTMBlockCell is one step; BlockLSTM (and V2) over a known
number of steps T are T steps over the UNPACK of its time-major input, each output that is
read the PACK of its steps. A BlockLSTM whose seq_len_max is not a constant T stays (noted):
it stops early, which no fixed chain of steps computes."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, Tensor
from ..ops.lstm_block import OUTPUTS
from .base import Pass


class _Step:
    """Builds the ops of one step into `ops`; tensors named after the lowered op."""

    def __init__(self, graph: Graph, op: Op, ops: list[Op]) -> None:
        self.graph, self.op, self.ops = graph, op, ops

    def emit(self, type_: str, inputs: list[str], attrs: dict | None = None, out: str | None = None,
             count: int = 1) -> str | list[str]:
        outs = [out] if out else []
        for _ in range(count if not out else 0):
            outs.append(self.graph.unique_name(f"{self.op.name or self.op.outputs[0]}/{type_.lower()}"))
            self.graph.add_tensor(Tensor(outs[-1]))
        self.ops.append(Op(type_, inputs, outs, dict(attrs or {}), self.op.name))
        return outs if count > 1 else outs[0]

    def const(self, suffix: str, value) -> str:
        return self.graph.add_const(f"{self.op.name or self.op.outputs[0]}/{suffix}", np.asarray(value))

    def run(self, x: str, cs_prev: str, h_prev: str, w_oi: str, wci: str, wcf: str, wco: str, b: str,
            names: dict[str, str]) -> dict[str, str]:
        """One step (ops/lstm_block.py's module doc); names: output -> the tensor to write."""
        attrs = self.op.attrs
        xh = self.emit("CONCATENATION", [x, h_prev], {"axis": 1, "fused_activation_function": "NONE"})
        gates = self.emit("FULLY_CONNECTED", [xh, w_oi, b], {"keep_num_dims": False})
        part = dict(zip(attrs["gate_order"], self.emit("SPLIT", [self.const("axis", np.int32(1)), gates],
                                                        {"num_splits": 4}, count=4)))
        peephole = attrs["use_peephole"]

        def gate(pre: str, state: str, weights: str, name: str) -> str:
            if peephole:
                pre = self.emit("ADD", [pre, self.emit("MUL", [state, weights])])
            return self.emit("LOGISTIC", [pre], out=names.get(name))

        i = gate(part["i"], cs_prev, wci, "i")
        ci = self.emit("TANH", [part["c"]], out=names.get("ci"))
        f_in = part["f"]
        if attrs["forget_bias"]:
            f_in = self.emit("ADD", [f_in, self.const("forget_bias", np.float32(attrs["forget_bias"]))])
        f = gate(f_in, cs_prev, wcf, "f")
        clip = attrs["cell_clip"]
        cs = self.emit("ADD", [self.emit("MUL", [ci, i]), self.emit("MUL", [cs_prev, f])],
                       out=None if clip > 0 else names.get("cs"))
        if clip > 0:
            low = self.emit("MINIMUM", [cs, self.const("cell_clip", np.float32(clip))])
            cs = self.emit("MAXIMUM", [low, self.const("cell_clip_low", np.float32(-clip))], out=names.get("cs"))
        co = self.emit("TANH", [cs], out=names.get("co"))
        o = gate(part["o"], cs, wco, "o")
        h = self.emit("MUL", [o, co], out=names.get("h"))
        return dict(zip(OUTPUTS, (i, cs, f, o, ci, co, h)))


def _read(graph: Graph, op: Op) -> list[str]:
    """The op's outputs that anything reads."""
    return [name for name in op.outputs if graph.consumers(name) or name in graph.outputs]


def lower_block_lstm(graph: Graph, op: Op) -> bool:
    if op.type not in ("LSTMBlockCell", "BlockLSTM"):
        return False
    block = op.type == "BlockLSTM"
    x, cs_prev, h_prev, w, *params = op.inputs[1:] if block else op.inputs
    shape = graph.tensors[x].shape
    if shape is None or graph.tensors[w].shape is None or min(shape) < 0:
        return False
    steps = shape[0] if block else 1
    if block:
        seq_len_max = graph.const_value(op.inputs[0])
        if seq_len_max is None or int(seq_len_max) != steps:
            graph.remark(f"lower_block_lstm: {op!r} stays: its seq_len_max is not a constant {steps}, "
                         "its number of steps", op)
            return False
    ops: list[Op] = []
    step = _Step(graph, op, ops)
    w_oi = step.emit("TRANSPOSE", [w, step.const("perm", np.array([1, 0], np.int32))])
    read = _read(graph, op)
    if not block:
        step.run(x, cs_prev, h_prev, w_oi, *params, names=dict(zip(OUTPUTS, op.outputs)))
        graph.replace_op(op, ops)
        return True
    xs = step.emit("UNPACK", [x], {"axis": 0, "num": steps}, count=steps) if steps > 1 else \
        [step.emit("RESHAPE", [x, step.const("step_shape", np.array(shape[1:], np.int32))])]
    values = []
    for t in range(steps):
        values.append(step.run(xs[t], cs_prev, h_prev, w_oi, *params, names={}))
        cs_prev, h_prev = values[-1]["cs"], values[-1]["h"]
    for name, out in zip(OUTPUTS, op.outputs):
        if out in read:
            step.emit("PACK", [v[name] for v in values], {"axis": 0, "values_count": steps}, out=out)
    graph.replace_op(op, ops)
    return True


PASS = Pass("lower_block_lstm", lower_block_lstm)
