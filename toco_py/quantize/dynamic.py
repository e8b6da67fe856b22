"""Dynamic-range quantization: int8 weights for the ops LiteRT has hybrid kernels for; the
activations stay float and the runtime quantizes them on the fly."""
from __future__ import annotations

from ..ir import Graph, Tensor
from ..ops import REGISTRY
from .params import quantize_symmetric
from .weight_ranges import weight_params

# op -> (weight input index, channel axis): the ops with hybrid kernels.
WEIGHT_OPS = {t: d.weight_axis for t, d in REGISTRY.items() if d.hybrid_kernel is not None}
MIN_ELEMENTS = 1024  # as TensorFlow's converter: small weights stay float


def quantize_dynamic(graph: Graph, shared_scales: frozenset[str] = frozenset()) -> int:
    """Returns how many weight tensors were quantized. shared_scales: the weights whose
    channels share one scale (clustered as a whole: weight_params)."""
    done: set[str] = set()
    for op in graph.ops:
        spec = WEIGHT_OPS.get(op.type)
        if spec is None or len(op.inputs) <= spec[0]:
            continue
        index, axis = spec
        name = op.inputs[index]
        t = graph.tensors[name]
        if name in done or not t.is_const or t.dtype != "float32" or t.size < MIN_ELEMENTS:
            continue
        if len(graph.consumers(name)) > 1 and any(u.type not in WEIGHT_OPS for u in graph.consumers(name)):
            continue  # shared with an op that needs the float weights
        params = weight_params(t.data, axis, shared=name in shared_scales)
        data = quantize_symmetric(t.data, params)
        graph.tensors[name] = Tensor(name, t.shape, "int8", data, params, sparsity=t.sparsity)
        done.add(name)
        if op.type == "FULLY_CONNECTED":
            op.attrs["asymmetric_quantize_inputs"] = True
    return len(done)
