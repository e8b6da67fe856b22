"""Pruned weights stored sparse (TFLite's SparsityParameters, tflite/sparsity.py) where that
makes the file smaller, after quantization has settled their dtype.

The layout is TensorFlow's converter's (tflite/sparsity.tf_format): every dimension DENSE but
the last, SPARSE_CSR, with the smallest index types that fit. A weight pruned in 1xB runs
(--prune_block) whose last dimension B divides is also tried in 1xB blocks, which store one
index per run instead of one per value; the smaller form wins. An FC whose layout LiteRT's
FULLY_CONNECTED reads itself (float32 unblocked or 1x4: sparsity.fc_reads_directly) takes it
so; any other reader gets a DENSIFY in front when the model is written. int8 FC weights stay
dense (see _smallest_format).
(passes/densify.insert_densify). A float16 weight is the constant its DEQUANTIZE reads.
"""
from __future__ import annotations

from ..ir import Graph, Tensor
from ..tflite.sparsity import SparseFormat, fc_reads_directly, stored_bytes, tf_format
from .prune import prunable

# What storing a tensor sparse adds to the file beyond its values and indices, measured on
# the digits CNN's pruned weights: the SparsityParameters tables (117-133 bytes where the FC
# reads them itself), and with a DENSIFY op and its output tensor, 236-265 bytes.
TABLES_BYTES = 144
DENSIFY_BYTES = 272


def store_pruned_sparse(graph: Graph, block: int = 1) -> str:
    """Marks each prunable op's weights sparse (Tensor.sparsity) where the sparse form is
    smaller; returns a note with the bytes it saves."""
    dense = stored = count = 0
    for g in graph.subgraphs or [graph]:
        for t in _weights(g):
            choice = _smallest_format(g, t, block)
            if choice is None:
                continue
            fmt, size = choice
            t.sparsity = fmt
            dense, stored, count = dense + t.data.nbytes, stored + size, count + 1
    if not count:
        return "--prune: no pruned weight is smaller stored sparse (kept dense)"
    return (f"--prune: {count} weight tensors stored sparse, {stored:,} bytes of values and indices "
            f"for {dense:,} dense")


def _weights(g: Graph) -> list[Tensor]:
    """The constant weights of the prunable ops, once each: a DEQUANTIZE's constant input
    where the weight is dequantized (float16)."""
    found: dict[str, Tensor] = {}
    for op in g.ops:
        index = prunable(op)
        if index is None or index >= len(op.inputs) or not op.inputs[index]:
            continue
        name = op.inputs[index]
        producer = g.producer(name)
        if producer is not None and producer.type == "DEQUANTIZE":
            name = producer.inputs[0]
        t = g.tensors[name]
        if t.data is not None and t.sparsity is None and t.data.ndim >= 2:
            found[name] = t
    return list(found.values())


def _smallest_format(g: Graph, t: Tensor, block: int) -> tuple[SparseFormat, int] | None:
    """The layout (unblocked, or 1 x block on the last dimension) storing the tensor in fewest
    bytes, with that size, if it beats dense once its tables (and DENSIFY) are counted."""
    data = t.data
    candidates = [tf_format(data.ndim)]
    if block > 1 and data.shape[-1] % block == 0:
        candidates.append(tf_format(data.ndim, (1,) * (data.ndim - 1) + (block,)))
    if t.dtype == "int8" and any(op.type == "FULLY_CONNECTED" for op in g.consumers(t.name)):
        # LiteRT's 1x16 sparse int8 kernel (run even under the reference resolver) gave 2 of 10
        # digits_cnn outputs one step off its dense kernel, which ours follows; behind a DENSIFY,
        # its default XNNPACK delegate refuses the FC ("failed to prepare"): no phone loads it.
        return None
    sizes = [(stored_bytes(data, fmt) + (TABLES_BYTES if _read_directly(g, t, fmt) else DENSIFY_BYTES), k)
             for k, fmt in enumerate(candidates)]
    size, k = min(sizes)
    if size >= data.nbytes:
        return None
    return candidates[k], stored_bytes(data, candidates[k])


def _read_directly(g: Graph, t: Tensor, fmt: SparseFormat) -> bool:
    """Whether every reader is a FULLY_CONNECTED taking the layout itself, with no DENSIFY."""
    readers = g.consumers(t.name)
    return bool(readers) and all(op.type == "FULLY_CONNECTED" and op.inputs[1] == t.name
                                 and fc_reads_directly(fmt, t.dtype, g.tensors[op.inputs[0]].dtype)
                                 for op in readers)
