"""One-op models: build an IR graph around a single op, write it with our writer, run it in
LiteRT, and compare with our numpy kernel. Constant inputs are written as buffers."""
from __future__ import annotations

import numpy as np

from toco_py.ir import Graph, Op, QuantParams, Tensor, const_tensor
from toco_py.ops import REGISTRY
from toco_py.passes.propagate_shapes import propagate_shapes
from toco_py.tflite.writer import model_bytes

from .oracle import litert


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


def run_one_op(g, inputs: list, n_outputs: int, reference: bool = True,
               delegates: bool = True) -> list[np.ndarray]:
    """LiteRT's outputs for a one_op_graph fed `inputs` (constants are in the model).
    reference=False, delegates=False runs LiteRT's builtin (optimized) kernels without XNNPACK."""
    interp = litert(model_bytes(g), reference=reference, delegates=delegates)
    details = {d["name"]: d for d in interp.get_input_details()}
    for i, value in enumerate(inputs):
        if f"in{i}" in details:
            interp.set_tensor(details[f"in{i}"]["index"], np.asarray(value))
    interp.invoke()
    out_details = {d["name"]: d for d in interp.get_output_details()}
    return [interp.get_tensor(out_details[f"out{i}"]["index"]) for i in range(n_outputs)]


def float_disagreement(op_type: str, inputs: list, attrs: dict | None = None, n_outputs: int = 1,
                       const: set[int] | None = None, rtol: float = 1e-5, atol: float = 1e-6,
                       reference: bool = True) -> str:
    """"" when our kernel and LiteRT agree on a one-op model (integers exactly, floats within
    atol + rtol * |LiteRT's|) and our shape inference gives LiteRT's output shapes; else what
    differs."""
    return _float_check(op_type, inputs, attrs, n_outputs, const, rtol, atol, reference)[1]


def compare_with_litert(op_type: str, inputs: list, attrs: dict | None = None, n_outputs: int = 1,
                        const: set[int] | None = None, rtol: float = 1e-5, atol: float = 1e-6,
                        reference: bool = True) -> list[np.ndarray]:
    """Asserts float_disagreement is empty; returns LiteRT's outputs."""
    theirs, problem = _float_check(op_type, inputs, attrs, n_outputs, const, rtol, atol, reference)
    assert not problem, problem
    return theirs


def _float_check(op_type, inputs, attrs, n_outputs, const, rtol, atol, reference):
    g = one_op_graph(op_type, inputs, attrs, n_outputs, const)
    theirs = run_one_op(g, inputs, n_outputs, reference)
    ours = REGISTRY[op_type].kernel(g.ops[0], *[None if v is None else np.asarray(v) for v in inputs])
    ours = list(ours) if isinstance(ours, (tuple, list)) else [ours]
    if len(ours) != len(theirs):
        return theirs, f"{op_type}: our kernel returns {len(ours)} outputs, LiteRT {len(theirs)}"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        inferred = _inferred_shape(g, i)
        problem = _layout_problem(op_type, i, a, b, inferred)
        if problem:
            return theirs, problem
        if a.dtype.kind in "biu":
            bad = a != b
        else:
            bad = ~np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
        if bad.any():
            worst = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))[bad]))
            return theirs, (f"{op_type} output {i}: {int(bad.sum())} of {bad.size} elements differ "
                            f"(rtol {rtol}, atol {atol}), max |diff| {worst:.3g}")
    return theirs, ""


def _inferred_shape(g, i):
    shape = g.tensors[f"out{i}"].shape
    return "no shape" if shape is None else tuple(shape)


def _fits(inferred, shape: tuple) -> bool:
    """The inferred shape is LiteRT's, a -1 (a size known at run time only) standing for any."""
    return (inferred != "no shape" and len(inferred) == len(shape)
            and all(d in (-1, s) for d, s in zip(inferred, shape)))


def _layout_problem(op_type, i, ours: np.ndarray, theirs: np.ndarray, inferred=None) -> str:
    if inferred is not None and not _fits(inferred, theirs.shape):
        return f"{op_type} output {i}: shape inference gives {inferred}, LiteRT {theirs.shape}"
    if ours.shape != theirs.shape or ours.dtype != theirs.dtype:
        return (f"{op_type} output {i}: ours {ours.dtype}{list(ours.shape)}, "
                f"LiteRT {theirs.dtype}{list(theirs.shape)}")
    return ""


