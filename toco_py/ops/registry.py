"""One definition per IR op: shape inference, float kernel and, where quantizable, int8 kernel.

The same definitions serve constant folding, calibration and the reference interpreter.
Kernels take the op and its input arrays (None for an absent optional input) and return
one array or a tuple of arrays. Shape inference takes the op and its input Tensors (whose
`data` is set when constant) and returns (shape, dtype) for each output.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from ..errors import ConversionError
from ..ir import SIDE_EFFECT_TYPES

# OpDef.ulps of transcendental functions.
APPROXIMATED = 4.0

# What an op is, for the passes, the quantizer, the planner and the target tables, which read
# these from the registry instead of keeping op lists of their own (register() rejects a name
# not listed here, so a misspelt trait fails at import).
TRAITS = {
    "broadcasting": "numpy-broadcasts its inputs to the output shape (remove_tile)",
    "fused_activation": "its TFLite kernel applies the fused_activation_function option "
                        "(fuse_activation)",
    "affine": "output = weights x input + bias per output channel: a following per-channel "
              "scale or shift folds into its weights and bias (passes/affine.py)",
    "elementwise": "a unary op whose output element i is a function of input element i alone "
                   "(broadcasting ops are element-wise too): it commutes with a TRANSPOSE "
                   "(sink_transpose)",
    "zero_fill": "its int8 kernel writes the raw integer 0 where no input value lands: its int8 "
                 "output (and so, with shared_params, its inputs) gets a zero point of 0",
    "moves_data": "int8 output values are input values moved, picked or averaged: the "
                  "output keeps the input's quantization parameters",
    "shared_params": "int8 inputs must all carry the output's quantization parameters",
    "float_in_int8": "TensorFlow's converter keeps it in float in a full-integer model (the "
                     "int8 quantizer does too, and uses its int8 kernel only for --int8_only)",
    "in_place": "the output may share its input's buffer (the C bundle's planner)",
    "shape_only": "reads only its first input's shape, never its values",
    "value_shaped": "the size of an output depends on the input values, not only their shapes: "
                    "its shape holds -1 that the runtime sets at every run, and so may the "
                    "shapes of the ops after it (require_static_shapes, the C planner)",
    "control_flow": "a TF1 control-flow op: left after the passes, its predicate was not "
                    "constant",
    "runs_model": "its kernel runs other subgraphs of the model or reaches its resource "
                  "variables: kernel(op, model, *arrays), model the interpreter's "
                  "interpreter.Model (IF, WHILE, CALL_ONCE, the variable ops); its shape rule "
                  "gets its graph too: infer(op, graph, *tensors)",
    "side_effects": "it changes the model's state (a resource variable, the initializers "
                    "run): kept though nothing reads its outputs (Graph.remove_dead)",
    "updates_variables": "it also writes the variable tensors among its inputs (Tensor.variable, "
                         "TFLite's is_variable: an LSTM's state): its kernels return their new "
                         "values after its outputs, in input order, and the interpreter keeps "
                         "them from one run to the next",
    "tflm": "TensorFlow Lite Micro registers a kernel for it (targets.TFLM_VERSION)",
}

InferFn = Callable[..., "tuple | list"]
KernelFn = Callable[..., "object"]


@dataclass(frozen=True)
class OpDef:
    type: str
    infer: InferFn
    kernel: KernelFn | None
    # False for converter-only ops that passes must remove or lower before writing.
    builtin: bool = True
    int8_kernel: KernelFn | None = None
    # False for ops whose value changes from run to run (random draws): never folded.
    foldable: bool = True
    # Facts the float tolerance policy (toco_py/tolerance.py) reads. sum_length(op, *arrays):
    # how many terms each output element sums (None: one; float32 rounding of a sum grows
    # with its length).
    sum_length: Callable[..., int] | None = None
    # "sum" when the kernel run on the inputs' squares (no fused activation) gives each
    # output's sum of squared terms (multilinear ops: conv, FC, SUM), "mean" when it gives their
    # mean (MEAN, AVERAGE_POOL_2D): how far the partial sums can wander, and so how large their
    # rounding can be; or a function (op, *arrays) giving that sum for ops whose kernels add
    # terms that may cancel (GELU). None: the output's own magnitude is that scale.
    squares: str | Callable[..., object] | None = None
    # How many float32 ulps of its result an implementation may be off by: 1 for what IEEE
    # arithmetic rounds; more for transcendental functions, which vectorized libraries
    # (Eigen, oneDNN, XNNPACK) approximate by polynomials to a few ulps; 0 for an op whose
    # results are values it was given, exactly (DENSIFY).
    ulps: float = 1.0
    # The kernel reproduces the runtime's float32 arithmetic step by step (QUANTIZE): a
    # float64 run of the model feeds it float32 values.
    float32_only: bool = False
    # TRAITS names.
    traits: frozenset[str] = frozenset()
    # (input index, channel axis) of the weights int8 quantizes per channel.
    weight_axis: tuple[int, int] | None = None
    # (scale, zero point) the int8 kernel requires of its output.
    int8_output: tuple[float, int] | None = None
    # The dynamic-range kernel (int8 weights, float activations): kernel(op, graph, *arrays).
    hybrid_kernel: KernelFn | None = None
    # observed(op, *arrays) -> {name: values}: values the op computes inside itself that
    # calibration must see, by the name their range goes under (an LSTM's every step).
    observed: Callable[..., dict] | None = None
    # The 16x8 kernel (int16 activations, int8 weights), as int8_kernel: LiteRT runs the op in
    # 16x8 exactly when it has one, so the int16x8 quantizer reads it as that fact.
    int16_kernel: KernelFn | None = None
    # (scale, zero point) the 16x8 kernel requires of its output.
    int16_output: tuple[float, int] | None = None
    # The 16x8 kernel compares its inputs' raw integers whatever their scales (LiteRT's int16
    # LESS, GREATER ...): the quantizer gives them one set of params.
    int16_shared_inputs: bool = False


REGISTRY: dict[str, OpDef] = {}
# Custom ops the interpreter runs, by custom code (ops/custom.py). In the IR they stay CUSTOM
# ops (attrs custom_code, custom_options), so the writer writes them back as they were read.
CUSTOM_OPS: dict[str, OpDef] = {}
# types_with's answers, by trait.
_TYPES_WITH: dict[str, tuple[str, ...]] = {}


def register(type_: str, *, infer: InferFn, kernel: KernelFn | None = None,
             builtin: bool = True, int8_kernel: KernelFn | None = None,
             foldable: bool = True, sum_length: Callable[..., int] | None = None,
             squares: str | Callable[..., object] | None = None, ulps: float = 1.0,
             float32_only: bool = False, traits: Iterable[str] = (),
             weight_axis: tuple[int, int] | None = None,
             int8_output: tuple[float, int] | None = None,
             observed: Callable[..., dict] | None = None) -> OpDef:
    if type_ in REGISTRY:
        raise ValueError(f"op {type_} is defined twice")
    _TYPES_WITH.clear()
    REGISTRY[type_] = OpDef(type_, infer, kernel, builtin, int8_kernel, foldable, sum_length,
                            squares, ulps, float32_only, _known_traits(type_, traits),
                            weight_axis, int8_output, observed=observed)
    if "side_effects" in REGISTRY[type_].traits:
        SIDE_EFFECT_TYPES.add(type_)
    return REGISTRY[type_]


def _known_traits(type_: str, traits: Iterable[str]) -> frozenset[str]:
    unknown = set(traits) - TRAITS.keys()
    if unknown:
        raise ValueError(f"op {type_}: unknown traits {sorted(unknown)}; see registry.TRAITS")
    return frozenset(traits)


def register_custom(code: str, *, infer: InferFn, kernel: KernelFn,
                    sum_length: Callable[..., int] | None = None, squares: str | None = None) -> OpDef:
    """Defines the custom op `code` (a CUSTOM op whose custom_code is `code`): its shape rule
    and float kernel, which read the op's custom_options from its attrs."""
    if code in CUSTOM_OPS:
        raise ValueError(f"custom op {code} is defined twice")
    CUSTOM_OPS[code] = OpDef(code, infer, kernel, builtin=False, foldable=False,
                             sum_length=sum_length, squares=squares)
    return CUSTOM_OPS[code]


