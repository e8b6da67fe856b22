"""One-op models: build an IR graph around a single op, write it with our writer, run it in
LiteRT, and compare with our numpy kernel. Constant inputs are written as buffers."""
from __future__ import annotations

import numpy as np
from oracle import litert

from toco_py.ir import Graph, Op, QuantParams, Tensor, const_tensor
from toco_py.ops import REGISTRY
from toco_py.passes.propagate_shapes import propagate_shapes
from toco_py.tflite.writer import model_bytes


def one_op_graph(op_type: str, inputs: list, attrs: dict | None = None, n_outputs: int = 1,
                 const: set[int] | None = None) -> Graph:
    """inputs: arrays (runtime inputs unless their index is in `const`) or None (absent)."""
    const = const or set()
    g = Graph()
    names = []
    for i, value in enumerate(inputs):
        if value is None:
            names.append("")
            continue
        name = f"in{i}"
        value = np.asarray(value)
        if i in const:
            g.add_tensor(const_tensor(name, value))
        else:
            g.add_tensor(Tensor(name, tuple(value.shape), value.dtype.name))
            g.inputs.append(name)
        names.append(name)
    outs = [f"out{i}" for i in range(n_outputs)]
    for name in outs:
        g.add_tensor(Tensor(name))
    g.add_op(Op(op_type, names, outs, dict(attrs or {}), "op"))
    g.outputs = outs
    propagate_shapes(g)
    return g


def run_one_op(g, inputs: list, n_outputs: int, reference: bool) -> list[np.ndarray]:
    """LiteRT's outputs for a one_op_graph fed `inputs` (constants are in the model)."""
    interp = litert(model_bytes(g), reference=reference)
    details = {d["name"]: d for d in interp.get_input_details()}
    for i, value in enumerate(inputs):
        if f"in{i}" in details:
            interp.set_tensor(details[f"in{i}"]["index"], np.asarray(value))
    interp.invoke()
    out_details = {d["name"]: d for d in interp.get_output_details()}
    return [interp.get_tensor(out_details[f"out{i}"]["index"]) for i in range(n_outputs)]


def compare_with_litert(op_type: str, inputs: list, attrs: dict | None = None, n_outputs: int = 1,
                        const: set[int] | None = None, rtol: float = 1e-5, atol: float = 1e-6,
                        reference: bool = True) -> list[np.ndarray]:
    """Asserts that our kernel and LiteRT agree (and that our shape inference matches LiteRT's
    output shapes). Returns LiteRT's outputs."""
    g = one_op_graph(op_type, inputs, attrs, n_outputs, const)
    theirs = run_one_op(g, inputs, n_outputs, reference)
    ours = REGISTRY[op_type].kernel(g.ops[0], *[None if v is None else np.asarray(v) for v in inputs])
    ours = list(ours) if isinstance(ours, (tuple, list)) else [ours]
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert tuple(g.tensors[f"out{i}"].shape) == b.shape, (op_type, i, g.tensors[f"out{i}"].shape, b.shape)
        assert a.shape == b.shape, (op_type, i, a.shape, b.shape)
        assert a.dtype == b.dtype, (op_type, i, a.dtype, b.dtype)
        if a.dtype.kind in "biu":
            np.testing.assert_array_equal(a, b, err_msg=op_type)
        else:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=op_type)
    return theirs


def quant(scale, zero_point=0, axis: int = 0) -> QuantParams:
    return QuantParams(np.atleast_1d(np.asarray(scale, np.float32)),
                       np.atleast_1d(np.asarray(zero_point, np.int64)), axis)


def compare_int8_with_litert(op_type: str, inputs: list, input_quant: list, output_quant: list,
                             attrs: dict | None = None, const: set[int] | None = None,
                             output_dtype: str = "int8", reference: bool = True) -> list[np.ndarray]:
    """One quantized op: inputs are integer arrays with their params (None for non-quantized
    inputs such as int32 shapes); asserts our int8 kernel (run through the interpreter's
    dispatch) equals LiteRT's reference kernel exactly. Returns LiteRT's outputs."""
    from toco_py.interpreter import Interpreter

    g = one_op_graph(op_type, inputs, attrs, len(output_quant), const)
    for i, q in enumerate(input_quant):
        if q is not None and inputs[i] is not None:
            g.tensors[f"in{i}"].quant = q
    for i, q in enumerate(output_quant):
        t = g.tensors[f"out{i}"]
        t.quant, t.dtype = q, (output_dtype if q is not None else t.dtype)
    theirs = run_one_op(g, inputs, len(output_quant), reference)
    feeds = {n: np.asarray(inputs[int(n[2:])]) for n in g.inputs}
    ours = Interpreter(g).run(feeds)
    for i, want in enumerate(theirs):
        got = ours[f"out{i}"]
        assert got.dtype == want.dtype and got.shape == want.shape, (op_type, got.dtype, want.dtype, got.shape, want.shape)
        diff = np.abs(got.astype(np.int64) - want.astype(np.int64))
        assert diff.max(initial=0) == 0, f"{op_type}: {int((diff > 0).sum())} of {diff.size} elements differ, max {diff.max()}"
    return theirs