def window(padding="VALID", stride=(1, 1), dilation=(1, 1), act="NONE", **extra) -> dict:
    """CONV_2D / DEPTHWISE_CONV_2D attrs (extra: depth_multiplier, ...)."""
    return {"padding": padding, "stride_h": stride[0], "stride_w": stride[1],
            "dilation_h_factor": dilation[0], "dilation_w_factor": dilation[1],
            "fused_activation_function": act, **extra}


def forward_size(out_size, kernel, stride, padding):
    """The input size whose forward convolution (or pool) gives back out_size."""
    if padding == "SAME":
        return -(-out_size // stride)
    return (out_size - kernel + stride) // stride


def data(rng, shape, dtype="int8") -> np.ndarray:
    """Integers drawn uniformly from dtype's whole range."""
    info = np.iinfo(dtype)
    return rng.integers(info.min, int(info.max) + 1, shape).astype(dtype)


def quant(scale, zero_point=0, axis: int = 0) -> QuantParams:
    return QuantParams(np.atleast_1d(np.asarray(scale, np.float32)),
                       np.atleast_1d(np.asarray(zero_point, np.int64)), axis)


def int8_disagreement(op_type: str, inputs: list, input_quant: list, output_quant: list,
                      attrs: dict | None = None, const: set[int] | None = None,
                      output_dtype: str = "int8", reference: bool = True) -> str:
    """One quantized op: inputs are integer arrays with their params (None for non-quantized
    inputs such as int32 shapes). "" when our int8 kernel (run through the interpreter's
    dispatch) equals LiteRT's reference kernel on every element; else how many differ."""
    return _int8_check(op_type, inputs, input_quant, output_quant, attrs, const, output_dtype,
                       reference)[1]


def compare_int8_with_litert(op_type: str, inputs: list, input_quant: list, output_quant: list,
                             attrs: dict | None = None, const: set[int] | None = None,
                             output_dtype: str = "int8", reference: bool = True) -> list[np.ndarray]:
    """Asserts int8_disagreement is empty; returns LiteRT's outputs."""
    theirs, problem = _int8_check(op_type, inputs, input_quant, output_quant, attrs, const,
                                  output_dtype, reference)
    assert not problem, problem
    return theirs


def int8_graph(op_type: str, inputs: list, input_quant: list, output_quant: list,
               attrs: dict | None = None, const: set[int] | None = None,
               output_dtype: str = "int8") -> Graph:
    """one_op_graph with quantization params on its inputs (None: left unquantized) and on its
    len(output_quant) outputs, which become `output_dtype` (those with None keep theirs)."""
    g = one_op_graph(op_type, inputs, attrs, len(output_quant), const)
    for i, q in enumerate(input_quant):
        if q is not None and inputs[i] is not None:
            g.tensors[f"in{i}"].quant = q
    for i, q in enumerate(output_quant):
        t = g.tensors[f"out{i}"]
        t.quant, t.dtype = q, (output_dtype if q is not None else t.dtype)
    return g


def run_int8_ours(g: Graph, inputs: list) -> list[np.ndarray]:
    """Our interpreter's outputs for a one_op_graph/int8_graph fed `inputs` (by in{i} name)."""
    from toco_py.interpreter import Interpreter

    ours = Interpreter(g).run({n: np.asarray(inputs[int(n[2:])]) for n in g.inputs})
    return [ours[name] for name in g.outputs]


def _int8_check(op_type, inputs, input_quant, output_quant, attrs, const, output_dtype, reference):
    g = int8_graph(op_type, inputs, input_quant, output_quant, attrs, const, output_dtype)
    theirs = run_one_op(g, inputs, len(output_quant), reference)
    ours = run_int8_ours(g, inputs)  # one array per graph output, as LiteRT's
    for i, (got, want) in enumerate(zip(ours, theirs, strict=True)):
        inferred = _inferred_shape(g, i)
        problem = _layout_problem(op_type, i, got, want, inferred)
        if problem:
            return theirs, problem
        diff = np.abs(got.astype(np.int64) - want.astype(np.int64))
        if diff.max(initial=0):
            return theirs, (f"{op_type}: {int((diff > 0).sum())} of {diff.size} elements differ, "
                            f"max {diff.max()}")
    return theirs, ""