def definition(op) -> OpDef | None:
    """The definition of an op: its type's, or for a CUSTOM op its custom code's (None for an
    unknown type or a custom op with no definition)."""
    if op.type == "CUSTOM":
        return CUSTOM_OPS.get(op.attrs.get("custom_code", ""))
    return REGISTRY.get(op.type)


def register_int8(type_: str, kernel: KernelFn) -> None:
    """Adds the int8 kernel of an op defined elsewhere: kernel(op, graph, *arrays), where the
    graph gives the tensors' quantization parameters."""
    REGISTRY[type_] = replace(get(type_), int8_kernel=kernel)


def register_int16(type_: str, kernel: KernelFn, output: tuple[float, int] | None = None,
                   shared_inputs: bool = False) -> None:
    """Adds the 16x8 kernel of an op defined elsewhere (see OpDef.int16_kernel), with the
    (scale, zero point) it requires of its output, if any, and whether its inputs must share
    params (OpDef.int16_shared_inputs)."""
    REGISTRY[type_] = replace(get(type_), int16_kernel=kernel, int16_output=output,
                              int16_shared_inputs=shared_inputs)


def register_hybrid(type_: str, kernel: KernelFn) -> None:
    """Adds the dynamic-range kernel of an op defined elsewhere (see OpDef.hybrid_kernel)."""
    REGISTRY[type_] = replace(get(type_), hybrid_kernel=kernel)


def has_trait(type_: str, trait: str) -> bool:
    """Whether ops of this type have the trait (False for a type with no definition)."""
    if trait not in TRAITS:
        raise ValueError(f"unknown trait {trait!r}; see registry.TRAITS")
    opdef = REGISTRY.get(type_)
    return opdef is not None and trait in opdef.traits


def types_with(trait: str) -> tuple[str, ...]:
    """Every op type with the trait, in registration order (computed once per trait: passes
    ask at every op of every sweep; register() forgets the answers)."""
    if trait not in _TYPES_WITH:
        _TYPES_WITH[trait] = tuple(t for t in REGISTRY if has_trait(t, trait))
    return _TYPES_WITH[trait]



def get(type_: str) -> OpDef:
    try:
        return REGISTRY[type_]
    except KeyError:
        raise ConversionError(f"no definition for op type {type_}") from None


def multiply_accumulates(graph, op) -> int:
    """A weighted op's multiply-accumulates (weight_axis): each output element sums one weight
    per input element it reads, weight elements / output channels of them (0 for other ops
    and unknown shapes)."""
    axis = REGISTRY[op.type].weight_axis if op.type in REGISTRY else None
    weights = graph.tensors[op.inputs[axis[0]]] if axis and len(op.inputs) > axis[0] else None
    out = graph.tensors[op.outputs[0]] if op.outputs else None
    if weights is None or weights.shape is None or out is None or out.shape is None or -1 in out.shape:
        return 0
    channels = weights.shape[axis[1]] or 1
    return math.prod(out.shape) * math.prod(weights.shape) // channels
